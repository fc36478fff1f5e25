package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
)

// fakeResolver answers from a table; names without an entry fail.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   atomic.Int32
}

func (f *fakeResolver) set(host string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string][]string{}
	}
	if ips == nil {
		delete(f.answers, host)
		return
	}
	f.answers[host] = ips
}

func (f *fakeResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	ips, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
	}
	return out, nil
}

func addrsOf(b *Balancer) map[string]bool {
	m := map[string]bool{}
	for i := 0; i < 20; i++ {
		p, err := b.Pick(getReq("/"), nil, nil)
		if err != nil {
			return m
		}
		b.Done(p, Result{Status: 200})
		m[p.Addr] = true
	}
	return m
}

func TestDNSResolutionAndRefresh(t *testing.T) {
	res := &fakeResolver{}
	res.set("api.test", "10.9.0.2", "10.9.0.1")
	p := NewPoolWithOptions(Options{Resolver: res, DNSRefresh: 30 * time.Millisecond, DNSErrorRetry: 30 * time.Millisecond})
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.TCPFailures = 1 })
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, "api.test:9000", "10.9.9.9:1"))["svc"]
	got := addrsOf(b)
	if !got["10.9.0.1:9000"] || !got["10.9.0.2:9000"] || !got["10.9.9.9:1"] {
		t.Fatalf("picked %v; want both resolved addresses and the IP target", got)
	}
	th, _ := b.TargetHealth("api.test:9000")
	if th.Host != "api.test" || len(th.Addresses) != 2 || th.DNS != "A" {
		t.Fatalf("target health: got %+v; want 2 addresses from A records", th)
	}
	// Mark one address unhealthy: it keeps its state while it stays in DNS.
	if err := b.SetHealthy("api.test:9000", "10.9.0.1", false); err != nil {
		t.Fatal(err)
	}
	res.set("api.test", "10.9.0.1", "10.9.0.3")
	waitFor(t, 2*time.Second, "DNS refresh", func() bool {
		th, _ := b.TargetHealth("api.test:9000")
		return len(th.Addresses) == 2 && th.Addresses[1].IP == "10.9.0.3"
	})
	th, _ = b.TargetHealth("api.test:9000")
	if th.Addresses[0].IP != "10.9.0.1" || th.Addresses[0].Health != HealthUnhealthy {
		t.Errorf("kept address: got %+v; want 10.9.0.1 still UNHEALTHY", th.Addresses[0])
	}
	// The name disappears: DNS_ERROR, only the IP target is left.
	res.set("api.test")
	waitFor(t, 2*time.Second, "DNS_ERROR", func() bool { return healthOf(b, "api.test:9000") == HealthDNSError })
	if got := addrsOf(b); len(got) != 1 || !got["10.9.9.9:1"] {
		t.Errorf("picked %v; want only 10.9.9.9:1", got)
	}
	// And comes back.
	res.set("api.test", "10.9.0.7")
	waitFor(t, 2*time.Second, "recovered DNS", func() bool { return healthOf(b, "api.test:9000") == HealthHealthy })
}

func TestDNSPrefersIPv4(t *testing.T) {
	res := &fakeResolver{}
	res.set("dual.test", "::1", "127.0.0.1")
	res.set("v6.test", "::1")
	p := NewPoolWithOptions(Options{Resolver: res})
	defer p.Close()
	b := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 100, "dual.test:80", "v6.test:80"))["svc"]
	got := addrsOf(b)
	if len(got) != 2 || !got["127.0.0.1:80"] || !got["[::1]:80"] {
		t.Errorf("picked %v; want 127.0.0.1:80 for the dual-stack name and [::1]:80 for the IPv6-only one", got)
	}
	if th, _ := b.TargetHealth("v6.test:80"); th.DNS != "AAAA" || th.Host != "v6.test" {
		t.Errorf("IPv6-only target: got DNS %q host %q; want AAAA v6.test", th.DNS, th.Host)
	}
}

func TestDNSResolvedOncePerName(t *testing.T) {
	res := &fakeResolver{}
	res.set("shared.test", "10.8.0.1")
	p := NewPoolWithOptions(Options{Resolver: res})
	defer p.Close()
	ups := []*model.Upstream{newUpstream("u1", "a"), newUpstream("u2", "b")}
	ts := append(targets("u1", 100, "shared.test:80"), targets("u2", 100, "shared.test:81")...)
	for i := 0; i < 5; i++ {
		p.Update(ups, ts)
	}
	if got := res.calls.Load(); got != 1 {
		t.Errorf("lookups: got %d; want 1 for one name used by two upstreams over 5 updates", got)
	}
}

