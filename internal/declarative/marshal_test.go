package declarative

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMarshalGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/kong.export.golden.yml"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal differs from %s (run with -update after reviewing):\n%s", golden, lineDiff(string(want), string(got)))
	}
	if !strings.HasPrefix(string(got), "_format_version: \"3.0\"\n_transform: false\n") {
		t.Errorf("export header: got %q", strings.SplitN(string(got), "\n", 3)[:2])
	}
}

func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + w + "\n  got  " + g + "\n")
		}
	}
	return b.String()
}

func TestMarshalRoundTrip(t *testing.T) {
	sources := map[string]string{}
	data, err := os.ReadFile("testdata/kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	sources["kong.yml"] = string(data)
	sources["generated"] = string(generateConfig(50))
	sources["2.1 regex"] = "_format_version: \"2.1\"\nroutes:\n- name: r\n  paths: [\"/a/\\\\d+\", \"/b\"]\n  headers: {x-v: [\"1\", \"2\"]}\n"
	sources["strings that look like numbers"] = "_format_version: \"3.0\"\nservices:\n- name: \"123\"\n  host: \"true\"\n  tags: [\"1.5\", \"null\", \"~\"]\n"
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			first, err := Parse([]byte(src), testOpts())
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(first)
			if err != nil {
				t.Fatal(err)
			}
			second, err := Parse(out, testOpts())
			if err != nil {
				t.Fatalf("Parse(Marshal(cfg)): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(first, second) {
				for _, diff := range configDiff(first, second) {
					t.Error(diff)
				}
			}
			again, err := Marshal(second)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, again) {
				t.Errorf("Marshal is not stable:\n%s", lineDiff(string(out), string(again)))
			}
		})
	}
}

// configDiff names the entities that differ between two configs.
func configDiff(a, b *model.Config) []string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		fa, fb := va.Field(i), vb.Field(i)
		name := va.Type().Field(i).Name
		if fa.Len() != fb.Len() {
			out = append(out, name+": got "+strconv.Itoa(fb.Len())+" entities; want "+strconv.Itoa(fa.Len()))
			continue
		}
		for j := 0; j < fa.Len(); j++ {
			if !reflect.DeepEqual(fa.Index(j).Interface(), fb.Index(j).Interface()) {
				out = append(out, name+"["+strconv.Itoa(j)+"]: got "+mustJSONString(fb.Index(j).Interface())+"; want "+mustJSONString(fa.Index(j).Interface()))
			}
		}
	}
	return out
}

func TestMarshalEmptyAndHash(t *testing.T) {
	out, err := Marshal(&model.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "_format_version: \"3.0\"\n_transform: false\n"; got != want {
		t.Errorf("empty export: got %q; want %q", got, want)
	}
	cfg, err := Parse(out, nil)
	if err != nil {
		t.Fatalf("empty export does not parse: %v", err)
	}
	if len(cfg.Services)+len(cfg.Routes) != 0 {
		t.Errorf("empty export parsed to %+v", cfg)
	}
	// Hash is Kong's md5 of the text: known vector.
	if got := Hash([]byte("")); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("Hash(empty): got %s", got)
	}
	if Hash([]byte("a: 1")) == Hash([]byte("a: 2")) {
		t.Error("Hash does not depend on the content")
	}
	h1, err := ConfigHash(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h1 != Hash(out) {
		t.Errorf("ConfigHash: got %s; want Hash(Marshal(cfg)) %s", h1, Hash(out))
	}
}
