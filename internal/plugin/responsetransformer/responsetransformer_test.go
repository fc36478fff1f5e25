package responsetransformer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *Transformer {
	t.Helper()
	return proxytest.Instance[*Transformer](t, Schema, New, cfg)
}

// respond runs header_filter and body_filter on a response, the body cut in
// chunks of size n.
func respond(p *Transformer, h http.Header, body string, n int) (http.Header, string) {
	c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/", nil), Status: 200, Header: h}
	p.HeaderFilter(c)
	var out bytes.Buffer
	for i := 0; ; i += n {
		end := min(i+n, len(body))
		last := end == len(body)
		out.Write(p.BodyFilter(c, []byte(body[i:end]), last))
		if last {
			break
		}
	}
	return h, out.String()
}

func TestHeaders(t *testing.T) {
	p := build(t, `{"remove":{"headers":["x-remove"]},"rename":{"headers":["x-old:x-new"]},
		"replace":{"headers":["x-rep:replaced","x-absent:nope"]},"add":{"headers":["x-add:added","x-keep:ignored"]},
		"append":{"headers":["x-app:two"]}}`)
	h := http.Header{"X-Remove": {"1"}, "X-Old": {"a", "b"}, "X-Rep": {"orig"}, "X-Keep": {"mine"}, "X-App": {"one"},
		"Content-Type": {"application/json"}, "Content-Length": {"2"}}
	h, body := respond(p, h, `{}`, 10)
	checks := map[string]string{"X-Remove": "", "X-Old": "", "X-Rep": "replaced", "X-Absent": "", "X-Add": "added", "X-Keep": "mine",
		"Content-Length": "2"} // no body transform: length kept
	for k, want := range checks {
		if got := strings.Join(h.Values(k), ","); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if got := h.Values("X-New"); strings.Join(got, ",") != "a,b" {
		t.Errorf("X-New = %q; want [a b]", got)
	}
	if got := h.Values("X-App"); strings.Join(got, ",") != "one,two" {
		t.Errorf("X-App = %q; want [one two]", got)
	}
	if body != `{}` {
		t.Errorf("body = %s; want {} untouched", body)
	}
}

func TestJSONBody(t *testing.T) {
	tests := []struct {
		name, cfg, ctype, body, want string
	}{
		{"all operations", `{"remove":{"json":["secret"]},"rename":{"json":["old:new"]},"replace":{"json":["n:replaced","absent:x"]},
			"add":{"json":["added:yes","n:no"]},"append":{"json":["list:c","str:y","num:z"]}}`,
			"application/json", `{"secret":1,"old":{"k":1},"n":5,"list":["a"],"str":"x","num":7,"big":12345678901234567890}`,
			`{"added":"yes","big":12345678901234567890,"list":["a","c"],"n":"replaced","new":{"k":1},"num":["z"],"str":["x","y"]}`},
		{"json types", `{"add":{"json":["n:42","b:true","s:42","bad:x1"],"json_types":["number","boolean","string","number"]}}`,
			"application/json; charset=utf-8", `{}`, `{"b":true,"n":42,"s":"42"}`},
		{"empty value is the string null (Kong)", `{"add":{"json":["e:","n:"],"json_types":["string","number"]}}`, "application/json", `{}`, `{"e":"null"}`},
		{"add over false (Lua truth)", `{"add":{"json":["f:new","z:new"]}}`, "application/json", `{"f":false,"z":null}`, `{"f":"new","z":null}`},
		{"not json content type", `{"add":{"json":["a:b"]}}`, "text/plain", `{"x":1}`, `{"x":1}`},
		{"invalid json untouched", `{"add":{"json":["a:b"]}}`, "application/json", `{"x":`, `{"x":`},
		{"json array untouched", `{"add":{"json":["a:b"]}}`, "application/json", `[1]`, `[1]`},
		{"html not escaped", `{"add":{"json":["u:http://a/b?c=1&d=<e>"]}}`, "application/json", `{}`, `{"u":"http://a/b?c=1&d=<e>"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{1, 3, 1 << 20} {
				p := build(t, tt.cfg)
				h := http.Header{"Content-Type": {tt.ctype}, "Content-Length": {strconv.Itoa(len(tt.body))}}
				h, got := respond(p, h, tt.body, n)
				if got != tt.want {
					t.Errorf("chunks of %d: body = %s; want %s", n, got, tt.want)
				}
				if isJSON(tt.ctype) && h.Get("Content-Length") != "" {
					t.Errorf("Content-Length kept on a transformed JSON response")
				}
			}
		})
	}
}

func TestBodyOverCap(t *testing.T) {
	p := build(t, `{"add":{"json":["a:b"]}}`)
	big := `{"x":"` + strings.Repeat("y", BodyCap) + `"}`
	_, got := respond(p, http.Header{"Content-Type": {"application/json"}}, big, 64<<10)
	if got != big {
		t.Errorf("body over the cap was changed (len %d; want %d untouched)", len(got), len(big))
	}
}

func TestCompressedUntouched(t *testing.T) {
	p := build(t, `{"add":{"json":["a:b"]}}`)
	_, got := respond(p, http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}, "\x1f\x8bxx", 2)
	if got != "\x1f\x8bxx" {
		t.Errorf("compressed body changed: %q", got)
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	want := `{"add":{"headers":[],"json":[],"json_types":[]},"append":{"headers":[],"json":[],"json_types":[]},"remove":{"headers":[],"json":[]},"rename":{"headers":[],"json":[]},"replace":{"headers":[],"json":[],"json_types":[]}}`
	if string(b) != want {
		t.Errorf("defaults = %s; want %s", b, want)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"add":{"json":["novalue"]}}`, "invalid value: novalue"},
		{`{"add":{"json_types":["integer"]}}`, "expected one of: boolean, number, string"},
		{`{"add":{"headers":["bad header:v"]}}`, "'bad header' is not a valid header"},
		{`{"rename":{"headers":["x-a:bad name"]}}`, "'bad name' is not a valid header"},
		{`{"remove":{"body":["a"]}}`, "remove.body: unknown field"},
	} {
		var in map[string]any
		if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
			t.Fatal(err)
		}
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func BenchmarkJSONBody(b *testing.B) {
	p := build(b, `{"remove":{"json":["a"]},"add":{"json":["b:1"]}}`)
	body := []byte(`{"a":1,"c":"some text","d":[1,2,3]}`)
	b.ReportAllocs()
	for b.Loop() {
		c := &plugin.Ctx{Request: nil, Header: http.Header{"Content-Type": {"application/json"}}}
		p.BodyFilter(c, body, true)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"add":{"json":["a:1"],"json_types":["number"]}}`)
	f.Add(`{"rename":{"headers":["a:b"]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		if rec, err := Schema.Process(in, nil); err == nil {
			if _, nerr := New(rec, plugin.Deps{}); nerr != nil {
				t.Fatal(nerr)
			}
		}
	})
}