func TestHealthPreservedAcrossUpdate(t *testing.T) {
	p := NewPool()
	defer p.Close()
	mk := func(mods ...func(*model.Upstream)) []*model.Upstream {
		all := append([]func(*model.Upstream){func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.HTTPFailures = 5 }}, mods...)
		return []*model.Upstream{newUpstream("u1", "svc", all...)}
	}
	b := p.Update(mk(), targets("u1", 100, "10.0.0.1:80", "10.0.0.2:80"))["svc"]
	if err := b.SetHealthy("10.0.0.1:80", "", false); err != nil {
		t.Fatal(err)
	}
	pe, _ := b.Pick(getReq("/"), nil, nil)
	b.Done(pe, Result{Status: 500}) // one failure counted on .2
	if pe.Addr != "10.0.0.2:80" {
		t.Fatalf("picked %s; want 10.0.0.2:80", pe.Addr)
	}

	// Same targets (fresh objects), other weight, other algorithm: state kept.
	b2 := p.Update(mk(func(u *model.Upstream) { u.Algorithm = "least-connections" }),
		[]*model.Target{newTarget("u1", "10.0.0.1:80", 50), newTarget("u1", "10.0.0.2:80", 100)})["svc"]
	if b2 != b {
		t.Error("Update returned a new Balancer for the same upstream id")
	}
	if got := healthOf(b, "10.0.0.1:80"); got != HealthUnhealthy {
		t.Errorf("unchanged target: got %s; want UNHEALTHY kept", got)
	}
	if th, _ := b.TargetHealth("10.0.0.2:80"); th.Addresses[0].HTTPFailures != 1 {
		t.Errorf("counter of unchanged target: got %d; want 1", th.Addresses[0].HTTPFailures)
	}

	// A changed target (new port) starts fresh; the old one is gone.
	p.Update(mk(), targets("u1", 100, "10.0.0.1:81", "10.0.0.2:80"))
	if got := healthOf(b, "10.0.0.1:81"); got != HealthHealthy {
		t.Errorf("changed target: got %s; want HEALTHY", got)
	}
	if _, ok := b.TargetHealth("10.0.0.1:80"); ok {
		t.Error("removed target still reported")
	}
	// Removing and re-adding resets too.
	p.Update(mk(), targets("u1", 100, "10.0.0.2:80"))
	p.Update(mk(), targets("u1", 100, "10.0.0.1:81", "10.0.0.2:80"))
	if th, _ := b.TargetHealth("10.0.0.2:80"); th.Addresses[0].HTTPFailures != 1 {
		t.Errorf("kept target counter: got %d; want 1", th.Addresses[0].HTTPFailures)
	}

	// Turning health checks off makes every target available again.
	p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 100, "10.0.0.1:81", "10.0.0.2:80"))
	if err := b.SetHealthy("10.0.0.1:81", "", false); err == nil {
		t.Error("SetHealthy with checks off: got nil error")
	}
}

func TestUpstreamRenameAndRemoval(t *testing.T) {
	p := NewPool()
	defer p.Close()
	m := p.Update([]*model.Upstream{newUpstream("u1", "a"), newUpstream("u2", "b")},
		append(targets("u1", 100, "10.0.0.1:80"), targets("u2", 100, "10.0.0.2:80")...))
	if len(m) != 2 || m["a"] == nil || m["b"] == nil {
		t.Fatalf("Update: got %v; want balancers a and b", m)
	}
	old := m["a"]
	m = p.Update([]*model.Upstream{newUpstream("u1", "renamed")}, targets("u1", 100, "10.0.0.1:80"))
	if m["renamed"] != old || len(m) != 1 {
		t.Errorf("rename: got %v; want the same balancer under the new name only", m)
	}
	if p.Balancer("b") != nil || p.Balancer("u2") != nil {
		t.Error("removed upstream still in the pool")
	}
	if p.Balancer("u1") != old || p.Balancer("renamed") != old {
		t.Error("Balancer lookup by id or name failed")
	}
	// A balancer held by an old snapshot keeps working.
	if pe := pickDone(t, m["renamed"], getReq("/"), nil); pe.Addr != "10.0.0.1:80" {
		t.Errorf("got %s", pe.Addr)
	}
}

