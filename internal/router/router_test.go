package router

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/model"
)

// uid builds a valid UUID whose last byte is n, so tests control Kong's
// tie-break order (larger UUID first).
func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

type rt struct {
	id        int
	methods   []string
	hosts     []string
	paths     []string
	headers   map[string][]string
	snis      []string
	protocols []string
	regexPrio int
	strip     bool
	service   string
}

func (x rt) route() *model.Route {
	r := &model.Route{
		ID: uid(x.id), CreatedAt: 1, UpdatedAt: 1,
		Methods: x.methods, Hosts: x.hosts, Paths: x.paths, Headers: x.headers, SNIs: x.snis,
		Protocols: x.protocols, RegexPriority: x.regexPrio, StripPath: x.strip, PathHandling: "v0",
	}
	if r.Protocols == nil {
		r.Protocols = []string{"http", "https"}
	}
	if x.service != "" {
		r.Service = &model.ForeignKey{ID: x.service}
	}
	return r
}

func mustBuild(t testing.TB, prev *Router, routes []*model.Route, svcs map[string]*model.Service) *Router {
	t.Helper()
	r, err := Build(prev, routes, svcs)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func build(t testing.TB, specs ...rt) *Router {
	t.Helper()
	routes := make([]*model.Route, len(specs))
	for i, s := range specs {
		routes[i] = s.route()
	}
	return mustBuild(t, nil, routes, nil)
}

func get(path string) *Request {
	return &Request{Method: "GET", Host: "example.com", Path: path, Header: http.Header{}, Port: 8000}
}

// matchID returns the last-byte id of the matched route, or -1.
func matchID(t testing.TB, r *Router, req *Request) int {
	t.Helper()
	m, ok := r.Match(req)
	lin, lok := r.MatchLinear(req)
	if ok != lok || (ok && m.Route != lin.Route) {
		t.Fatalf("index and linear scan disagree for %+v", req)
	}
	if !ok {
		return -1
	}
	var n int
	fmt.Sscanf(m.Route.ID[24:], "%x", &n)
	return n
}

func TestPriorityRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		routes []rt
		req    *Request
		want   int // with Kong's real (LuaJIT) priorities, the default
		// wantDocumented is the winner under Options.DocumentedPriority
		// when it differs from want.
		wantDocumented int
	}{
		{
			name:   "more attributes first: host+path beats path alone",
			routes: []rt{{id: 1, paths: []string{"/api"}}, {id: 2, hosts: []string{"example.com"}, paths: []string{"/"}}},
			req:    get("/api/x"), want: 2,
		},
		{
			name:   "more attributes first: method+short path beats longer path",
			routes: []rt{{id: 1, paths: []string{"/long/prefix"}}, {id: 2, methods: []string{"GET"}, paths: []string{"/"}}},
			req:    get("/long/prefix/x"), want: 2,
		},
		{
			name: "more attributes first: sni counts even for plain http requests",
			routes: []rt{
				{id: 1, paths: []string{"/a/b/c"}, hosts: []string{"example.com"}},
				{id: 2, paths: []string{"/"}, hosts: []string{"example.com"}, snis: []string{"example.com"}, protocols: []string{"https"}},
			},
			req: get("/a/b/c"), want: 2,
		},
		{
			name:   "plain hosts before wildcard hosts",
			routes: []rt{{id: 2, hosts: []string{"*.com"}, paths: []string{"/"}}, {id: 1, hosts: []string{"example.com"}, paths: []string{"/"}}},
			req:    get("/"), want: 1,
		},
		{
			name:   "plain host beats wildcard host even with a shorter path",
			routes: []rt{{id: 1, hosts: []string{"example.*"}, paths: []string{"/very/long"}}, {id: 2, hosts: []string{"example.com"}, paths: []string{"/"}}},
			req:    get("/very/long"), want: 2,
		},
		{
			name: "more headers first",
			routes: []rt{
				{id: 2, headers: map[string][]string{"x-a": {"1"}}, paths: []string{"/"}},
				{id: 1, headers: map[string][]string{"x-a": {"1"}, "x-b": {"2"}}, paths: []string{"/"}},
			},
			req:  &Request{Method: "GET", Host: "h", Path: "/", Header: http.Header{"X-A": {"1"}, "X-B": {"2"}}},
			want: 1,
		},
		{
			name:   "regex before plain of equal weight",
			routes: []rt{{id: 2, paths: []string{"/users/admin"}}, {id: 1, paths: []string{`~/users/\w+`}}},
			req:    get("/users/admin"), want: 1,
		},
		{
			name:   "regex_priority: higher first",
			routes: []rt{{id: 2, paths: []string{`~/a`}, regexPrio: 1}, {id: 1, paths: []string{`~/a/b`}, regexPrio: 5}},
			req:    get("/a/b"), want: 1,
		},
		{
			name:   "regex_priority: negative below zero",
			routes: []rt{{id: 2, paths: []string{`~/a`}, regexPrio: -3}, {id: 1, paths: []string{`~/a/b`}}},
			// Kong: a negative regex_priority turns into bit 63 (luaPriority).
			req: get("/a/b"), want: 2, wantDocumented: 1,
		},
		{
			name:   "kong: a plain-host route outranks a heavier route without hosts",
			routes: []rt{{id: 1, hosts: []string{"example.com"}}, {id: 2, methods: []string{"GET"}, paths: []string{"/api"}}},
			req:    get("/api"), want: 1, wantDocumented: 2,
		},
		{
			name: "kong: a regex route outranks a heavier route without hosts",
			routes: []rt{{id: 1, paths: []string{`~/api`}},
				{id: 2, methods: []string{"GET"}, paths: []string{"/api"}, headers: map[string][]string{"x": {"1"}}}},
			req:  &Request{Method: "GET", Host: "h", Path: "/api", Header: http.Header{"X": {"1"}}},
			want: 1, wantDocumented: 2,
		},
		{
			name: "kong: match weights of 4 and more tie (larger UUID wins)",
			routes: []rt{
				{id: 2, methods: []string{"GET"}, paths: []string{"/a"}, headers: map[string][]string{"x": {"1"}}, snis: []string{"s"}},
				{id: 1, methods: []string{"GET"}, paths: []string{"/a/b/c"}, headers: map[string][]string{"x": {"1"}, "y": {"2"}},
					snis: []string{"s"}, protocols: []string{"https"}},
			},
			req:  &Request{Method: "GET", Host: "h", Path: "/a/b/c", Header: http.Header{"X": {"1"}, "Y": {"2"}}},
			want: 2, wantDocumented: 1,
		},
		{
			name:   "regex_priority ignored for plain paths",
			routes: []rt{{id: 1, paths: []string{"/a"}, regexPrio: 100}, {id: 2, paths: []string{"/a/b"}}},
			req:    get("/a/b"), want: 2,
		},
		{
			name:   "longest prefix first",
			routes: []rt{{id: 1, paths: []string{"/"}}, {id: 2, paths: []string{"/a/b"}}, {id: 3, paths: []string{"/a"}}},
			req:    get("/a/b/c"), want: 2,
		},
		{
			name:   "longest prefix first: root is the fallback",
			routes: []rt{{id: 1, paths: []string{"/"}}, {id: 2, paths: []string{"/a/b"}}},
			req:    get("/b"), want: 1,
		},
		{
			name:   "routes with several paths are split: long path of the multi-path route wins",
			routes: []rt{{id: 1, paths: []string{"/a", "/abc/def"}}, {id: 2, paths: []string{"/abc"}}},
			req:    get("/abc/def/x"), want: 1,
		},
		{
			name:   "routes with several paths are split: short path loses to a longer single path",
			routes: []rt{{id: 1, paths: []string{"/a", "/abc/def"}}, {id: 2, paths: []string{"/abc"}}},
			req:    get("/abc/x"), want: 2,
		},
		{
			name:   "tie: larger UUID wins",
			routes: []rt{{id: 1, paths: []string{"/x"}}, {id: 9, paths: []string{"/x"}}, {id: 5, paths: []string{"/x"}}},
			req:    get("/x"), want: 9,
		},
		{
			name:   "tie among hosts-only routes: larger UUID wins",
			routes: []rt{{id: 3, hosts: []string{"example.com"}}, {id: 4, hosts: []string{"example.com", "other.com"}}},
			req:    get("/"), want: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := build(t, tc.routes...)
			if got := matchID(t, r, tc.req); got != tc.want {
				t.Errorf("got route %d; want %d", got, tc.want)
			}
			routes := make([]*model.Route, len(tc.routes))
			for i, s := range tc.routes {
				routes[i] = s.route()
			}
			doc, err := BuildWithOptions(nil, routes, nil, Options{DocumentedPriority: true})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.wantDocumented != 0 {
				want = tc.wantDocumented
			}
			if got := matchID(t, doc, tc.req); got != want {
				t.Errorf("documented priority: got route %d; want %d", got, want)
			}
		})
	}
}

