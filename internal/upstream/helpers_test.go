package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
)

// newUpstream returns an upstream with Kong's defaults, changed by mods.
func newUpstream(id, name string, mods ...func(*model.Upstream)) *model.Upstream {
	u := &model.Upstream{
		ID: id, Name: name, Algorithm: "round-robin", HashOn: "none", HashFallback: "none",
		HashOnCookiePath: "/", Slots: 10000,
		Healthchecks: model.Healthchecks{
			Active: model.ActiveHealthcheck{
				Type: "http", Timeout: 1, Concurrency: 10, HTTPPath: "/", HTTPSVerifyCertificate: true,
				Healthy:   model.ActiveHealthy{HTTPStatuses: []int{200, 302}},
				Unhealthy: model.ActiveUnhealthy{HTTPStatuses: []int{429, 404, 500, 501, 502, 503, 504, 505}},
			},
			Passive: model.PassiveHealthcheck{
				Type:      "http",
				Healthy:   model.PassiveHealthy{HTTPStatuses: defPassiveHealthy},
				Unhealthy: model.PassiveUnhealthy{HTTPStatuses: []int{429, 500, 503}},
			},
		},
	}
	for _, m := range mods {
		m(u)
	}
	return u
}

func newTarget(upID, target string, weight int) *model.Target {
	return &model.Target{ID: upID + "/" + target, Upstream: &model.ForeignKey{ID: upID}, Target: target, Weight: weight}
}

func targets(upID string, weight int, addrs ...string) []*model.Target {
	var ts []*model.Target
	for _, a := range addrs {
		ts = append(ts, newTarget(upID, a, weight))
	}
	return ts
}

func ptr[T any](v T) *T { return &v }

func getReq(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// pickDone picks and immediately reports a 200.
func pickDone(t testing.TB, b *Balancer, r *http.Request, pc *PickContext) *Peer {
	t.Helper()
	p, err := b.Pick(r, pc, nil)
	if err != nil {
		t.Fatalf("Pick: got error %v; want a peer", err)
	}
	b.Done(p, Result{Status: 200})
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func healthOf(b *Balancer, target string) string {
	th, ok := b.TargetHealth(target)
	if !ok {
		return "<missing>"
	}
	return th.Health
}

func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}

func ipTargets(n int) []string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, fmt.Sprintf("10.0.%d.%d:80", i/250, i%250+1))
	}
	return s
}
