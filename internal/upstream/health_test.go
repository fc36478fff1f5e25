package upstream

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
)

// TestCounterSemantics follows Kong's health checker: a success resets the
// failure counters, a failure resets the success counter, reports matching a
// settled state are ignored and the "mostly" states keep availability.
func TestCounterSemantics(t *testing.T) {
	type step struct {
		healthy bool
		kind    int
		limit   int
		want    int32
	}
	tests := []struct {
		name  string
		start int32
		steps []step
	}{
		{"failures reach the limit", stHealthy, []step{
			{false, ctrHTTP, 3, stMostlyHealthy},
			{false, ctrHTTP, 3, stMostlyHealthy},
			{false, ctrHTTP, 3, stUnhealthy},
		}},
		{"a success resets failures", stHealthy, []step{
			{false, ctrTCP, 2, stMostlyHealthy},
			{true, ctrSuccess, 5, stMostlyHealthy}, // limit not reached: only the counters change
			{false, ctrTCP, 2, stMostlyHealthy},
			{false, ctrTCP, 2, stUnhealthy},
		}},
		{"counters are separate per kind", stHealthy, []step{
			{false, ctrTCP, 2, stMostlyHealthy},
			{false, ctrTimeout, 2, stMostlyHealthy},
			{false, ctrHTTP, 2, stMostlyHealthy},
			{false, ctrTimeout, 2, stUnhealthy},
		}},
		{"recovery needs consecutive successes", stUnhealthy, []step{
			{true, ctrSuccess, 2, stMostlyUnhealthy},
			{false, ctrHTTP, 5, stMostlyUnhealthy}, // resets the success counter
			{true, ctrSuccess, 2, stMostlyUnhealthy},
			{true, ctrSuccess, 2, stHealthy},
		}},
		{"limit 0 disables", stHealthy, []step{
			{false, ctrHTTP, 0, stHealthy},
			{false, ctrHTTP, 0, stHealthy},
		}},
		{"successes on a healthy target are ignored", stHealthy, []step{
			{true, ctrSuccess, 1, stHealthy},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &address{}
			a.state.Store(tt.start)
			for i, s := range tt.steps {
				a.report(s.healthy, s.kind, s.limit)
				if got := a.state.Load(); got != s.want {
					t.Fatalf("step %d: got state %d; want %d (counters %v)", i, got, s.want, a.counters())
				}
			}
		})
	}
}

// flipServer answers with the status stored in code and counts requests.
func flipServer(t *testing.T, code *atomic.Int32, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		w.WriteHeader(int(code.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func activeHTTP(u *model.Upstream) {
	u.Healthchecks.Active.HTTPPath = "/status"
	u.Healthchecks.Active.Timeout = 0.5
	u.Healthchecks.Active.Healthy.Interval = 0.05
	u.Healthchecks.Active.Healthy.Successes = 2
	u.Healthchecks.Active.Unhealthy.Interval = 0.05
	u.Healthchecks.Active.Unhealthy.HTTPFailures = 2
	u.Healthchecks.Active.Unhealthy.TCPFailures = 1
	u.Healthchecks.Active.Unhealthy.Timeouts = 1
}

func TestActiveHTTPCheckEjectsAndRecovers(t *testing.T) {
	var codeA, codeB atomic.Int32
	codeA.Store(200)
	codeB.Store(200)
	var pathOK atomic.Bool
	pathOK.Store(true)
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" || r.Header.Get("X-Probe") != "yes" || r.Host != "backend.example" {
			pathOK.Store(false)
		}
		w.WriteHeader(int(codeA.Load()))
	}))
	defer srvA.Close()
	srvB := flipServer(t, &codeB, nil)

	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP, func(u *model.Upstream) {
		u.Healthchecks.Active.Headers = map[string][]string{"X-Probe": {"yes"}}
		u.HostHeader = ptr("backend.example")
	})
	a, bAddr := hostOf(srvA), hostOf(srvB)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, a, bAddr))["svc"]

	codeA.Store(500)
	waitFor(t, 3*time.Second, "target A unhealthy", func() bool { return healthOf(b, a) == HealthUnhealthy })
	for i := 0; i < 10; i++ {
		if pe := pickDone(t, b, getReq("/"), nil); pe.Addr == a {
			t.Fatalf("pick %d: got ejected target %s", i, a)
		}
	}
	if got := healthOf(b, bAddr); got != HealthHealthy {
		t.Errorf("target B: got %s; want HEALTHY", got)
	}
	codeA.Store(200)
	waitFor(t, 3*time.Second, "target A healthy again", func() bool { return healthOf(b, a) == HealthHealthy })
	seen := false
	for i := 0; i < 10; i++ {
		if pickDone(t, b, getReq("/"), nil).Addr == a {
			seen = true
		}
	}
	if !seen {
		t.Errorf("recovered target %s never picked", a)
	}
	if !pathOK.Load() {
		t.Error("probe did not send GET /status with X-Probe: yes and Host: backend.example")
	}
}

func TestActiveTCPCheckClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP, func(u *model.Upstream) { u.Healthchecks.Active.Type = "tcp" })
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, closedAddr, open.Addr().String()))["svc"]
	waitFor(t, 3*time.Second, "closed port unhealthy", func() bool { return healthOf(b, closedAddr) == HealthUnhealthy })
	th, _ := b.TargetHealth(closedAddr)
	if th.Addresses[0].TCPFailures < 1 {
		t.Errorf("tcp failure counter: got %d; want >= 1", th.Addresses[0].TCPFailures)
	}
	time.Sleep(150 * time.Millisecond)
	if got := healthOf(b, open.Addr().String()); got != HealthHealthy {
		t.Errorf("open port: got %s; want HEALTHY", got)
	}
}

func TestActiveHTTPSCheck(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP, func(u *model.Upstream) {
		u.Healthchecks.Active.Type = "https"
		u.Healthchecks.Active.HTTPSVerifyCertificate = false
	})
	addr := hostOf(srv)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, addr))["svc"]
	code.Store(503)
	waitFor(t, 3*time.Second, "https target unhealthy", func() bool { return healthOf(b, addr) == HealthUnhealthy })

	// With verification on, the self-signed certificate fails the handshake,
	// which Kong counts as a TCP failure.
	u2 := newUpstream("u2", "svc2", activeHTTP, func(u *model.Upstream) { u.Healthchecks.Active.Type = "https" })
	code.Store(200)
	b2 := p.Update([]*model.Upstream{u, u2}, append(targets("u1", 100, addr), targets("u2", 100, addr)...))["svc2"]
	waitFor(t, 3*time.Second, "unverifiable https target unhealthy", func() bool { return healthOf(b2, addr) == HealthUnhealthy })
	waitFor(t, 3*time.Second, "verify-off https target healthy again", func() bool { return healthOf(b, addr) == HealthHealthy })
}

func TestPassiveEjection(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*model.Upstream)
		result Result
		limit  int
	}{
		{"http statuses", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.HTTPFailures = 3 }, Result{Status: 500}, 3},
		{"tcp failures", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.TCPFailures = 2 }, Result{TCPFailure: true}, 2},
		{"timeouts", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.Timeouts = 2 }, Result{Timeout: true}, 2},
		{"failed attempt with 504 is a timeout", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.Timeouts = 2 }, Result{TCPFailure: true, Status: 504}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool()
			defer p.Close()
			u := newUpstream("u1", "svc", tt.mod, func(u *model.Upstream) { u.Algorithm = "least-connections" })
			all := ipTargets(2)
			b := p.Update([]*model.Upstream{u}, targets("u1", 100, all...))["svc"]
			pe := b.v.Load().nodes[0].peer // drive one target directly
			for i := 1; i <= tt.limit; i++ {
				pe.a.inflight.Add(1)
				b.Done(&pe, tt.result)
				want := HealthHealthy
				if i == tt.limit {
					want = HealthUnhealthy
				}
				if got := healthOf(b, pe.Addr); got != want {
					t.Fatalf("after %d failures: got %s; want %s", i, got, want)
				}
			}
			for i := 0; i < 5; i++ {
				if got := pickDone(t, b, getReq("/"), nil); got.Addr == pe.Addr {
					t.Fatalf("picked ejected %s", pe.Addr)
				}
			}
		})
	}
}

// TestPassiveOnlyStaysUnhealthy documents Kong's circuit breaker: with only
// passive checks an ejected target gets no traffic, so nothing brings it
// back until SetHealthy (the Admin API) does.
func TestPassiveOnlyStaysUnhealthy(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Healthchecks.Passive.Unhealthy.HTTPFailures = 1
		u.Healthchecks.Passive.Healthy.Successes = 1
	})
	all := ipTargets(2)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, all...))["svc"]
	pe, _ := b.Pick(getReq("/"), nil, nil)
	b.Done(pe, Result{Status: 503})
	for i := 0; i < 20; i++ {
		if got := pickDone(t, b, getReq("/"), nil); got.Addr == pe.Addr {
			t.Fatalf("ejected target picked")
		}
	}
	if got := healthOf(b, pe.Addr); got != HealthUnhealthy {
		t.Fatalf("got %s; want UNHEALTHY", got)
	}
	if err := p.SetHealthy("svc", pe.Addr, "", true); err != nil {
		t.Fatal(err)
	}
	if got := healthOf(b, pe.Addr); got != HealthHealthy {
		t.Fatalf("after SetHealthy: got %s; want HEALTHY", got)
	}
}

