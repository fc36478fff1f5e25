package requesttransformer

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *Transformer {
	t.Helper()
	return proxytest.Instance[*Transformer](t, Schema, New, cfg)
}

type reqSpec struct {
	method, target, ctype, body string
	headers                     map[string]string
}

type want struct {
	method, path, query, body, host string            // host: UpstreamHost
	headers                         map[string]string // "" = absent
	multi                           map[string][]string
}

func run(t *testing.T, cfg string, in reqSpec, w want, captures map[string]string) {
	t.Helper()
	p := build(t, cfg)
	method := in.method
	if method == "" {
		method = "GET"
	}
	var body io.Reader
	if in.body != "" {
		body = strings.NewReader(in.body)
	}
	r := httptest.NewRequest(method, in.target, body)
	if in.ctype != "" {
		r.Header.Set("Content-Type", in.ctype)
	}
	for k, v := range in.headers {
		r.Header.Set(k, v)
	}
	c := &plugin.Ctx{Request: r, Captures: captures}
	p.Access(c)
	if c.Exited() != nil {
		t.Fatalf("request terminated: %+v", c.Exited())
	}
	if w.method != "" && r.Method != w.method {
		t.Errorf("method = %s; want %s", r.Method, w.method)
	}
	if w.path != "" && c.UpstreamPath != w.path {
		t.Errorf("upstream path = %s; want %s", c.UpstreamPath, w.path)
	}
	if r.URL.RawQuery != w.query {
		t.Errorf("query = %q; want %q", r.URL.RawQuery, w.query)
	}
	if c.UpstreamHost() != w.host {
		t.Errorf("upstream host = %q; want %q", c.UpstreamHost(), w.host)
	}
	for k, v := range w.headers {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
	}
	for k, v := range w.multi {
		if got := r.Header.Values(k); strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("header %s = %q; want %q", k, got, v)
		}
	}
	got := ""
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = string(b)
	}
	if got != w.body {
		t.Errorf("body = %s; want %s", got, w.body)
	}
	if w.body != "" && r.ContentLength != int64(len(w.body)) {
		t.Errorf("ContentLength = %d; want %d", r.ContentLength, len(w.body))
	}
}

func TestHeaders(t *testing.T) {
	cfg := `{"remove":{"headers":["x-remove"]},"rename":{"headers":["x-old:x-new"]},
		"replace":{"headers":["x-rep:replaced","x-absent:nope"]},"add":{"headers":["x-add:added","x-keep:ignored"]},
		"append":{"headers":["x-app:two","x-fresh:one"]}}`
	run(t, cfg, reqSpec{target: "/", headers: map[string]string{
		"X-Remove": "1", "X-Old": "moved", "X-Rep": "orig", "X-Keep": "mine", "X-App": "one"}},
		want{headers: map[string]string{"X-Remove": "", "X-Old": "", "X-New": "moved", "X-Rep": "replaced",
			"X-Absent": "", "X-Add": "added", "X-Keep": "mine", "X-Fresh": "one"},
			multi: map[string][]string{"X-App": {"one", "two"}}}, nil)
}

func TestOrderRemoveThenAdd(t *testing.T) {
	// remove runs before add: a header both removed and added ends with the added value.
	run(t, `{"remove":{"headers":["x-a"]},"add":{"headers":["x-a:new"]}}`,
		reqSpec{target: "/", headers: map[string]string{"X-A": "old"}},
		want{headers: map[string]string{"X-A": "new"}}, nil)
	// rename then replace applies to the new name.
	run(t, `{"rename":{"headers":["x-a:x-b"]},"replace":{"headers":["x-b:replaced"]}}`,
		reqSpec{target: "/", headers: map[string]string{"X-A": "v"}},
		want{headers: map[string]string{"X-A": "", "X-B": "replaced"}}, nil)
}

