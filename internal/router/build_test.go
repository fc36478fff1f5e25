package router

import (
	"fmt"
	"net/http"
	"testing"

	"sluice/internal/model"
)

// genRoutes makes n routes of one shape:
//   - "prefix": distinct plain path prefixes;
//   - "hosts": one exact host each, no paths;
//   - "mixed": a mix of host+path, path-only, wildcard hosts and about one
//     regex route in ten.
func genRoutes(shape string, n int) ([]*model.Route, map[string]*model.Service) {
	routes := make([]*model.Route, n)
	svcs := make(map[string]*model.Service, n/10+1)
	for i := range routes {
		svcID := uid(1<<30 + i/10)
		if svcs[svcID] == nil {
			p := fmt.Sprintf("/backend%d", i/10)
			svcs[svcID] = &model.Service{ID: svcID, UpdatedAt: 10, Host: "backend", Port: 80, Protocol: "http", Path: &p}
		}
		r := &model.Route{ID: uid(i + 1), CreatedAt: 10, UpdatedAt: 10, Protocols: []string{"http", "https"},
			StripPath: true, PathHandling: "v0", Service: &model.ForeignKey{ID: svcID}}
		switch shape {
		case "prefix":
			r.Paths = []string{fmt.Sprintf("/svc%d/v1", i)}
		case "hosts":
			r.Hosts = []string{fmt.Sprintf("svc%d.example.com", i)}
		case "mixed":
			switch i % 10 {
			case 0:
				r.Paths = []string{fmt.Sprintf(`~/re%d/(?<id>\d+)$`, i)}
			case 1, 2, 3:
				r.Hosts = []string{fmt.Sprintf("svc%d.example.com", i)}
				r.Paths = []string{"/", fmt.Sprintf("/api%d", i)}
			case 4:
				r.Hosts = []string{fmt.Sprintf("*.tenant%d.example.com", i)}
			case 5:
				r.Methods = []string{"GET", "POST"}
				r.Paths = []string{fmt.Sprintf("/m%d", i)}
			default:
				r.Paths = []string{fmt.Sprintf("/svc%d/v1", i), fmt.Sprintf("/svc%d/v2/", i)}
			}
		}
		routes[i] = r
	}
	return routes, svcs
}

func genRequests(shape string, n int) []*Request {
	reqs := make([]*Request, 1024)
	for k := range reqs {
		i := (k * 7919) % n
		req := &Request{Method: "GET", Host: "gateway.local", Header: http.Header{}, Port: 8000}
		switch shape {
		case "prefix":
			req.Path = fmt.Sprintf("/svc%d/v1/users/42", i)
		case "hosts":
			req.Host = fmt.Sprintf("svc%d.example.com", i)
			req.Path = "/users/42"
		case "mixed":
			switch i % 10 {
			case 0:
				req.Path = fmt.Sprintf("/re%d/42", i)
			case 1, 2, 3:
				req.Host = fmt.Sprintf("svc%d.example.com", i)
				req.Path = fmt.Sprintf("/api%d/users", i)
			case 4:
				req.Host = fmt.Sprintf("a.tenant%d.example.com", i)
				req.Path = "/x"
			case 5:
				req.Path = fmt.Sprintf("/m%d/x", i)
			default:
				req.Path = fmt.Sprintf("/svc%d/v2/users", i)
			}
		}
		reqs[k] = req
	}
	return reqs
}

func TestGeneratedRequestsMatch(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"prefix", "hosts", "mixed"} {
		routes, svcs := genRoutes(shape, 1000)
		r := mustBuild(t, nil, routes, svcs)
		for _, req := range genRequests(shape, 1000) {
			got, ok := r.Match(req)
			want, wok := r.MatchLinear(req)
			if !ok || !wok || got.Route != want.Route || got.Matched != want.Matched {
				t.Fatalf("%s: request %+v: got %v %v; want %v %v", shape, req, ok, got.Route, wok, want.Route)
			}
		}
	}
}

