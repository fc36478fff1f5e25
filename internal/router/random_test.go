package router

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"testing"

	"sluice/internal/model"
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func randomRoutes(rng *rand.Rand, n int) []*model.Route {
	hosts := []string{"a.com", "b.com", "A.com", "*.com", "*.a.com", "a.*", "a.com:8000", "b.com:9000", "x.a.com"}
	paths := []string{"/", "/a", "/a/b", "/ab", "/a/b/c", "/b", "/b/c", "/abc",
		`~/a/\d+`, `~/a`, `~(?i)/B`, `~/(?<x>[ab])/`, `~/b/c$`, `~/a|/c`, `~/ab?c`}
	methods := []string{"GET", "POST", "PUT"}
	routes := make([]*model.Route, n)
	for i := range routes {
		r := &model.Route{ID: uid(rng.IntN(1<<20)<<8 | i), UpdatedAt: 1, Protocols: []string{"http", "https"},
			RegexPriority: rng.IntN(5) - 2, StripPath: rng.IntN(2) == 0}
		for range rng.IntN(3) {
			r.Hosts = append(r.Hosts, pick(rng, hosts))
		}
		for range rng.IntN(4) {
			r.Paths = append(r.Paths, pick(rng, paths))
		}
		for range rng.IntN(2) {
			r.Methods = append(r.Methods, pick(rng, methods))
		}
		if rng.IntN(4) == 0 {
			r.Headers = map[string][]string{"x-a": {pick(rng, []string{"1", "2", `~*^[12]$`})}}
			if rng.IntN(2) == 0 {
				r.Headers["x-b"] = []string{"y"}
			}
		}
		if rng.IntN(6) == 0 {
			r.SNIs = []string{pick(rng, []string{"a.com", "b.com"})}
			r.Protocols = []string{"https"}
		}
		if rng.IntN(20) == 0 {
			r.Protocols = []string{"tcp"}
			r.Hosts, r.Paths, r.Methods, r.Headers = nil, nil, nil, nil
			r.SNIs = []string{"a.com"}
		}
		routes[i] = r
	}
	return routes
}

func randomRequest(rng *rand.Rand) *Request {
	req := &Request{
		Method: pick(rng, []string{"GET", "POST", "PUT", "DELETE"}),
		Host:   pick(rng, []string{"a.com", "b.com", "A.COM", "x.a.com", "a.org", "c.com", "a.com:8000", "b.com:9000", ""}),
		Path:   pick(rng, []string{"/", "/a", "/a/", "/a/b", "/a/b/c", "/a/1", "/ab", "/abc", "/b", "/b/c", "/B/x", "/c", "/x/c", "/a/12/b"}),
		Port:   pick(rng, []int{8000, 8443, 9000}),
		Header: http.Header{},
	}
	if rng.IntN(2) == 0 {
		req.Header.Set("X-A", pick(rng, []string{"1", "2", "3"}))
	}
	if rng.IntN(3) == 0 {
		req.Header.Set("X-B", "Y")
	}
	if rng.IntN(2) == 0 {
		req.TLS = true
		req.SNI = pick(rng, []string{"a.com", "b.com", ""})
	}
	return req
}

// TestRandomizedAgainstLinearScan checks the indexed Match against a plain
// scan over the priority-sorted sub-routes for random routes and requests.
func TestRandomizedAgainstLinearScan(t *testing.T) {
	t.Parallel()
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		routes := randomRoutes(rng, 1+rng.IntN(40))
		r, err := BuildWithOptions(nil, routes, nil, Options{DocumentedPriority: round%2 == 1})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for range 50 {
			req := randomRequest(rng)
			got, gok := r.Match(req)
			want, wok := r.MatchLinear(req)
			if gok != wok || got.Route != want.Route || got.Matched != want.Matched || !maps.Equal(got.Captures, want.Captures) {
				t.Fatalf("round %d, request %+v:\n got %v %+v\nwant %v %+v", round, req, gok, got, wok, want)
			}
		}
	}
}

// TestRandomizedIncremental changes, adds and deletes random routes between
// builds and checks that a build from the previous router answers like a
// build from scratch, and that the previous router is left untouched.
func TestRandomizedIncremental(t *testing.T) {
	t.Parallel()
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range rounds {
		routes := randomRoutes(rng, 1+rng.IntN(60))
		prev, err := Build(nil, routes, nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs := make([]*Request, 60)
		before := make([]*model.Route, len(reqs))
		for i := range reqs {
			reqs[i] = randomRequest(rng)
			m, _ := prev.Match(reqs[i])
			before[i] = m.Route
		}
		cur := prev
		for range 3 {
			next := append([]*model.Route(nil), routes...)
			fresh := randomRoutes(rng, 1+rng.IntN(10))
			for _, f := range fresh {
				switch k := rng.IntN(3); {
				case k == 0 && len(next) > 0: // change a route, keeping its id
					i := rng.IntN(len(next))
					f.ID = next[i].ID
					next[i] = f
				case k == 1 && len(next) > 0: // delete one
					i := rng.IntN(len(next))
					next = append(next[:i], next[i+1:]...)
				default: // add
					f.ID = uid(1<<40 | rng.IntN(1<<30))
					next = append(next, f)
				}
			}
			seenID := map[string]bool{}
			dedup := next[:0]
			for _, r := range next {
				if !seenID[r.ID] {
					seenID[r.ID] = true
					dedup = append(dedup, r)
				}
			}
			next = dedup
			inc, err := Build(cur, next, nil)
			if err != nil {
				t.Fatal(err)
			}
			full, err := Build(nil, next, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range reqs {
				a, aok := inc.Match(req)
				b, bok := full.Match(req)
				c, cok := inc.MatchLinear(req)
				if aok != bok || a.Route != b.Route || aok != cok || a.Route != c.Route {
					t.Fatalf("round %d, request %+v: incremental %v %v, from scratch %v %v, linear %v %v",
						round, req, aok, a.Route, bok, b.Route, cok, c.Route)
				}
			}
			cur, routes = inc, next
		}
		for i, req := range reqs {
			if m, _ := prev.Match(req); m.Route != before[i] {
				t.Fatalf("round %d: the first router changed its answer for %+v", round, req)
			}
		}
	}
}

// TestIncrementalIndexStaysCompact adds and deletes routes many times and
// checks that the index does not keep what was deleted.
func TestIncrementalIndexStaysCompact(t *testing.T) {
	t.Parallel()
	base, _ := genRoutes("mixed", 100)
	r := mustBuild(t, nil, base, nil)
	wantBuckets, wantNodes := r.ix.size()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		extra := randomRoutes(rng, 20)
		for j, e := range extra {
			e.ID = uid(1<<40 | i<<8 | j)
			e.Hosts = append(e.Hosts, fmt.Sprintf("h%d-%d.example.com", i, j))
			e.Paths = append(e.Paths, fmt.Sprintf("/churn/%d/%d", i, j))
		}
		r = mustBuild(t, r, append(append([]*model.Route(nil), base...), extra...), nil)
		r = mustBuild(t, r, base, nil)
	}
	buckets, nodes := r.ix.size()
	if buckets != wantBuckets || nodes > wantNodes+wantNodes/10 {
		t.Errorf("after churn: %d buckets, %d nodes; want %d buckets, about %d nodes", buckets, nodes, wantBuckets, wantNodes)
	}
}
