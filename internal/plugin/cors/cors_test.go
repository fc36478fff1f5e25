package cors

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *CORS {
	t.Helper()
	return proxytest.Instance[*CORS](t, Schema, New, cfg)
}

func req(method string, h map[string]string) *http.Request {
	r := httptest.NewRequest(method, "/", nil)
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return r
}

func preflight(origin string, extra map[string]string) map[string]string {
	h := map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name, cfg string
		h         map[string]string
		want      map[string]string // "" means absent
	}{
		{"defaults", `{}`, preflight("http://a.com", nil), map[string]string{
			"Access-Control-Allow-Origin":      "*",
			"Access-Control-Allow-Methods":     "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT",
			"Access-Control-Allow-Headers":     "",
			"Access-Control-Max-Age":           "",
			"Access-Control-Allow-Credentials": "",
			"Vary":                             "",
		}},
		{"echo request headers", `{}`, preflight("http://a.com", map[string]string{"Access-Control-Request-Headers": "X-Foo, X-Bar"}),
			map[string]string{"Access-Control-Allow-Headers": "X-Foo, X-Bar"}},
		{"configured everything", `{"origins":["http://a.com"],"headers":["X-A","X-B"],"methods":["GET","POST"],"max_age":3600,"credentials":true}`,
			preflight("http://other.com", map[string]string{"Access-Control-Request-Headers": "X-Z"}), map[string]string{
				"Access-Control-Allow-Origin":      "http://a.com",
				"Access-Control-Allow-Headers":     "X-A,X-B",
				"Access-Control-Allow-Methods":     "GET,POST",
				"Access-Control-Max-Age":           "3600",
				"Access-Control-Allow-Credentials": "true",
				"Vary":                             "Origin",
			}},
		{"star with credentials echoes origin", `{"origins":["*"],"credentials":true}`, preflight("http://x.org", nil), map[string]string{
			"Access-Control-Allow-Origin":      "http://x.org",
			"Access-Control-Allow-Credentials": "true",
			"Vary":                             "Origin",
		}},
		{"regex origin match", `{"origins":["http://a.com",".*\\.example\\.org"]}`, preflight("https://api.example.org", nil), map[string]string{
			"Access-Control-Allow-Origin": "https://api.example.org",
			"Vary":                        "Origin",
		}},
		{"regex anchored at the end", `{"origins":["http://a.com",".*\\.example\\.org"]}`, preflight("https://api.example.org.evil.com", nil), map[string]string{
			"Access-Control-Allow-Origin": "",
			"Vary":                        "Origin",
		}},
		{"regex with port matches whole domain", `{"origins":["http://b.com","https?://[a-z]+\\.com:8080"]}`, preflight("http://foo.com:8080", nil), map[string]string{
			"Access-Control-Allow-Origin": "http://foo.com:8080",
		}},
		{"plain list normalises default port", `{"origins":["http://a.com","https://b.com:443"]}`, preflight("https://b.com", nil), map[string]string{
			"Access-Control-Allow-Origin": "https://b.com",
		}},
		{"plain list no match", `{"origins":["http://a.com","http://b.com"]}`, preflight("http://c.com", nil), map[string]string{
			"Access-Control-Allow-Origin": "",
			"Vary":                        "Origin",
		}},
		{"private network requested", `{"private_network":true}`, preflight("http://a.com", map[string]string{"Access-Control-Request-Private-Network": "true"}),
			map[string]string{"Access-Control-Allow-Private-Network": "true"}},
		{"private network disabled", `{}`, preflight("http://a.com", map[string]string{"Access-Control-Request-Private-Network": "true"}),
			map[string]string{"Access-Control-Allow-Private-Network": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.cfg)
			c := &plugin.Ctx{Request: req("OPTIONS", tt.h)}
			p.Access(c)
			e := c.Exited()
			if e == nil {
				t.Fatal("preflight was not answered")
			}
			if e.Status != 200 || len(e.Body) != 0 {
				t.Errorf("got %d %q; want 200 with no body", e.Status, e.Body)
			}
			for k, want := range tt.want {
				if got := e.Header.Get(k); got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
		})
	}
}

func TestNotPreflight(t *testing.T) {
	for _, h := range []map[string]string{
		{"Origin": "http://a.com"},               // no Access-Control-Request-Method
		{"Access-Control-Request-Method": "GET"}, // no Origin
	} {
		c := &plugin.Ctx{Request: req("OPTIONS", h)}
		build(t, `{}`).Access(c)
		if c.Exited() != nil {
			t.Errorf("OPTIONS with %v answered by the plugin; want it proxied", h)
		}
	}
	c := &plugin.Ctx{Request: req("OPTIONS", preflight("http://a.com", nil))}
	p := build(t, `{"preflight_continue":true}`)
	p.Access(c)
	if c.Exited() != nil {
		t.Error("preflight_continue: preflight answered by the plugin")
	}
	c.Header = http.Header{}
	p.HeaderFilter(c)
	if len(c.Header) != 0 {
		t.Errorf("preflight_continue: headers added to the upstream's answer: %v", c.Header)
	}
}