// TestLuaPriorityGolden pins luaPriority to the values Kong's get_priority
// arithmetic (transform.lua, with its lshift_uint64 helper and the
// uintptr_t conversion of the ATC router's add_matcher) gives when run by
// LuaJIT 2.1 on x86-64.
func TestLuaPriorityGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   priorityInputs
		want uint64
	}{
		{"paths only, prefix of 4", priorityInputs{weight: 1, length: 4}, 536870916},
		{"plain host only", priorityInputs{weight: 1, plainHost: true}, 1152921505143717888},
		{"plain host and prefix of 4", priorityInputs{weight: 2, plainHost: true, length: 4}, 1152921505680588804},
		{"methods, 1 header, prefix of 4", priorityInputs{weight: 3, headers: 1, length: 4}, 1611661316},
		{"methods, 3 headers, prefix of 4", priorityInputs{weight: 3, headers: 3, length: 4}, 1613758468},
		{"weight 4, no host", priorityInputs{weight: 4, headers: 1, length: 4}, 9223372036854775808},
		{"weight 5, no host", priorityInputs{weight: 5, length: 4}, 9223372036854775808},
		{"weight 4, plain host", priorityInputs{weight: 4, plainHost: true, length: 4}, 10376293541461622788},
		{"regex", priorityInputs{weight: 1, regex: true}, 2251800350556160},
		{"regex, regex_priority 2", priorityInputs{weight: 1, regex: true, regexPrio: 2}, 2251800351604736},
		{"regex, regex_priority -1", priorityInputs{weight: 1, regex: true, regexPrio: -1}, 9225623837205331968},
	}
	for _, tc := range tests {
		if got := luaPriority(tc.in); got != tc.want {
			t.Errorf("%s: got %d (%#x); want %d (%#x)", tc.name, got, got, tc.want, tc.want)
		}
	}
}