// TestHost follows kong/plugins/request-transformer/access.lua: replace and
// rename to host set the upstream Host (set_headers with host), add and
// append ignore host; the client's Host is left as it was.
func TestHost(t *testing.T) {
	for _, tt := range []struct {
		cfg  string
		in   reqSpec
		host string
	}{
		{`{"replace":{"headers":["host:upstream.example"]},"add":{"headers":["host:ignored"]}}`,
			reqSpec{target: "http://client.example/"}, "upstream.example"},
		{`{"add":{"headers":["host:ignored"]},"append":{"headers":["host:ignored"]}}`,
			reqSpec{target: "http://client.example/"}, ""},
		{`{"rename":{"headers":["x-target:host"]}}`,
			reqSpec{target: "http://client.example/", headers: map[string]string{"X-Target": "renamed.example"}}, "renamed.example"},
		{`{"replace":{"headers":["host:$(headers[\"x-target\"])"]}}`,
			reqSpec{target: "http://client.example/", headers: map[string]string{"X-Target": "tpl.example"}}, "tpl.example"},
	} {
		p := build(t, tt.cfg)
		r := httptest.NewRequest("GET", tt.in.target, nil)
		for k, v := range tt.in.headers {
			r.Header.Set(k, v)
		}
		c := &plugin.Ctx{Request: r}
		p.Access(c)
		if got := c.UpstreamHost(); got != tt.host {
			t.Errorf("%s: upstream host %q; want %q", tt.cfg, got, tt.host)
		}
		if r.Host != "client.example" {
			t.Errorf("%s: client Host changed to %q", tt.cfg, r.Host)
		}
		if _, ok := r.Header["Host"]; ok {
			t.Errorf("%s: Host left in the header map", tt.cfg)
		}
	}
}

func TestQuery(t *testing.T) {
	run(t, `{"remove":{"querystring":["r"]},"rename":{"querystring":["o:n"]},"replace":{"querystring":["p:2","absent:x"]},
		"add":{"querystring":["a:1","p:9"]},"append":{"querystring":["m:b"]}}`,
		reqSpec{target: "/x?r=1&o=v&p=1&m=a"},
		want{query: "a=1&m=a&m=b&n=v&p=2"}, nil)
	run(t, `{"add":{"headers":["x-a:1"]}}`, reqSpec{target: "/x?b=2&a=1"}, want{query: "b=2&a=1", headers: map[string]string{"X-A": "1"}}, nil)
}

func TestJSONBody(t *testing.T) {
	cfg := `{"remove":{"body":["secret"]},"rename":{"body":["old:new"]},"replace":{"body":["n:replaced"]},
		"add":{"body":["added:yes","n:no","f:was-false","z:kept-null"]},"append":{"body":["list:c","scalar:y","fresh:z","num:w"]}}`
	run(t, cfg, reqSpec{method: "POST", target: "/", ctype: "application/json; charset=utf-8",
		body: `{"secret":"s","old":{"k":1},"n":5,"list":["a","b"],"scalar":"x","keep":1.50,"html":"<a&b>","f":false,"z":null,"num":3}`},
		want{body: `{"added":"yes","f":"was-false","fresh":["z"],"html":"<a&b>","keep":1.50,"list":["a","b","c"],"n":"replaced","new":{"k":1},"num":["w"],"scalar":["x","y"],"z":null}`}, nil)
	// add to an empty JSON body creates an object.
	run(t, `{"add":{"body":["a:1"]}}`, reqSpec{method: "POST", target: "/", ctype: "application/json"},
		want{body: `{"a":"1"}`}, nil)
	// a JSON array or invalid JSON is left alone.
	run(t, `{"add":{"body":["a:1"]}}`, reqSpec{method: "POST", target: "/", ctype: "application/json", body: `[1,2]`},
		want{body: `[1,2]`}, nil)
	run(t, `{"add":{"body":["a:1"]}}`, reqSpec{method: "POST", target: "/", ctype: "application/json", body: `{bad`},
		want{body: `{bad`}, nil)
	// other content types are not touched.
	run(t, `{"add":{"body":["a:1"]}}`, reqSpec{method: "POST", target: "/", ctype: "text/plain", body: `hello`},
		want{body: `hello`}, nil)
}

func TestFormBody(t *testing.T) {
	run(t, `{"remove":{"body":["r"]},"rename":{"body":["o:n"]},"add":{"body":["a:1"]},"append":{"body":["m:2"]}}`,
		reqSpec{method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "r=1&o=v&m=1"},
		want{body: "a=1&m=1&m=2&n=v"}, nil)
}

func TestMethod(t *testing.T) {
	run(t, `{"http_method":"PUT"}`, reqSpec{method: "POST", target: "/"}, want{method: "PUT"}, nil)
	// to GET: form arguments move into the query string.
	run(t, `{"http_method":"GET"}`, reqSpec{method: "POST", target: "/?q=1", ctype: "application/x-www-form-urlencoded", body: "f=2&q=3"},
		want{method: "GET", query: "f=2&q=1&q=3", body: "f=2&q=3"}, nil)
}