// TestActiveChecksOncePerTarget checks that repeated Updates with the same
// config do not multiply probes.
func TestActiveChecksOncePerTarget(t *testing.T) {
	var code, hits atomic.Int32
	code.Store(200)
	srv := flipServer(t, &code, &hits)
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", activeHTTP)
	ts := targets("u1", 100, hostOf(srv))
	start := time.Now()
	for i := 0; i < 20; i++ {
		p.Update([]*model.Upstream{newUpstream("u1", "svc", activeHTTP)}, ts)
		time.Sleep(10 * time.Millisecond)
	}
	_ = u
	time.Sleep(200 * time.Millisecond)
	elapsed := time.Since(start)
	max := int32(elapsed/(50*time.Millisecond)) + 1
	if got := hits.Load(); got > max || got == 0 {
		t.Errorf("probes in %v at 50ms interval: got %d; want between 1 and %d", elapsed, got, max)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv := flipServer(t, &code, nil)
	base := runtime.NumGoroutine()
	res := &fakeResolver{}
	res.set("x.test", "127.0.0.1")
	p := NewPoolWithOptions(Options{Resolver: res, DNSRefresh: 10 * time.Millisecond})
	var ups []*model.Upstream
	var ts []*model.Target
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("u%d", i)
		ups = append(ups, newUpstream(id, "svc"+id, activeHTTP))
		ts = append(ts, targets(id, 100, hostOf(srv), "x.test:1")...)
	}
	for i := 0; i < 3; i++ {
		p.Update(ups, ts)
	}
	time.Sleep(150 * time.Millisecond)
	// Removing upstreams stops their checkers.
	p.Update(ups[:1], ts)
	p.Close()
	p.Close() // idempotent
	srv.CloseClientConnections()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines after Close: got %d; want <= %d\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	// The closed pool still answers.
	b := p.Update(ups[:1], ts)["svcu0"]
	if _, err := b.Pick(getReq("/"), nil, nil); err != nil {
		t.Errorf("Pick after Close: %v", err)
	}
	if runtime.NumGoroutine() > base {
		t.Errorf("Update after Close started goroutines")
	}
}

func TestConcurrentPickDoneUpdate(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv := flipServer(t, &code, nil)
	p := NewPool()
	defer p.Close()
	algos := []string{"round-robin", "consistent-hashing", "least-connections", "latency"}
	cfg := func(i int) ([]*model.Upstream, []*model.Target) {
		var ups []*model.Upstream
		var ts []*model.Target
		for j, a := range algos {
			id := fmt.Sprintf("u%d", j)
			ups = append(ups, newUpstream(id, a, activeHTTP, func(u *model.Upstream) {
				u.Algorithm = a
				u.HashOn = "header"
				u.HashOnHeader = ptr("x-k")
				if a != "consistent-hashing" {
					u.HashOn = "none"
				}
				u.Healthchecks.Passive.Unhealthy.HTTPFailures = 3
				u.Healthchecks.Passive.Healthy.Successes = 1
			}))
			ts = append(ts, targets(id, 10+i%3, ipTargets(3+i%4)...)...)
			ts = append(ts, newTarget(id, hostOf(srv), 10))
		}
		return ups, ts
	}
	ups, ts := cfg(0)
	var cur atomic.Pointer[map[string]*Balancer]
	m := p.Update(ups, ts)
	cur.Store(&m)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				i++
				for _, b := range *cur.Load() {
					r := getReq("/")
					r.Header.Set("X-K", fmt.Sprint(i))
					pe, err := b.Pick(r, nil, nil)
					if err != nil {
						if !errors.Is(err, ErrNoPeer) {
							t.Errorf("Pick: %v", err)
						}
						continue
					}
					status := 200
					if i%7 == 0 {
						status = 500
					}
					b.Done(pe, Result{Status: status, Latency: time.Duration(i%5) * time.Millisecond})
				}
				if i%50 == 0 {
					for _, b := range *cur.Load() {
						b.Health()
						b.BalancerHealth()
					}
				}
			}
		}()
	}
	for i := 1; i < 40; i++ {
		ups, ts := cfg(i)
		m := p.Update(ups, ts)
		cur.Store(&m)
		if i%10 == 0 {
			_ = p.SetHealthy("round-robin", "10.0.0.1:80", "", i%20 == 0)
		}
		time.Sleep(3 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}