func TestPriorityBits(t *testing.T) {
	t.Parallel()
	r := rt{id: 1, methods: []string{"GET"}, hosts: []string{"a.com"}, paths: []string{"/abc"},
		headers: map[string][]string{"x": {"1"}, "y": {"2"}}}.route()
	cr, err := compileRoute(r, Options{DocumentedPriority: true})
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(4)<<61 | 1<<60 | 2<<52 | 4
	if got := cr.subs[0].priority; got != want {
		t.Errorf("got priority %#x; want %#x", got, want)
	}
	r = rt{id: 1, paths: []string{"~/a"}, regexPrio: 3, hosts: []string{"*.a.com"}}.route()
	cr, _ = compileRoute(r, Options{DocumentedPriority: true})
	want = uint64(2)<<61 | 1<<51 | uint64(3+(1<<31))<<19
	if got := cr.subs[0].priority; got != want {
		t.Errorf("got priority %#x; want %#x", got, want)
	}
}

func TestSplitRouteIDs(t *testing.T) {
	t.Parallel()
	r := rt{id: 7, paths: []string{"/a", "~/re", "/bb", "/c", "~/x"}}.route()
	groups, err := groupPaths(r)
	if err != nil {
		t.Fatal(err)
	}
	// Groups by kind and length, in order of first appearance.
	if len(groups) != 3 || strings.Join(groups[0].plain, ",") != "/a,/c" || len(groups[1].regexes) != 2 || groups[2].plain[0] != "/bb" {
		t.Fatalf("got groups %+v; want [/a /c] [~/re ~/x] [/bb]", groups)
	}
	cr, err := compileRoute(r, Options{DocumentedPriority: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.subs) != 3 {
		t.Fatalf("got %d sub-routes; want 3", len(cr.subs))
	}
	want := uuidV5(splitNamespace, r.ID+"#2")
	if cr.subs[1].tie != string(want[:]) {
		t.Errorf("got tie key %x; want uuid5(%s#2) %x", cr.subs[1].tie, r.ID, want)
	}
	// A route whose paths form one group keeps its own id.
	one, _ := compileRoute(rt{id: 7, paths: []string{"/a", "/b"}}.route(), Options{})
	if u, _ := parseUUID(uid(7)); len(one.subs) != 1 || one.subs[0].tie != string(u[:]) {
		t.Errorf("single-group route: got %d subs, tie %x; want 1 sub with the route id", len(one.subs), one.subs[0].tie)
	}
}

func TestUUIDv5(t *testing.T) {
	t.Parallel()
	// RFC 4122 DNS namespace, name "python.org" (Python's uuid docs).
	dns, _ := parseUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if got := formatUUID(uuidV5(dns, "python.org")); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Errorf("got %s; want 886313e1-3b8a-5372-9b90-0c9aee199e5d", got)
	}
}