func TestTemplates(t *testing.T) {
	run(t, `{"add":{"headers":["x-from-header:$(headers.x_src)","x-from-query:$(query_params.id)","x-def:$(query_params.nope or \"dflt\")",
		"x-cap:v=$(uri_captures.version)","x-idx:$(uri_captures[\"1\"])","x-lit:$(os.exit())"]},
		"rename":{"headers":["x-src:x-renamed"]}}`,
		reqSpec{target: "/v2/items?id=42", headers: map[string]string{"X-Src": "original"}},
		want{query: "id=42", headers: map[string]string{
			"X-From-Header": "original", "X-From-Query": "42", "X-Def": "dflt", "X-Cap": "v=v2", "X-Idx": "v2",
			"X-Lit": "$(os.exit())", "X-Renamed": "original", "X-Src": ""}},
		map[string]string{"version": "v2", "1": "v2"})
	run(t, `{"replace":{"uri":"/new/$(uri_captures.id)"}}`, reqSpec{target: "/old/7?x=1"},
		want{path: "/new/7", query: "x=1"}, map[string]string{"id": "7"})
	run(t, `{"replace":{"uri":"/a?b"}}`, reqSpec{target: "/old"}, want{path: "/a%3Fb"}, nil)
}

func TestBodyOverCap(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", BodyCap) + `"}`
	p := build(t, `{"add":{"body":["b:1"]}}`)
	r := httptest.NewRequest("POST", "/", strings.NewReader(big))
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1 // streamed: found over the cap while reading
	p.Access(&plugin.Ctx{Request: r})
	b, err := io.ReadAll(r.Body)
	if err != nil || string(b) != big {
		t.Errorf("body over the cap changed (len %d, err %v); want it untouched (len %d)", len(b), err, len(big))
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	want := `{"add":{"body":[],"headers":[],"querystring":[]},"append":{"body":[],"headers":[],"querystring":[]},"http_method":null,"remove":{"body":[],"headers":[],"querystring":[]},"rename":{"body":[],"headers":[],"querystring":[]},"replace":{"body":[],"headers":[],"querystring":[],"uri":null}}`
	if string(b) != want {
		t.Errorf("defaults = %s; want %s", b, want)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"http_method":"get"}`, "http_method: invalid value: get"},
		{`{"add":{"body":["novalue"]}}`, "key 'novalue' has no value"},
		{`{"add":{"querystring":["k:"]}}`, "key 'k' has no value"},
		{`{"add":{"headers":["novalue"]}}`, "invalid value: novalue"},
		{`{"add":{"headers":["bad header:v"]}}`, "'bad header' is not a valid header"},
		{`{"rename":{"headers":["x-a:bad name"]}}`, "'bad name' is not a valid header"},
		{`{"remove":{"headers":["bad/name"]}}`, "'bad/name' is not a valid header"},
		{`{"add":{"json":["a:b"]}}`, "add.json: unknown field"},
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

func BenchmarkHeaders(b *testing.B) {
	p := build(b, `{"remove":{"headers":["x-a"]},"add":{"headers":["x-b:1"]},"append":{"headers":["x-c:2"]}}`)
	r := httptest.NewRequest("GET", "/", nil)
	c := &plugin.Ctx{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Del("X-B")
		r.Header.Del("X-C")
		p.Access(c)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"add":{"headers":["x:$(headers.y or \"z\")"],"body":["a:b"]},"http_method":"GET"}`)
	f.Add(`{"replace":{"uri":"/$(uri_captures[1])"},"rename":{"querystring":["a:b"]}}`)
	f.Add(`{"remove":{"headers":[":"]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		rec, err := Schema.Process(in, nil)
		if err != nil {
			return
		}
		p, nerr := New(rec, plugin.Deps{})
		if nerr != nil {
			t.Fatalf("New rejected a valid config %s: %v", s, nerr)
		}
		r := httptest.NewRequest("POST", "/?a=1", strings.NewReader(`{"a":1}`))
		r.Header.Set("Content-Type", "application/json")
		p.(*Transformer).Access(&plugin.Ctx{Request: r})
	})
}
