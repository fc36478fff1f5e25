package grpcjson

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// compileForTest compiles a file of testdata on its own.
func compileForTest(path string) (protoreflect.FileDescriptor, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{filepath.Dir(path)}})}
	files, err := c.Compile(context.Background(), filepath.Base(path))
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

func load(t testing.TB) *Schema {
	t.Helper()
	s, err := Load("testdata/shop.proto")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	s := load(t)
	tests := []struct {
		method, path string
		want         string // template matched
		vars         map[string]string
		err          string
	}{
		{"GET", "/v1/greet/ann", "/v1/greet/{greeting}", map[string]string{"greeting": "ann"}, ""},
		{"get", "/v1/greet/legacy/a/b", "/v1/greet/legacy/{greeting=**}", map[string]string{"greeting": "a/b"}, ""},
		{"PUT", "/v1/items/7/names/x", "/v1/items/{item.id}/{name=names/*}", map[string]string{"item.id": "7", "name": "names/x"}, ""},
		{"GET", "/v1/greet/ann/more", "", nil, `Unknown path "/v1/greet/ann/more"`},
		// Only one level of additional bindings is read, as Kong reads it.
		{"POST", "/v1/greet/too/deep", "", nil, `Unknown path "/v1/greet/too/deep"`},
		{"PATCH", "/v1/echo", "", nil, `Unknown method "patch"`},
	}
	for _, tt := range tests {
		r, vars, err := s.Match(tt.method, tt.path)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s %s: error %v; want %q", tt.method, tt.path, err, tt.err)
			}
			continue
		}
		if err != nil || r.Template != tt.want || !reflect.DeepEqual(vars, tt.vars) {
			t.Errorf("%s %s: %v %v %v; want %s %v", tt.method, tt.path, r, vars, err, tt.want, tt.vars)
		}
	}
	if m := s.Methods["/shop.Greeter/Plain"]; m == nil || m.Input.FullName() != "shop.HelloRequest" {
		t.Errorf("a method without a rule is still known by its gRPC path: %v", m)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata/absent.proto"); err == nil {
		t.Fatal("a missing file loaded")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.proto")
	if err := os.WriteFile(bad, []byte("syntax = \"proto3\";\nmessage M { strin x = 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.proto") {
		t.Fatalf("a file that does not compile: %v", err)
	}
}

// roundTrip builds the request for a call and decodes the frame back as
// the upstream's answer would be (the Echo method answers what it gets).
func roundTrip(t *testing.T, s *Schema, method, path, query, body string) (string, error) {
	t.Helper()
	r, vars, err := s.Match(method, path)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := r.Request(vars, ParseQuery(query), []byte(body))
	if err != nil {
		return "", err
	}
	msg, rest, ok := NextFrame(frame)
	if !ok || len(rest) != 0 {
		t.Fatalf("frame %x is not one whole frame", frame)
	}
	out, err := AppendJSON(nil, r.Method.Output, msg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), nil
}

func TestRequestAndResponse(t *testing.T) {
	s := load(t)
	defaults := `"name":"","count":0,"big":0,"small":0,"ratio":0,"f":0,"on":false,"raw":"","color":"COLOR_UNSPECIFIED","tags":[],"scores":{}`
	tests := []struct {
		name, method, path string
		query              string
		body               string
		want               string
	}{
		{"defaults written, absent messages left out", "POST", "/v1/echo", "", `{}`, `{` + defaults + `,"items":[]}`},
		{"every kind", "POST", "/v1/echo", "",
			`{"name":"a/b","count":-3,"big":"9007199254740993","small":7,"ratio":0.5,"f":1.5,"on":true,"raw":"\u0001x","color":"GREEN",
			  "tags":["x","y"],"scores":{"b":2,"a":1},"item":{"id":4,"label":"l"},"items":[{"id":1},{"label":"z"}],
			  "when":"2024-02-03T04:05:06Z","note":"","number":9,"unknown":{"ignored":true}}`,
			`{"name":"a\/b","count":-3,"big":9.007199254741e+15,"small":7,"ratio":0.5,"f":1.5,"on":true,"raw":"\u0001x","color":"GREEN",` +
				`"tags":["x","y"],"scores":{"a":1,"b":2},"item":{"id":4,"label":"l"},"items":[{"id":1,"label":""},{"id":0,"label":"z"}],` +
				`"when":"2024-02-03T04:05:06","note":"","number":9}`},
		{"time without zone, enum by number", "POST", "/v1/echo", "", `{"when":"2024-02-03T04:05:06","color":1}`,
			`{` + strings.Replace(defaults, `"COLOR_UNSPECIFIED"`, `"RED"`, 1) + `,"items":[],"when":"2024-02-03T04:05:06"}`},
		{"query arguments: nested, typed, unknown dropped", "GET", "/v1/echo/n1",
			"count=12&on=false&item.id=3&item.label=q&tags=a&tags=b&nope=1&item.nope.x=1&count.x=1",
			"", `{"name":"n1","count":12,"big":0,"small":0,"ratio":0,"f":0,"on":false,"raw":"","color":"COLOR_UNSPECIFIED","tags":["a","b"],"scores":{},"item":{"id":3,"label":"q"},"items":[]}`},
		{"body field and nested path variable", "PUT", "/v1/items/5/names/x", "", `{"label":"from body"}`,
			`{"name":"names\/x","count":0,"big":0,"small":0,"ratio":0,"f":0,"on":false,"raw":"","color":"COLOR_UNSPECIFIED","tags":[],"scores":{},"item":{"id":0,"label":"from body"},"items":[]}`},
	}
	for _, tt := range tests {
		got, err := roundTrip(t, s, tt.method, tt.path, tt.query, tt.body)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
		var v any
		if err := json.Unmarshal([]byte(got), &v); err != nil {
			t.Errorf("%s: not JSON: %v", tt.name, err)
		}
	}
}

func TestBoolQueryArguments(t *testing.T) {
	s := load(t)
	for arg, want := range map[string]bool{"true": true, "1": true, "yes": true, "false": false, "0": false} {
		got, err := roundTrip(t, s, "GET", "/v1/echo/x", "on="+arg, "")
		if err != nil || !strings.Contains(got, `"on":`+map[bool]string{true: "true", false: "false"}[want]) {
			t.Errorf("on=%s: %s %v; want %v", arg, got, err, want)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	s := load(t)
	tests := []struct {
		body, want string
	}{
		{`{"name":"invalid}`, `decode json err: Expected value but found unexpected end of string at character 18`},
		{`{"name":1}`, `failed to encode payload`},
		{`{"name":null}`, `failed to encode payload`},
		{`{"count":1.5}`, `failed to encode payload`},
		{`{"count":"x"}`, `failed to encode payload`},
		{`{"color":"BLUE"}`, `failed to encode payload`},
		{`{"item":3}`, `failed to encode payload`},
		{`{"tags":"x","x":1}`, ``}, // one string for a repeated field is a list of one
		{`{"when":5}`, `failed to encode payload`},
		{`{"when":"yesterday"}`, `failed to encode payload`},
		{`"text"`, `body must be a table`},
		{`[1,2]`, ``},
		{`{"a":1,}`, `decode json err: Expected object key string but found T_OBJ_END at character 8`},
		{`{"a" 1}`, `decode json err: Expected colon but found T_NUMBER at character 6`},
		{`{"a":1 "b":2}`, `decode json err: Expected comma or object end but found T_STRING at character 8`},
		{`[1 2]`, `decode json err: Expected comma or array end but found T_NUMBER at character 4`},
		{`{} x`, `decode json err: Expected the end but found invalid token at character 4`},
		{`{"a":tru}`, `decode json err: Expected value but found invalid token at character 6`},
		{`{"a":"\q"}`, `decode json err: Expected value but found invalid escape code at character 7`},
		{`{"a":-}`, `decode json err: Expected value but found invalid number at character 6`},
		{`   `, `decode json err: Expected value but found T_END at character 4`},
	}
	for _, tt := range tests {
		_, err := roundTrip(t, s, "POST", "/v1/echo", "", tt.body)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("body %s: error %q; want %q", tt.body, got, tt.want)
		}
	}
}

func TestNextFrame(t *testing.T) {
	f := Frame(Frame(nil, []byte("ab")), nil)
	msg, rest, ok := NextFrame(f)
	if !ok || string(msg) != "ab" {
		t.Fatalf("first frame: %q %v", msg, ok)
	}
	msg, rest, ok = NextFrame(rest)
	if !ok || len(msg) != 0 || len(rest) != 0 {
		t.Fatalf("an empty message is a whole frame: %q %q %v", msg, rest, ok)
	}
	if _, _, ok := NextFrame(f[:6]); ok {
		t.Fatal("a partial frame was taken whole")
	}
}

func TestAppendNumberAndString(t *testing.T) {
	for f, want := range map[float64]string{4: "4", 0.1: "0.1", 1.0 / 3: "0.33333333333333", 1e20: "1e+20", 123456789012: "123456789012", -2.5e-7: "-2.5e-07"} {
		if got := string(appendNumber(nil, f)); got != want {
			t.Errorf("%v: %s; want %s", f, got, want)
		}
	}
	if got := string(appendString(nil, "a\"\\/\n\x01\x7fé")); got != `"a\"\\\/\n\u0001\u007fé"` {
		t.Errorf("string: %s", got)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, `[`, `"x`, `{"a":1,}`, `-1.5e3`, `tru`, `0x1f`, `[1e400]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeJSON(b)
		if err != nil {
			if !strings.Contains(err.Error(), " at character ") {
				t.Fatalf("error without a position: %v", err)
			}
		}
		// What encoding/json accepts (valid UTF-8, so that both keep the
		// same bytes), cjson accepts too, with the same value.
		if !utf8.Valid(b) || !json.Valid(b) {
			return
		}
		if err != nil && strings.Contains(err.Error(), "invalid unicode escape code") {
			return // a lone surrogate escape: cjson refuses it, encoding/json substitutes
		}
		if err != nil {
			t.Fatalf("valid JSON %q refused: %v", b, err)
		}
		var want any
		if err := json.Unmarshal(b, &want); err != nil {
			return // a number out of float64's range
		}
		if got := plain(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v; encoding/json gives %#v", b, got, want)
		}
	})
}

// plain converts a DecodeJSON value to encoding/json's forms.
func plain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	case Number:
		f, _ := strconv.ParseFloat(string(t), 64)
		return f
	case Null:
		return nil
	}
	return v
}

func FuzzRequest(f *testing.F) {
	s := load(f)
	r, vars, err := s.Match("POST", "/v1/echo")
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range []string{`{"name":"x","items":[{"id":1}],"scores":{"a":1},"when":"2024-01-01T00:00:00Z"}`, `{"count":"0x10"}`, `[]`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		frame, err := r.Request(vars, nil, body)
		if err != nil {
			return
		}
		msg, _, ok := NextFrame(frame)
		if !ok {
			t.Fatalf("request %q: frame %x", body, frame)
		}
		out, err := AppendJSON(nil, r.Method.Output, msg)
		if err != nil {
			t.Fatalf("request %q: the message does not decode: %v", body, err)
		}
		if _, err := DecodeJSON(out); err != nil {
			t.Fatalf("answer %s is not JSON: %v", out, err)
		}
	})
}

func TestProto2RequiredNotChecked(t *testing.T) {
	files, err := compileForTest("testdata/legacy.proto")
	if err != nil {
		t.Fatal(err)
	}
	md := files.Messages().ByName("Thing")
	wire, err := Encode(md, map[string]any{"size": Number("3")})
	if err != nil {
		t.Fatalf("a message without its required field does not encode: %v", err)
	}
	out, err := AppendJSON(nil, md, wire)
	if err != nil || string(out) != `{"size":3}` {
		t.Fatalf("%s, %v; want {\"size\":3} (proto2 fields only when set)", out, err)
	}
}

func TestOneofAndQueryOrderAreStable(t *testing.T) {
	s := load(t)
	for range 50 {
		got, err := roundTrip(t, s, "POST", "/v1/echo", "", `{"word":"a","number":9}`)
		if err != nil || !strings.Contains(got, `"number":9`) || strings.Contains(got, `"word"`) {
			t.Fatalf("%s %v; want the later oneof field", got, err)
		}
		got, err = roundTrip(t, s, "GET", "/v1/echo/n", "item=x&item.id=1", "")
		if err != nil || !strings.Contains(got, `"item":{"id":1,"label":""}`) {
			t.Fatalf("%s %v", got, err)
		}
	}
}

func TestParseQuery(t *testing.T) {
	got := ParseQuery("a=1&b&c=x+y%21&a=2&=z&&d=")
	want := map[string]any{"a": []any{"1", "2"}, "b": true, "c": "x y!", "d": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%#v; want %#v", got, want)
	}
	s := load(t)
	if _, err := roundTrip(t, s, "GET", "/v1/echo/n", "name", ""); err == nil || err.Error() != "failed to encode payload" {
		t.Fatalf("a bare argument for a string field: %v; want Kong's encode failure", err)
	}
	if got, err := roundTrip(t, s, "GET", "/v1/echo/n", "on", ""); err != nil || !strings.Contains(got, `"on":true`) {
		t.Fatalf("a bare argument for a boolean: %s %v", got, err)
	}
}

func TestCJSONNumbers(t *testing.T) {
	s := load(t)
	got, err := roundTrip(t, s, "POST", "/v1/echo", "", `{"count":0x10,"small":+3,"big":010,"ratio":-Infinity,"f":nan}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"count":16`, `"small":3`, `"big":10`, `"ratio":null`, `"f":null`} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
}

func TestFrames(t *testing.T) {
	var stream []byte
	var want []string
	for i := range 40 {
		m := strings.Repeat(string(rune('a'+i%26)), i*97)
		stream = Frame(stream, []byte(m))
		want = append(want, m)
	}
	stream = append(stream, 0, 0, 0) // a partial header left at the end
	for _, size := range []int{1, 3, 5, 64, 4096, len(stream)} {
		var f Frames
		var got []string
		for off := 0; off < len(stream); off += size {
			f.Add(stream[off:min(off+size, len(stream))])
			for {
				msg, ok, tooBig := f.Next()
				if tooBig {
					t.Fatal("tooBig on a small frame")
				}
				if !ok {
					break
				}
				got = append(got, string(msg))
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of %d: %d messages; want %d", size, len(got), len(want))
		}
		if rest := f.Rest(); len(rest) != 3 {
			t.Fatalf("chunks of %d: rest %x", size, rest)
		}
	}
	var f Frames
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	if _, ok, tooBig := f.Next(); ok || !tooBig {
		t.Fatal("a 4 GiB frame header was not refused")
	}
}
