package router

import (
	"maps"
	"net/http"
	"net/netip"
	"testing"

	"sluice/internal/model"
)

func TestHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		hosts []string
		host  string
		port  int
		want  bool
	}{
		{"plain", []string{"example.com"}, "example.com", 8000, true},
		{"plain other host", []string{"example.com"}, "example.org", 8000, false},
		{"request port stripped", []string{"example.com"}, "example.com:8443", 8443, true},
		{"case-insensitive request", []string{"example.com"}, "EXAMPLE.Com", 8000, true},
		{"case-insensitive route", []string{"Example.COM"}, "example.com", 8000, true},
		{"one of several", []string{"a.com", "example.com"}, "example.com", 8000, true},
		{"suffix wildcard one level", []string{"*.example.com"}, "api.example.com", 8000, true},
		{"suffix wildcard any depth", []string{"*.example.com"}, "a.b.example.com", 8000, true},
		{"suffix wildcard needs a label", []string{"*.example.com"}, "example.com", 8000, false},
		{"suffix wildcard other domain", []string{"*.example.com"}, "example.org", 8000, false},
		{"suffix wildcard case-insensitive", []string{"*.example.com"}, "API.EXAMPLE.COM", 8000, true},
		{"prefix wildcard", []string{"example.*"}, "example.org", 8000, true},
		{"prefix wildcard deeper", []string{"example.*"}, "example.co.uk", 8000, true},
		{"prefix wildcard other", []string{"example.*"}, "www.example.org", 8000, false},
		{"host:port local port", []string{"example.com:8000"}, "example.com", 8000, true},
		{"host:port other local port", []string{"example.com:8000"}, "example.com", 8443, false},
		{"host:port from Host header", []string{"example.com:8080"}, "example.com:8080", 8000, true},
		{"host:port Host header port wins over local port", []string{"example.com:8000"}, "example.com:9000", 8000, false},
		{"wildcard with port", []string{"*.example.com:8000"}, "a.example.com", 8000, true},
		{"wildcard with other port", []string{"*.example.com:8000"}, "a.example.com", 9000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, rt{id: 1, hosts: tc.hosts})
			req := &Request{Method: "GET", Host: tc.host, Path: "/", Port: tc.port}
			if got := matchID(t, r, req) == 1; got != tc.want {
				t.Errorf("hosts %v, Host %q port %d: got match %v; want %v", tc.hosts, tc.host, tc.port, got, tc.want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string][]string
		req     http.Header
		want    bool
	}{
		{"equal", map[string][]string{"x-version": {"v1"}}, http.Header{"X-Version": {"v1"}}, true},
		{"value case-insensitive", map[string][]string{"x-version": {"V1"}}, http.Header{"X-Version": {"v1"}}, true},
		{"name case-insensitive", map[string][]string{"X-VERSION": {"v1"}}, http.Header{"X-Version": {"V1"}}, true},
		{"other value", map[string][]string{"x-version": {"v1"}}, http.Header{"X-Version": {"v2"}}, false},
		{"missing", map[string][]string{"x-version": {"v1"}}, http.Header{}, false},
		{"one of configured values", map[string][]string{"x-version": {"v1", "v2"}}, http.Header{"X-Version": {"v2"}}, true},
		{"any request value", map[string][]string{"x-version": {"v2"}}, http.Header{"X-Version": {"v1", "v2"}}, true},
		{"regex", map[string][]string{"x-version": {`~*^v\d+$`}}, http.Header{"X-Version": {"v12"}}, true},
		{"regex no match", map[string][]string{"x-version": {`~*^v\d+$`}}, http.Header{"X-Version": {"v1x"}}, false},
		{"regex matches lower-cased value", map[string][]string{"x-version": {`~*^abc$`}}, http.Header{"X-Version": {"ABC"}}, true},
		{"regex is lower-cased too", map[string][]string{"x-version": {`~*^ABC$`}}, http.Header{"X-Version": {"abc"}}, true},
		{"regex unanchored", map[string][]string{"x-version": {`~*beta`}}, http.Header{"X-Version": {"1.0-beta.2"}}, true},
		{"several names all required", map[string][]string{"x-a": {"1"}, "x-b": {"2"}}, http.Header{"X-A": {"1"}, "X-B": {"2"}}, true},
		{"several names one missing", map[string][]string{"x-a": {"1"}, "x-b": {"2"}}, http.Header{"X-A": {"1"}}, false},
		{"underscore in configured name", map[string][]string{"x_version": {"v1"}}, http.Header{"X-Version": {"v1"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, rt{id: 1, headers: tc.headers})
			req := &Request{Method: "GET", Host: "h", Path: "/", Header: tc.req}
			if got := matchID(t, r, req) == 1; got != tc.want {
				t.Errorf("headers %v, request %v: got match %v; want %v", tc.headers, tc.req, got, tc.want)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	r := build(t, rt{id: 1, methods: []string{"GET", "POST"}})
	for _, tc := range []struct {
		method string
		want   bool
	}{{"GET", true}, {"POST", true}, {"PUT", false}, {"get", false}} {
		req := &Request{Method: tc.method, Host: "h", Path: "/"}
		if got := matchID(t, r, req) == 1; got != tc.want {
			t.Errorf("method %q: got match %v; want %v", tc.method, got, tc.want)
		}
	}
}

func TestSNIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		snis []string
		sni  string
		tls  bool
		want bool
	}{
		{"tls equal", []string{"api.example.com"}, "api.example.com", true, true},
		{"tls other", []string{"api.example.com"}, "www.example.com", true, false},
		{"tls no sni", []string{"api.example.com"}, "", true, false},
		{"plain http ignores snis", []string{"api.example.com"}, "", false, true},
		{"trailing dot in route", []string{"api.example.com."}, "api.example.com", true, true},
		{"trailing dot in request", []string{"api.example.com"}, "api.example.com.", true, true},
		{"wildcard sni", []string{"*.example.com"}, "api.example.com", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, rt{id: 1, snis: tc.snis, paths: []string{"/"}, protocols: []string{"https"}})
			req := &Request{Method: "GET", Host: "h", Path: "/x", SNI: tc.sni, TLS: tc.tls}
			if got := matchID(t, r, req) == 1; got != tc.want {
				t.Errorf("snis %v, SNI %q tls %v: got match %v; want %v", tc.snis, tc.sni, tc.tls, got, tc.want)
			}
		})
	}
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	tests := []struct {
		protocols []string
		want      bool
	}{
		{[]string{"http"}, true},
		{[]string{"https"}, true}, // the proxy answers 426 or redirects
		{[]string{"grpc", "grpcs"}, true},
		{[]string{"tcp", "tls"}, false},
		{[]string{"tls_passthrough"}, false},
		{[]string{"udp"}, false},
	}
	for _, tc := range tests {
		r := build(t, rt{id: 1, protocols: tc.protocols, paths: []string{"/"}})
		if got := matchID(t, r, get("/")) == 1; got != tc.want {
			t.Errorf("protocols %v: got match %v; want %v", tc.protocols, got, tc.want)
		}
	}
}