func TestHeaderFilter(t *testing.T) {
	tests := []struct {
		name, cfg string
		origin    string
		upstream  http.Header
		want      map[string]string
		wantVary  []string
	}{
		{"defaults", `{}`, "http://a.com", nil, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": ""}, nil},
		{"exposed headers", `{"exposed_headers":["X-A","X-B"]}`, "http://a.com", nil, map[string]string{"Access-Control-Expose-Headers": "X-A,X-B"}, nil},
		{"matching origin", `{"origins":["http://a.com","http://b.com"],"credentials":true}`, "http://b.com", nil,
			map[string]string{"Access-Control-Allow-Origin": "http://b.com", "Access-Control-Allow-Credentials": "true"}, []string{"Origin"}},
		{"upstream ACAO removed when origin not allowed", `{"origins":["http://a.com","http://b.com"]}`, "http://c.com",
			http.Header{"Access-Control-Allow-Origin": {"*"}}, map[string]string{"Access-Control-Allow-Origin": ""}, []string{"Origin"}},
		{"vary appended", `{"origins":["http://a.com"]}`, "http://a.com", http.Header{"Vary": {"Accept-Encoding"}}, nil, []string{"Accept-Encoding", "Origin"}},
		{"vary added even when upstream names origin (Kong)", `{"origins":["http://a.com"]}`, "http://a.com", http.Header{"Vary": {"Accept, origin"}}, nil, []string{"Accept, origin", "Origin"}},
		{"allow_origin_absent false, no origin", `{"allow_origin_absent":false}`, "", nil, map[string]string{"Access-Control-Allow-Origin": ""}, nil},
		{"allow_origin_absent false, with origin", `{"allow_origin_absent":false}`, "http://x.com", nil, map[string]string{"Access-Control-Allow-Origin": "*"}, nil},
		{"no origin header, single origin still sent", `{"origins":["http://a.com"]}`, "", nil, map[string]string{"Access-Control-Allow-Origin": "http://a.com"}, []string{"Origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			resp := http.Header{}
			for k, v := range tt.upstream {
				resp[k] = append([]string(nil), v...)
			}
			c := &plugin.Ctx{Request: req("GET", h), Status: 200, Header: resp}
			p := build(t, tt.cfg)
			p.Access(c)
			if c.Exited() != nil {
				t.Fatal("simple request terminated")
			}
			p.HeaderFilter(c)
			for k, want := range tt.want {
				if got := resp.Get(k); got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
			if tt.wantVary != nil {
				if got := resp.Values("Vary"); strings.Join(got, "|") != strings.Join(tt.wantVary, "|") {
					t.Errorf("Vary = %q; want %q", got, tt.wantVary)
				}
			}
		})
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	want := `{"allow_origin_absent":true,"credentials":false,"exposed_headers":null,"headers":null,"max_age":null,"methods":["GET","HEAD","PUT","PATCH","POST","DELETE","OPTIONS","TRACE","CONNECT"],"origins":null,"preflight_continue":false,"private_network":false}`
	if string(b) != want {
		t.Errorf("defaults = %s; want %s", b, want)
	}
	bad := []struct{ in, err string }{
		{`{"origins":["(abc"]}`, "origins.1: '(abc' is not a valid regex"},
		{`{"methods":["FETCH"]}`, "methods.1: expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT"},
		{`{"credentials":"yes"}`, "credentials: expected a boolean"},
		{`{"max_age":"1h"}`, "max_age: expected a number"},
		{`{"origin":"x"}`, "origin: unknown field"},
	}
	for _, tt := range bad {
		var in map[string]any
		json.Unmarshal([]byte(tt.in), &in)
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func BenchmarkAccessPreflight(b *testing.B) {
	p := build(b, `{"origins":["http://a.com","https://.*\\.example\\.org"],"headers":["X-A"],"max_age":60}`)
	c := &plugin.Ctx{Request: req("OPTIONS", preflight("https://api.example.org", nil))}
	b.ReportAllocs()
	for b.Loop() {
		p.Access(c)
	}
}

func BenchmarkSimpleRequest(b *testing.B) {
	p := build(b, `{"origins":["http://a.com","http://b.com"],"exposed_headers":["X-A"]}`)
	r := req("GET", map[string]string{"Origin": "http://b.com"})
	h := http.Header{}
	c := &plugin.Ctx{Request: r, Header: h}
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		p.Access(c)
		p.HeaderFilter(c)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"origins":["*"],"credentials":true}`)
	f.Add(`{"origins":["http://a.com","^https?://(.*)\\.x\\.org$"],"max_age":1.5}`)
	f.Add(`{"methods":null,"headers":[1]}`)
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
			return
		}
		c := &plugin.Ctx{Request: req("OPTIONS", preflight("http://a.com", nil))}
		p.(*CORS).Access(c)
	})
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, domain, host string }{
		{"http://a.com", "http://a.com", "a.com"},
		{"http://a.com:80", "http://a.com", "a.com"},
		{"https://a.com:443", "https://a.com", "a.com"},
		{"http://a.com:443", "http://a.com:443", "a.com"},
		{"https://a.com:8443/path?q", "https://a.com:8443", "a.com"},
		{"http://user:pw@a.com:80", "http://a.com", "a.com"},
		{"http://[::1]:8080", "http://[::1]:8080", "::1"},
		{"a.com", "a.com", "a.com"},
		{"null", "null", "null"},
	}
	for _, tt := range tests {
		got := normalize(tt.in)
		if got.domain != tt.domain || got.host != tt.host {
			t.Errorf("normalize(%q) = %q, %q; want %q, %q", tt.in, got.domain, got.host, tt.domain, tt.host)
		}
	}
}

func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"http://a.com", "https://x@y@z:443/", "http://[::1", "://", "a://b:"} {
		f.Add(s)
	}
	p := build(f, `{"origins":["http://a.com","https?://.*\\.b\\.org"],"credentials":true}`)
	f.Fuzz(func(t *testing.T, origin string) {
		n := normalize(origin)
		if !strings.Contains(origin, n.host) {
			t.Errorf("normalize(%q).host = %q is not part of the origin", origin, n.host)
		}
		r := req("GET", nil)
		r.Header["Origin"] = []string{origin}
		c := &plugin.Ctx{Request: r, Header: http.Header{}}
		p.HeaderFilter(c)
	})
}