func TestHealthchecksOff(t *testing.T) {
	p := NewPool()
	defer p.Close()
	b := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 100, ipTargets(2)...))["svc"]
	for _, th := range b.Health() {
		if th.Health != HealthOff || th.Addresses[0].Health != HealthOff {
			t.Errorf("%s: got %s/%s; want HEALTHCHECKS_OFF", th.Target, th.Health, th.Addresses[0].Health)
		}
	}
	if got := b.BalancerHealth().Health; got != HealthOff {
		t.Errorf("balancer health: got %s; want HEALTHCHECKS_OFF", got)
	}
	err := p.SetHealthy("svc", "10.0.0.1:80", "", false)
	if err == nil || !strings.Contains(err.Error(), "no healthchecker found for svc") {
		t.Errorf("SetHealthy without health checks: got %v; want no healthchecker error", err)
	}
	// Passive results are ignored.
	pe, _ := b.Pick(getReq("/"), nil, nil)
	for i := 0; i < 10; i++ {
		b.Done(pe, Result{TCPFailure: true})
	}
	if got := healthOf(b, pe.Addr); got != HealthOff {
		t.Errorf("after failures: got %s; want HEALTHCHECKS_OFF", got)
	}
}

func TestSetHealthyAddress(t *testing.T) {
	res := &fakeResolver{}
	res.set("multi.test", "10.1.0.1", "10.1.0.2")
	p := NewPoolWithOptions(Options{Resolver: res})
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.TCPFailures = 1 })
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, "multi.test:81"))["svc"]
	if err := p.SetHealthy("u1", "multi.test:81", "10.1.0.2", false); err != nil {
		t.Fatal(err)
	}
	th, _ := b.TargetHealth("multi.test:81")
	if th.Health != HealthHealthy || th.Addresses[0].Health != HealthHealthy || th.Addresses[1].Health != HealthUnhealthy {
		t.Fatalf("got %+v; want target HEALTHY with .2 UNHEALTHY", th)
	}
	if err := p.SetHealthy("svc", "multi.test:81", "", false); err != nil {
		t.Fatal(err)
	}
	if got := healthOf(b, "multi.test:81"); got != HealthUnhealthy {
		t.Fatalf("whole target: got %s; want UNHEALTHY", got)
	}
	if err := p.SetHealthy("svc", "other:1", "", false); err == nil {
		t.Error("unknown target: got nil error")
	}
	if err := p.SetHealthy("nope", "multi.test:81", "", false); err == nil {
		t.Error("unknown upstream: got nil error")
	}
}

func TestActiveCheckTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accept, never answer
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP, func(u *model.Upstream) {
		u.Healthchecks.Active.Timeout = 0.1
		u.Healthchecks.Active.Unhealthy.TCPFailures = 0
	})
	addr := ln.Addr().String()
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, addr))["svc"]
	waitFor(t, 3*time.Second, "silent target unhealthy", func() bool { return healthOf(b, addr) == HealthUnhealthy })
	th, _ := b.TargetHealth(addr)
	if th.Addresses[0].Timeouts < 1 || th.Addresses[0].TCPFailures != 0 {
		t.Errorf("counters: got timeouts %d tcp %d; want timeouts >= 1 and no tcp failures", th.Addresses[0].Timeouts, th.Addresses[0].TCPFailures)
	}
	if _, err := b.Pick(getReq("/"), nil, nil); err == nil {
		t.Error("Pick with the only target timed out: got a peer; want ErrNoPeer")
	}
}

func TestActiveCheckConcurrencyAndDisable(t *testing.T) {
	var cur, peak, hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		cur.Add(-1)
	}))
	defer srv.Close()
	// Five targets that all reach the same server (distinct host names).
	res := &fakeResolver{}
	host, port, _ := net.SplitHostPort(hostOf(srv))
	var ts []*model.Target
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("t%d.test", i)
		res.set(name, host)
		ts = append(ts, newTarget("u1", name+":"+port, 100))
	}
	p := NewPoolWithOptions(Options{Resolver: res})
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP, func(u *model.Upstream) { u.Healthchecks.Active.Concurrency = 2 })
	p.Update([]*model.Upstream{u}, ts)
	waitFor(t, 3*time.Second, "two probe rounds", func() bool { return hits.Load() >= 10 })
	if got := peak.Load(); got > 2 {
		t.Errorf("concurrent probes: got %d; want at most concurrency 2", got)
	}
	// Turning active checks off stops probing.
	p.Update([]*model.Upstream{newUpstream("u1", "svc")}, ts)
	time.Sleep(40 * time.Millisecond) // let a probe in flight finish
	before := hits.Load()
	time.Sleep(200 * time.Millisecond)
	if got := hits.Load(); got != before {
		t.Errorf("probes after disabling active checks: got %d more; want 0", got-before)
	}
}
