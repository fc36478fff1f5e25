package e2e

import (
	"testing"
	"time"
)

const activeHealthConfig = `_format_version: "3.0"
services:
- name: active
  host: active.upstream
  routes:
  - name: active
    paths: [/active]
- name: passive
  host: passive.upstream
  routes:
  - name: passive
    paths: [/passive]
- name: dead
  host: dead.upstream
  routes:
  - name: dead
    paths: [/dead]
upstreams:
- name: active.upstream
  healthchecks:
    active:
      type: http
      http_path: ${HEALTH}
      timeout: 1
      healthy:
        interval: 0.1
        successes: 1
      unhealthy:
        interval: 0.1
        http_failures: 1
  targets:
  - target: ${A1}
  - target: ${A2}
  - target: ${A3}
- name: passive.upstream
  healthchecks:
    passive:
      type: http
      unhealthy:
        http_statuses: [500]
        http_failures: 2
  targets:
  - target: ${P1}
  - target: ${P2}
  - target: ${P3}
- name: dead.upstream
  healthchecks:
    active:
      type: http
      http_path: ${HEALTH}
      healthy:
        interval: 0.1
        successes: 1
      unhealthy:
        interval: 0.1
        http_failures: 1
  targets:
  - target: ${D1}
  - target: ${D2}
`

// TestHealthChecks checks active probing (a target failing its probe leaves
// the rotation and comes back when it passes again), passive ejection after
// failed responses, and the 503 when no target is healthy.
func TestHealthChecks(t *testing.T) {
	t.Parallel()
	a1, a2, a3 := newBackend(t, "a1"), newBackend(t, "a2"), newBackend(t, "a3")
	p1, p2, p3 := newBackend(t, "p1"), newBackend(t, "p2"), newBackend(t, "p3")
	d1, d2 := newBackend(t, "d1"), newBackend(t, "d2")
	d1.failHealth.Store(true)
	d2.failHealth.Store(true)
	g := startGateway(t, fill(activeHealthConfig, map[string]string{
		"HEALTH": healthPath,
		"A1":     a1.addr(), "A2": a2.addr(), "A3": a3.addr(),
		"P1": p1.addr(), "P2": p2.addr(), "P3": p3.addr(),
		"D1": d1.addr(), "D2": d2.addr(),
	}))

	// servedBy sends n requests and counts which targets answered; any
	// non-200 is a failure.
	servedBy := func(t *testing.T, path string, n int) map[string]int {
		t.Helper()
		counts := map[string]int{}
		for i := 0; i < n; i++ {
			resp := g.mustDo(t, request{path: path})
			e, ok := decodeEcho(resp.body)
			if !ok {
				t.Fatalf("status = %d, body %q; want an answer from a target", resp.status, resp.body)
			}
			counts[e.Server]++
		}
		return counts
	}

	t.Run("active", func(t *testing.T) {
		if c := servedBy(t, "/active/x", 30); c["a1"] == 0 || c["a2"] == 0 || c["a3"] == 0 {
			t.Fatalf("before any failure, distribution %v; want every target used", c)
		}
		if _, ok := eventually(2*time.Second, func() bool { return a2.healthHits.Load() > 0 }); !ok {
			t.Fatalf("target a2 received no active probe on %s within 2s", healthPath)
		}

		a2.failHealth.Store(true)
		took, ok := eventually(3*time.Second, func() bool {
			return servedBy(t, "/active/x", 15)["a2"] == 0
		})
		if !ok {
			t.Fatalf("a2 fails its health check but still receives traffic after %v", took)
		}
		if took > 2*time.Second {
			t.Errorf("a2 left the rotation after %v; want within ~1s, at most 2s (interval 0.1 s, http_failures 1)", took)
		}
		if c := servedBy(t, "/active/x", 30); c["a2"] != 0 || c["a1"] == 0 || c["a3"] == 0 {
			t.Errorf("with a2 unhealthy, distribution %v; want a1 and a3 only", c)
		}

		a2.failHealth.Store(false)
		took, ok = eventually(3*time.Second, func() bool {
			return servedBy(t, "/active/x", 15)["a2"] > 0
		})
		if !ok {
			t.Fatalf("a2 passes its health check again but receives no traffic after %v", took)
		}
		if took > 2*time.Second {
			t.Errorf("a2 came back after %v; want within ~1s, at most 2s (interval 0.1 s, successes 1)", took)
		}
	})

	t.Run("passive", func(t *testing.T) {
		p3.failAll.Store(true)
		fails := 0
		for i := 0; i < 60; i++ {
			resp := g.mustDo(t, request{path: "/passive/x"})
			e, ok := decodeEcho(resp.body)
			if !ok {
				t.Fatalf("request %d: status = %d, body %q; want an answer from a target", i, resp.status, resp.body)
			}
			if e.Server == "p3" {
				fails++
				if resp.status != 500 {
					t.Errorf("p3 answered %d; want its 500 passed through", resp.status)
				}
			}
		}
		if fails != 2 {
			t.Errorf("p3 answered %d of 60 requests with 500; want exactly 2 (passive http_failures 2)", fails)
		}
		if p1.hits.Load() == 0 || p2.hits.Load() == 0 {
			t.Errorf("p1 got %d and p2 got %d requests; want both used", p1.hits.Load(), p2.hits.Load())
		}
	})

	t.Run("all targets unhealthy", func(t *testing.T) {
		var last response
		took, ok := eventually(3*time.Second, func() bool {
			last = g.mustDo(t, request{path: "/dead/x", headers: map[string]string{"Accept": "application/json"}})
			return last.status == 503
		})
		if !ok {
			t.Fatalf("after %v with every target failing its probe: status = %d, body %q; want 503", took, last.status, last.body)
		}
		id := last.header.Get("X-Kong-Request-Id")
		want := "{\n  \"message\":\"failure to get a peer from the ring-balancer\",\n  \"request_id\":\"" + id + "\"\n}"
		if string(last.body) != want {
			t.Errorf("body = %q; want %q", last.body, want)
		}
		d1.failHealth.Store(false)
		if took, ok := eventually(3*time.Second, func() bool {
			return g.mustDo(t, request{path: "/dead/x"}).status == 200
		}); !ok {
			t.Errorf("d1 healthy again, but /dead still fails after %v", took)
		}
	})
}