func TestPathsAndCaptures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		paths       []string
		path        string
		wantMatch   bool
		wantMatched string
		wantCaps    map[string]string
	}{
		{"prefix", []string{"/api"}, "/api/users", true, "/api", nil},
		{"prefix not a segment boundary", []string{"/api"}, "/apix", true, "/api", nil},
		{"prefix no match", []string{"/api"}, "/ap", false, "", nil},
		{"regex anchored at start", []string{`~/users/\d+`}, "/v1/users/12", false, "", nil},
		{"regex not anchored at end", []string{`~/users/\d+`}, "/users/12/posts", true, "/users/12", nil},
		{"regex whole match", []string{`~/users/\d+$`}, "/users/12", true, "/users/12", nil},
		{"positional captures", []string{`~/users/(\d+)/(\w+)`}, "/users/12/posts", true, "/users/12/posts",
			map[string]string{"0": "/users/12/posts", "1": "12", "2": "posts"}},
		{"named captures", []string{`~/users/(?<id>\d+)`}, "/users/7", true, "/users/7",
			map[string]string{"0": "/users/7", "1": "7", "id": "7"}},
		{"named captures P syntax", []string{`~/users/(?P<id>\d+)`}, "/users/7", true, "/users/7",
			map[string]string{"0": "/users/7", "1": "7", "id": "7"}},
		{"optional group absent", []string{`~/a(/(?<x>b))?`}, "/a", true, "/a", map[string]string{"0": "/a"}},
		{"regex with alternation is only anchored on the first branch", []string{`~/a|/b`}, "/x/b", true, "/b", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, rt{id: 1, paths: tc.paths})
			m, ok := r.Match(get(tc.path))
			if ok != tc.wantMatch {
				t.Fatalf("paths %v, request %q: got match %v; want %v", tc.paths, tc.path, ok, tc.wantMatch)
			}
			if !ok {
				return
			}
			if m.Matched != tc.wantMatched {
				t.Errorf("got Matched %q; want %q", m.Matched, tc.wantMatched)
			}
			if !maps.Equal(m.Captures, tc.wantCaps) || (m.Captures == nil) != (tc.wantCaps == nil) {
				t.Errorf("got Captures %v; want %v", m.Captures, tc.wantCaps)
			}
		})
	}
}