func TestMatchNoAllocs(t *testing.T) {
	for _, shape := range []string{"prefix", "hosts"} {
		routes, svcs := genRoutes(shape, 1000)
		r := mustBuild(t, nil, routes, svcs)
		reqs := genRequests(shape, 1000)
		i := 0
		allocs := testing.AllocsPerRun(200, func() {
			if _, ok := r.Match(reqs[i%len(reqs)]); !ok {
				t.Fatal("no match")
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: got %v allocs per Match; want 0", shape, allocs)
		}
	}
	// An upper-case Host is lower-cased on the stack.
	r := build(t, rt{id: 1, hosts: []string{"example.com"}, paths: []string{"/a"}})
	req := &Request{Method: "GET", Host: "EXAMPLE.com:8000", Path: "/a/b"}
	if allocs := testing.AllocsPerRun(100, func() { r.Match(req) }); allocs != 0 {
		t.Errorf("upper-case host: got %v allocs; want 0", allocs)
	}
}

func TestIncrementalBuild(t *testing.T) {
	t.Parallel()
	routes, svcs := genRoutes("mixed", 200)
	prev := mustBuild(t, nil, routes, svcs)

	// Same routes: every compiled route is reused.
	same := mustBuild(t, prev, routes, svcs)
	for id, st := range same.routes {
		if prev.routes[id].cr != st.cr {
			t.Fatalf("route %s recompiled; want reused", id)
		}
	}

	// Copies with the same updated_at (as read again from a store) are
	// reused too, and the new objects are what Match returns.
	copies := make([]*model.Route, len(routes))
	for i, r := range routes {
		c := *r
		copies[i] = &c
	}
	next := mustBuild(t, prev, copies, svcs)
	if next.routes[copies[5].ID].cr != prev.routes[routes[5].ID].cr {
		t.Error("unchanged route copy recompiled; want reused")
	}
	req := genRequests("mixed", 200)[0]
	if m, ok := next.Match(req); !ok || !isIn(m.Route, copies) {
		t.Errorf("got route %p; want one of the new route objects", m.Route)
	}

	// A changed route (new updated_at) is recompiled and its new paths used.
	changed := append([]*model.Route(nil), copies...)
	c := *changed[7]
	c.UpdatedAt = 11
	c.Paths = []string{"/brand-new"}
	changed[7] = &c
	next2 := mustBuild(t, next, changed, svcs)
	if next2.routes[c.ID].cr == next.routes[c.ID].cr {
		t.Error("changed route reused; want recompiled")
	}
	if m, ok := next2.Match(get("/brand-new/x")); !ok || m.Route != &c {
		t.Errorf("got %v; want the changed route", m.Route)
	}
	if m, ok := next.Match(get("/brand-new/x")); ok && m.Route.ID == c.ID {
		t.Error("previous router sees the change; want it untouched")
	}

	// A route edited within the same second as the newest route of the
	// previous build is recompiled even though updated_at is unchanged.
	sameSecond := append([]*model.Route(nil), changed...)
	d := *sameSecond[7]
	d.Paths = []string{"/edited-again"}
	sameSecond[7] = &d
	next3 := mustBuild(t, next2, sameSecond, svcs)
	if _, ok := next3.Match(get("/edited-again")); !ok {
		t.Error("same-second edit not seen; want recompiled")
	}

	// A changed service is picked up without recompiling routes.
	svcs2 := make(map[string]*model.Service, len(svcs))
	for id, s := range svcs {
		cp := *s
		p := "/moved"
		cp.Path = &p
		cp.UpdatedAt = 12
		svcs2[id] = &cp
	}
	next4 := mustBuild(t, next3, sameSecond, svcs2)
	m, ok := next4.Match(get("/svc6/v1/x"))
	if !ok || m.Service == nil || *m.Service.Path != "/moved" {
		t.Fatalf("got %+v; want the new service", m)
	}
	if got := m.UpstreamPath("/svc6/v1/x"); got != "/moved/x" {
		t.Errorf("got upstream %q; want /moved/x", got)
	}

	// Deleted routes are gone.
	next5 := mustBuild(t, next4, sameSecond[:6], svcs2)
	if _, ok := next5.Match(get("/svc6/v1/x")); ok {
		t.Error("deleted route still matches")
	}
}

func isIn(r *model.Route, rs []*model.Route) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// TestBuildTimes checks the acceptance targets loosely (the benchmarks give
// the real figures): 10 000 routes build well under a second, and a rebuild
// with one change is much faster than a full build.
func BenchmarkMatch(b *testing.B) {
	for _, shape := range []string{"prefix", "hosts", "mixed"} {
		for _, n := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", shape, n), func(b *testing.B) {
				routes, svcs := genRoutes(shape, n)
				r := mustBuild(b, nil, routes, svcs)
				reqs := genRequests(shape, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if _, ok := r.Match(reqs[i&1023]); !ok {
						b.Fatal("no match")
					}
				}
			})
		}
	}
}

func BenchmarkBuild10k(b *testing.B) {
	routes, svcs := genRoutes("mixed", 10000)
	b.ReportAllocs()
	for b.Loop() {
		mustBuild(b, nil, routes, svcs)
	}
}

func BenchmarkRebuildOneChange10k(b *testing.B) {
	routes, svcs := genRoutes("mixed", 10000)
	prev := mustBuild(b, nil, routes, svcs)
	changed := append([]*model.Route(nil), routes...)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := *changed[4242]
		c.UpdatedAt = int64(100 + i)
		changed[4242] = &c
		prev = mustBuild(b, prev, changed, svcs)
	}
}