// TestReloadKeepsHealthState checks that a reload which does not touch an
// upstream keeps its health state: a target ejected by passive checks (which
// never bring it back on their own) stays out after the reload.
func TestReloadKeepsHealthState(t *testing.T) {
	t.Parallel()
	p1, p2 := newBackend(t, "p1"), newBackend(t, "p2")
	other := newBackend(t, "other")
	p2.failAll.Store(true)
	cfg := func(extra string) string {
		return fill(`_format_version: "3.0"
services:
- name: passive
  host: passive.upstream
  routes:
  - name: passive
    paths: [/passive]
- name: other
  url: ${OTHER}
  routes:
  - name: other
    paths: [/other]
`+extra+`upstreams:
- name: passive.upstream
  healthchecks:
    passive:
      unhealthy:
        http_statuses: [500]
        http_failures: 1
  targets:
  - target: ${P1}
  - target: ${P2}
`, map[string]string{"P1": p1.addr(), "P2": p2.addr(), "OTHER": other.url()})
	}
	g := startGateway(t, cfg(""))
	for i := 0; i < 10; i++ {
		g.mustDo(t, request{path: "/passive/x"})
	}
	if got := p2.hits.Load(); got != 1 {
		t.Fatalf("p2 received %d requests before the reload; want 1 (ejected after one 500)", got)
	}
	g.reload(cfg("  - name: added\n    paths: [/added]\n"))
	if _, ok := eventually(3*time.Second, func() bool {
		return g.mustDo(t, request{path: "/added"}).status == 200
	}); !ok {
		t.Fatal("the reloaded config is not served")
	}
	for i := 0; i < 20; i++ {
		resp := g.mustDo(t, request{path: "/passive/x"})
		if resp.status != 200 {
			t.Errorf("after the reload request %d: status %d; want 200 from p1", i, resp.status)
		}
	}
	if got := p2.hits.Load(); got != 1 {
		t.Errorf("p2 received %d requests in total; want still 1: the reload must not reset its health", got)
	}
}