func TestNoPathsMatchesAnything(t *testing.T) {
	t.Parallel()
	r := build(t, rt{id: 1, hosts: []string{"example.com"}})
	m, ok := r.Match(get("/anything/at/all"))
	if !ok || m.Matched != "" || m.Captures != nil {
		t.Fatalf("got %+v, %v; want a match with empty Matched", m, ok)
	}
}

func TestNoRoutes(t *testing.T) {
	t.Parallel()
	r := build(t)
	if _, ok := r.Match(get("/")); ok {
		t.Fatal("got a match from an empty router; want none")
	}
}

func TestInvalidRoutes(t *testing.T) {
	t.Parallel()
	for _, spec := range []rt{
		{id: 1, paths: []string{`~/a(`}},
		{id: 1, paths: []string{`~/(?<=a)b`}},
		{id: 1, headers: map[string][]string{"x": {`~*[`}}},
	} {
		r := spec.route()
		if _, err := Build(nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		_, err := Build(nil, []*model.Route{r}, nil)
		if err == nil {
			t.Errorf("route %+v: got no error; want one", spec)
		}
		if ValidateRoute(r) == nil {
			t.Errorf("ValidateRoute(%+v): got nil; want an error", spec)
		}
	}
}

func TestSourcesDestinations(t *testing.T) {
	t.Parallel()
	ip := func(s string) *string { return &s }
	port := func(n int) *int { return &n }
	tests := []struct {
		name    string
		sources []model.CIDRPort
		dests   []model.CIDRPort
		client  string
		cport   int
		local   string
		want    bool
	}{
		{"source cidr", []model.CIDRPort{{IP: ip("10.0.0.0/8")}}, nil, "10.1.2.3", 5000, "127.0.0.1", true},
		{"source cidr other", []model.CIDRPort{{IP: ip("10.0.0.0/8")}}, nil, "192.168.1.1", 5000, "127.0.0.1", false},
		{"source ip", []model.CIDRPort{{IP: ip("192.168.1.1")}}, nil, "192.168.1.1", 5000, "127.0.0.1", true},
		{"source ip and port", []model.CIDRPort{{IP: ip("192.168.1.1"), Port: port(5000)}}, nil, "192.168.1.1", 5001, "127.0.0.1", false},
		{"source port only", []model.CIDRPort{{Port: port(5000)}}, nil, "1.1.1.1", 5000, "127.0.0.1", true},
		{"one of several", []model.CIDRPort{{IP: ip("1.0.0.0/8")}, {IP: ip("10.0.0.0/8")}}, nil, "10.0.0.1", 1, "127.0.0.1", true},
		{"destination port", nil, []model.CIDRPort{{Port: port(8000)}}, "1.1.1.1", 1, "127.0.0.1", true},
		{"destination ip", nil, []model.CIDRPort{{IP: ip("10.0.0.1")}}, "1.1.1.1", 1, "10.0.0.2", false},
		{"no client address", []model.CIDRPort{{IP: ip("10.0.0.0/8")}}, nil, "", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rt{id: 1, methods: []string{"GET"}}.route()
			r.Sources, r.Destinations = tc.sources, tc.dests
			router := mustBuild(t, nil, []*model.Route{r}, nil)
			req := &Request{Method: "GET", Host: "h", Path: "/", Port: 8000, ClientPort: tc.cport}
			req.ClientIP, _ = netip.ParseAddr(tc.client)
			req.LocalIP, _ = netip.ParseAddr(tc.local)
			if got := matchID(t, router, req) == 1; got != tc.want {
				t.Errorf("got match %v; want %v", got, tc.want)
			}
		})
	}
	// sources weigh like any other attribute.
	src := rt{id: 1, methods: []string{"POST"}, hosts: []string{"example.com"}}.route()
	src.Sources = []model.CIDRPort{{IP: ip("10.0.0.0/8")}}
	plain := rt{id: 2, methods: []string{"POST"}, hosts: []string{"example.com"}}.route()
	router := mustBuild(t, nil, []*model.Route{plain, src}, nil)
	req := &Request{Method: "POST", Host: "example.com", Path: "/", ClientIP: netip.MustParseAddr("10.2.3.4")}
	if got := matchID(t, router, req); got != 1 {
		t.Errorf("request from 10/8: got route %d; want 1", got)
	}
	req.ClientIP = netip.MustParseAddr("11.2.3.4")
	if got := matchID(t, router, req); got != 2 {
		t.Errorf("request from elsewhere: got route %d; want 2", got)
	}
}
