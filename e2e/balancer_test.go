package e2e

import (
	"fmt"
	"testing"
)

// TestLoadBalancing checks weighted round-robin over an upstream's targets.
func TestLoadBalancing(t *testing.T) {
	t.Parallel()
	r1, r2, r3 := newBackend(t, "r1"), newBackend(t, "r2"), newBackend(t, "r3")
	w1, w2 := newBackend(t, "w1"), newBackend(t, "w2")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: rr
  host: rr.upstream
  routes:
  - name: rr
    paths: [/rr]
- name: hashed
  host: hashed.upstream
  routes:
  - name: hashed
    paths: [/hashed]
- name: weighted
  host: weighted.upstream
  path: /w
  routes:
  - name: weighted
    paths: [/weighted]
upstreams:
- name: rr.upstream
  targets:
  - target: ${R1}
  - target: ${R2}
  - target: ${R3}
- name: hashed.upstream
  algorithm: consistent-hashing
  hash_on: header
  hash_on_header: x-user
  host_header: backend.internal
  targets:
  - target: ${R1}
  - target: ${R2}
  - target: ${R3}
- name: weighted.upstream
  algorithm: round-robin
  targets:
  - target: ${W1}
    weight: 100
  - target: ${W2}
    weight: 200
`, map[string]string{
		"R1": r1.addr(), "R2": r2.addr(), "R3": r3.addr(),
		"W1": w1.addr(), "W2": w2.addr(),
	}))

	tests := []struct {
		name     string
		path     string
		backends []*backend
		want     []int // expected requests per backend out of the total
	}{
		{name: "round-robin equal weights", path: "/rr/x", backends: []*backend{r1, r2, r3}, want: []int{100, 100, 100}},
		{name: "weights 1:2", path: "/weighted/x", backends: []*backend{w1, w2}, want: []int{100, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := 0
			for _, w := range tt.want {
				total += w
			}
			counts := map[string]int{}
			for i := range total {
				resp := g.mustDo(t, request{path: tt.path})
				e, ok := decodeEcho(resp.body)
				if resp.status != 200 || !ok {
					t.Fatalf("request %d: status = %d, body %q; want 200 from a target", i, resp.status, resp.body)
				}
				counts[e.Server]++
			}
			for i, b := range tt.backends {
				got, want := counts[b.name], tt.want[i]
				if diff := got - want; diff > want/10 || -diff > want/10 {
					t.Errorf("target %s got %d of %d requests; want %d ±10%% (all: %v)", b.name, got, total, want, counts)
				}
			}
		})
	}

	t.Run("target Host header", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/rr/host"})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200", resp.status, resp.body)
		}
		// Kong sends the balanced target's host (with its port when it is
		// not the scheme default), not the upstream's name; an upstream's
		// host_header would override it.
		want := map[string]string{"r1": r1.addr(), "r2": r2.addr(), "r3": r3.addr()}[e.Server]
		if e.Host != want {
			t.Errorf("upstream Host = %q; want the target %q", e.Host, want)
		}
	})

	t.Run("consistent hashing on a header", func(t *testing.T) {
		owner := map[string]string{}
		used := map[string]bool{}
		ports := map[string]string{"r1": r1.port(), "r2": r2.port(), "r3": r3.port()}
		for round := range 3 {
			for u := range 20 {
				user := fmt.Sprintf("user-%d", u)
				resp := g.mustDo(t, request{path: "/hashed/x", headers: map[string]string{"X-User": user}})
				e, ok := decodeEcho(resp.body)
				if resp.status != 200 || !ok {
					t.Fatalf("status = %d, body %q; want 200 from a target", resp.status, resp.body)
				}
				if round == 0 {
					owner[user] = e.Server
				} else if e.Server != owner[user] {
					t.Errorf("round %d: %s went to %s; want %s as before", round, user, e.Server, owner[user])
				}
				used[e.Server] = true
				// Kong uses host_header in place of the target's host and
				// still appends the target's non-default port.
				wantHost := "backend.internal:" + ports[e.Server]
				if e.Host != wantHost {
					t.Errorf("upstream Host = %q; want %q (host_header and target port)", e.Host, wantHost)
				}
			}
		}
		if len(used) < 2 {
			t.Errorf("20 users hashed onto %v; want them spread over more than one target", used)
		}
	})
}
