package azurefunctions

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// function is a fake Azure Function host: it records the request and
// answers 201 with a header and a body.
func function(t *testing.T) *http.Request {
	t.Helper()
	seen := &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*seen = *r.Clone(r.Context())
		seen.Body = io.NopCloser(strings.NewReader(string(b)))
		w.Header().Set("X-Function", "yes")
		w.WriteHeader(201)
		io.WriteString(w, "from the function")
	}))
	t.Cleanup(srv.Close)
	saved := dialAddr
	dialAddr = func(addr string) string {
		if addr == "myapp.example.test:80" {
			return srv.Listener.Addr().String()
		}
		return addr
	}
	t.Cleanup(func() { dialAddr = saved })
	return seen
}

func TestCall(t *testing.T) {
	seen := function(t)
	up := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("the service was called") })
	g := proxytest.New(t, up, map[string]string{Name: `{"https":false,"appname":"myapp","hostdomain":"example.test",
		"routeprefix":"/api/","functionname":"hello/","apikey":"k1","clientid":"c1"}`})
	res, body := g.Do(t, "POST", "/orders/7?x=1&y", map[string]string{"Content-Type": "text/plain", "X-Client": "a"}, "payload")
	if res.StatusCode != 201 || body != "from the function" || res.Header.Get("X-Function") != "yes" {
		t.Fatalf("answer %d %q %v", res.StatusCode, body, res.Header)
	}
	if !strings.HasPrefix(res.Header.Get("Via"), "kong/") {
		t.Errorf("Via %q", res.Header.Get("Via"))
	}
	if seen.Method != "POST" || seen.URL.Path != "/api/hello/orders/7" || seen.URL.RawQuery != "x=1&y" {
		t.Errorf("function called with %s %s?%s", seen.Method, seen.URL.Path, seen.URL.RawQuery)
	}
	if seen.Host != "myapp.example.test" || seen.Header.Get("X-Functions-Key") != "k1" || seen.Header.Get("X-Functions-Clientid") != "c1" ||
		seen.Header.Get("X-Client") != "a" || seen.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("function got host %q, headers %v", seen.Host, seen.Header)
	}
	if b, _ := io.ReadAll(seen.Body); string(b) != "payload" {
		t.Errorf("function got body %q", b)
	}
}

func TestUnreachable(t *testing.T) {
	saved := dialAddr
	dialAddr = func(string) string { return "127.0.0.1:1" }
	defer func() { dialAddr = saved }()
	g := proxytest.New(t, http.NotFoundHandler(), map[string]string{Name: `{"https":false,"appname":"myapp","functionname":"f"}`})
	res, body := g.Do(t, "GET", "/", nil, "")
	if res.StatusCode != 500 || proxytest.Message(t, body) != "An unexpected error occurred" {
		t.Errorf("unreachable function: %d %s; want 500", res.StatusCode, body)
	}
}

// The function's path and the upstream path are joined with one slash.
func TestPathJoin(t *testing.T) {
	seen := function(t)
	p := proxytest.Instance[*Azure](t, Schema, New, `{"https":false,"appname":"myapp","hostdomain":"example.test","functionname":"hello"}`)
	for up, want := range map[string]string{"/": "/api/hello/", "/x/y": "/api/hello/x/y", "": "/api/hello"} {
		c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/", nil), UpstreamPath: up}
		p.Access(c)
		if e := c.Exited(); e == nil || e.Status != 201 {
			t.Fatalf("upstream path %q: exit %+v", up, e)
		}
		if seen.URL.Path != want {
			t.Errorf("upstream path %q: function path %q; want %q", up, seen.URL.Path, want)
		}
	}
}

func TestSchema(t *testing.T) {
	if _, serr := Schema.Process(map[string]any{"appname": "a"}, nil); serr == nil {
		t.Error("a config without functionname was accepted")
	}
	rec, serr := Schema.Process(map[string]any{"appname": "a", "functionname": "f"}, nil)
	if serr != nil || rec["hostdomain"] != "azurewebsites.net" || rec["routeprefix"] != "api" || rec["https"] != true {
		t.Errorf("defaults %v, %v", rec, serr)
	}
}
