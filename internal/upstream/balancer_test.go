package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"sluice/internal/model"
)

func TestXXHash32Vectors(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"a", 0x550d7456},
		{"abc", 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0xe2293b2f},
	}
	for _, tt := range tests {
		if got := xxhash32(tt.in); got != tt.want {
			t.Errorf("xxhash32(%q) = %08x; want %08x", tt.in, got, tt.want)
		}
	}
}

func TestRoundRobinWeightedDistribution(t *testing.T) {
	p := NewPool()
	defer p.Close()
	ts := []*model.Target{
		newTarget("u1", "10.0.0.1:80", 10),
		newTarget("u1", "10.0.0.2:80", 20),
		newTarget("u1", "10.0.0.3:80", 30),
		newTarget("u1", "10.0.0.4:80", 0),
	}
	b := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, ts)["svc"]
	if b == nil {
		t.Fatal("Update: no balancer for svc")
	}
	r := getReq("/")
	counts := map[string]int{}
	const rounds = 100
	for i := 0; i < rounds*6; i++ {
		p := pickDone(t, b, r, nil)
		counts[p.Addr]++
	}
	want := map[string]int{"10.0.0.1:80": rounds, "10.0.0.2:80": 2 * rounds, "10.0.0.3:80": 3 * rounds}
	for addr, w := range want {
		if counts[addr] != w {
			t.Errorf("picks of %s: got %d; want %d (all: %v)", addr, counts[addr], w, counts)
		}
	}
	if counts["10.0.0.4:80"] != 0 {
		t.Errorf("weight 0 target picked %d times; want 0", counts["10.0.0.4:80"])
	}
	// Smoothness: in every window of 6 consecutive picks each target appears
	// exactly weight/10 times (no bursts of the heavy target).
	for w := 0; w < 5; w++ {
		win := map[string]int{}
		for i := 0; i < 6; i++ {
			win[pickDone(t, b, r, nil).Addr]++
		}
		if win["10.0.0.1:80"] != 1 || win["10.0.0.2:80"] != 2 || win["10.0.0.3:80"] != 3 {
			t.Errorf("window %d: got %v; want 1/2/3", w, win)
		}
	}
}

func TestAllWeightsZeroIsNoPeer(t *testing.T) {
	p := NewPool()
	defer p.Close()
	b := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 0, "10.0.0.1:80", "10.0.0.2:80"))["svc"]
	if _, err := b.Pick(getReq("/"), nil, nil); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("Pick with all weights 0: got %v; want ErrNoPeer", err)
	}
	b = p.Update([]*model.Upstream{newUpstream("u1", "svc")}, nil)["svc"]
	if _, err := b.Pick(getReq("/"), nil, nil); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("Pick with no targets: got %v; want ErrNoPeer", err)
	}
}

func TestPeerFields(t *testing.T) {
	p := NewPool()
	defer p.Close()
	b := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 100, "[::1]:8080"))["svc"]
	got := pickDone(t, b, getReq("/"), nil)
	if got.Addr != "[::1]:8080" || got.Host != "[::1]" || got.Port != 8080 {
		t.Errorf("peer: got Addr=%q Host=%q Port=%d; want [::1]:8080 [::1] 8080", got.Addr, got.Host, got.Port)
	}
	b = p.Update([]*model.Upstream{newUpstream("u1", "svc", func(u *model.Upstream) { u.HostHeader = ptr("api.example") })},
		targets("u1", 100, "127.0.0.1"))["svc"]
	got = pickDone(t, b, getReq("/"), nil)
	if got.Addr != "127.0.0.1:8000" || got.Host != "api.example" {
		t.Errorf("peer with host_header: got Addr=%q Host=%q; want 127.0.0.1:8000 api.example", got.Addr, got.Host)
	}
}

func TestRetrySkipsTriedPeers(t *testing.T) {
	for _, algo := range []string{"round-robin", "consistent-hashing", "least-connections", "latency"} {
		t.Run(algo, func(t *testing.T) {
			p := NewPool()
			defer p.Close()
			u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Algorithm = algo })
			b := p.Update([]*model.Upstream{u}, targets("u1", 100, ipTargets(3)...))["svc"]
			r := getReq("/")
			var tried []*Peer
			seen := map[string]bool{}
			for i := 0; i < 3; i++ {
				pe, err := b.Pick(r, nil, tried)
				if err != nil {
					t.Fatalf("try %d: %v", i, err)
				}
				if seen[pe.Addr] {
					t.Fatalf("try %d: got already tried %s (tried %v)", i, pe.Addr, seen)
				}
				seen[pe.Addr] = true
				b.Done(pe, Result{TCPFailure: true})
				tried = append(tried, pe)
			}
			// Every target tried: retries may reuse one rather than fail.
			pe, err := b.Pick(r, nil, tried)
			if err != nil {
				t.Fatalf("fourth try: got %v; want a peer", err)
			}
			b.Done(pe, Result{Status: 200})
		})
	}
}

func TestConsistentHashingStability(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Algorithm = "consistent-hashing"
		u.HashOn = "header"
		u.HashOnHeader = ptr("x-user")
	})
	all := ipTargets(4)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, all...))["svc"]
	const keys = 2000
	before := make([]string, keys)
	perTarget := map[string]int{}
	for i := range before {
		r := getReq("/")
		r.Header.Set("X-User", fmt.Sprintf("user-%d", i))
		before[i] = pickDone(t, b, r, nil).Addr
		perTarget[before[i]]++
		if again := pickDone(t, b, r, nil).Addr; again != before[i] {
			t.Fatalf("key %d: got %s then %s; want the same target", i, before[i], again)
		}
	}
	for _, a := range all {
		if perTarget[a] < keys/4/2 {
			t.Errorf("target %s got %d of %d keys; want a fair share", a, perTarget[a], keys)
		}
	}
	removed := all[1]
	b = p.Update([]*model.Upstream{u}, targets("u1", 100, all[0], all[2], all[3]))["svc"]
	moved, others := 0, 0
	for i := range before {
		r := getReq("/")
		r.Header.Set("X-User", fmt.Sprintf("user-%d", i))
		got := pickDone(t, b, r, nil).Addr
		if got == removed {
			t.Fatalf("key %d went to removed target %s", i, removed)
		}
		if before[i] != removed {
			others++
			if got != before[i] {
				moved++
			}
		}
	}
	// Kong's continuum resolves a point collision by moving the later
	// address to its next point; when the earlier address goes away the
	// later one takes its first choice back, so a handful of keys (points
	// that collided) move besides the removed target's share.
	if moved*100 > others {
		t.Errorf("removing %s moved %d of %d keys of other targets; want under 1%%", removed, moved, others)
	}
}

func TestConsistentHashingSkipsUnhealthy(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Algorithm = "consistent-hashing"
		u.HashOn = "ip"
		u.Healthchecks.Passive.Unhealthy.HTTPFailures = 1
	})
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, ipTargets(3)...))["svc"]
	pc := &PickContext{ClientIP: "192.0.2.7"}
	first := pickDone(t, b, getReq("/"), pc)
	if err := b.SetHealthy(first.Addr, "", false); err != nil {
		t.Fatal(err)
	}
	second := pickDone(t, b, getReq("/"), pc)
	if second.Addr == first.Addr {
		t.Fatalf("got unhealthy %s; want another target", first.Addr)
	}
	if err := b.SetHealthy(first.Addr, "", true); err != nil {
		t.Fatal(err)
	}
	if got := pickDone(t, b, getReq("/"), pc); got.Addr != first.Addr {
		t.Errorf("after recovery: got %s; want %s back", got.Addr, first.Addr)
	}
}

func TestHashInputs(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*model.Upstream)
		req    func() *http.Request
		pc     *PickContext
		want   string
		cookie bool // a cookie must be generated
	}{
		{"none", func(u *model.Upstream) {}, func() *http.Request { return getReq("/a") }, nil, "", false},
		{"consumer", func(u *model.Upstream) { u.HashOn = "consumer" }, func() *http.Request { return getReq("/") },
			&PickContext{ConsumerID: "c1", CredentialID: "k1"}, "c1", false},
		{"consumer falls back to credential", func(u *model.Upstream) { u.HashOn = "consumer" }, func() *http.Request { return getReq("/") },
			&PickContext{CredentialID: "k1"}, "k1", false},
		{"ip from context", func(u *model.Upstream) { u.HashOn = "ip" }, func() *http.Request { return getReq("/") },
			&PickContext{ClientIP: "203.0.113.9"}, "203.0.113.9", false},
		{"ip from RemoteAddr", func(u *model.Upstream) { u.HashOn = "ip" }, func() *http.Request {
			r := getReq("/")
			r.RemoteAddr = "198.51.100.4:5555"
			return r
		}, nil, "198.51.100.4", false},
		{"header", func(u *model.Upstream) { u.HashOn = "header"; u.HashOnHeader = ptr("x-tenant") }, func() *http.Request {
			r := getReq("/")
			r.Header.Set("X-Tenant", "acme")
			return r
		}, nil, "acme", false},
		{"header repeated", func(u *model.Upstream) { u.HashOn = "header"; u.HashOnHeader = ptr("X-Tenant") }, func() *http.Request {
			r := getReq("/")
			r.Header.Add("X-Tenant", "a")
			r.Header.Add("X-Tenant", "b")
			return r
		}, nil, "a, b", false},
		{"cookie present", func(u *model.Upstream) { u.HashOn = "cookie"; u.HashOnCookie = ptr("sid") }, func() *http.Request {
			r := getReq("/")
			r.Header.Set("Cookie", "a=1; sid=xyz; b=2")
			return r
		}, nil, "xyz", false},
		{"cookie generated", func(u *model.Upstream) { u.HashOn = "cookie"; u.HashOnCookie = ptr("sid") }, func() *http.Request {
			return getReq("/")
		}, nil, "", true},
		{"path", func(u *model.Upstream) { u.HashOn = "path" }, func() *http.Request { return getReq("/p/q?x=1") }, nil, "/p/q", false},
		{"query_arg", func(u *model.Upstream) { u.HashOn = "query_arg"; u.HashOnQueryArg = ptr("k") }, func() *http.Request {
			return getReq("/?a=1&k=v%20w")
		}, nil, "v w", false},
		{"query_arg repeated sorted", func(u *model.Upstream) { u.HashOn = "query_arg"; u.HashOnQueryArg = ptr("k") }, func() *http.Request {
			return getReq("/?k=z&k=a")
		}, nil, "a,z", false},
		{"query_arg without value", func(u *model.Upstream) { u.HashOn = "query_arg"; u.HashOnQueryArg = ptr("k") }, func() *http.Request {
			return getReq("/?k")
		}, nil, "true", false},
		{"uri_capture", func(u *model.Upstream) { u.HashOn = "uri_capture"; u.HashOnURICapture = ptr("id") }, func() *http.Request {
			return getReq("/")
		}, &PickContext{Captures: map[string]string{"id": "42"}}, "42", false},
		{"fallback to query_arg", func(u *model.Upstream) {
			u.HashOn = "header"
			u.HashOnHeader = ptr("x-missing")
			u.HashFallback = "query_arg"
			u.HashFallbackQueryArg = ptr("k")
		}, func() *http.Request { return getReq("/?k=fb") }, nil, "fb", false},
		{"fallback to header", func(u *model.Upstream) {
			u.HashOn = "consumer"
			u.HashFallback = "header"
			u.HashFallbackHeader = ptr("x-fb")
		}, func() *http.Request {
			r := getReq("/")
			r.Header.Set("X-Fb", "h")
			return r
		}, &PickContext{}, "h", false},
		{"both missing", func(u *model.Upstream) {
			u.HashOn = "header"
			u.HashOnHeader = ptr("x-a")
			u.HashFallback = "uri_capture"
			u.HashFallbackURICapture = ptr("c")
		}, func() *http.Request { return getReq("/") }, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Algorithm = "consistent-hashing" }, tt.mod)
			cfg := parseConfig(u)
			key, cookie := hashValue(cfg, tt.req(), tt.pc, nil)
			if tt.cookie {
				if cookie == "" || key != cookie {
					t.Fatalf("got key %q cookie %q; want a generated cookie used as key", key, cookie)
				}
				return
			}
			if key != tt.want || cookie != "" {
				t.Errorf("got key %q cookie %q; want key %q and no cookie", key, cookie, tt.want)
			}
		})
	}
}

func TestCookieHashing(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Algorithm = "consistent-hashing"
		u.HashOn = "cookie"
		u.HashOnCookie = ptr("route")
		u.HashOnCookiePath = "/app"
	})
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, ipTargets(5)...))["svc"]
	first, err := b.Pick(getReq("/app/x"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Done(first, Result{Status: 200})
	c := first.SetCookie
	if c == nil {
		t.Fatal("no SetCookie when the cookie is absent")
	}
	if !uuidRe.MatchString(c.Value) {
		t.Errorf("generated cookie value %q is not a v4 UUID", c.Value)
	}
	if c.Name != "route" || c.Path != "/app" || c.Value == "" || !c.HttpOnly {
		t.Fatalf("SetCookie: got %+v; want route=<uuid>; Path=/app; HttpOnly", c)
	}
	// A retry of the same request reuses the generated value.
	retry, err := b.Pick(getReq("/app/x"), nil, []*Peer{first})
	if err != nil {
		t.Fatal(err)
	}
	b.Done(retry, Result{Status: 200})
	if retry.SetCookie == nil || retry.SetCookie.Value != c.Value {
		t.Errorf("retry cookie: got %+v; want value %q", retry.SetCookie, c.Value)
	}
	// The client sends the cookie back: same target, nothing to set.
	for i := 0; i < 20; i++ {
		r := getReq("/app/y")
		r.AddCookie(&http.Cookie{Name: "route", Value: c.Value})
		got := pickDone(t, b, r, nil)
		if got.SetCookie != nil {
			t.Fatalf("cookie present: got SetCookie %v; want none", got.SetCookie)
		}
		if got.Addr != first.Addr {
			t.Fatalf("cookie %s: got %s; want %s", c.Value, got.Addr, first.Addr)
		}
	}
	// The shared peer is not modified by cookie generation.
	if pickDoneWithCookie(t, b, c.Value).SetCookie != nil {
		t.Error("shared peer carries a SetCookie")
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func pickDoneWithCookie(t *testing.T, b *Balancer, v string) *Peer {
	r := getReq("/")
	r.AddCookie(&http.Cookie{Name: "route", Value: v})
	return pickDone(t, b, r, nil)
}

func TestLeastConnections(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Algorithm = "least-connections" })
	ts := []*model.Target{newTarget("u1", "10.0.0.1:80", 100), newTarget("u1", "10.0.0.2:80", 300)}
	b := p.Update([]*model.Upstream{u}, ts)["svc"]
	r := getReq("/")
	// Hold 8 connections open: (n+1)/weight balances them 2:6.
	var held []*Peer
	counts := map[string]int{}
	for i := 0; i < 8; i++ {
		pe, err := b.Pick(r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, pe)
		counts[pe.Addr]++
	}
	if counts["10.0.0.1:80"] != 2 || counts["10.0.0.2:80"] != 6 {
		t.Errorf("held connections: got %v; want 2 on .1 and 6 on .2", counts)
	}
	// Finish the ones on .1: the next picks go there until it catches up.
	for _, pe := range held {
		if pe.Addr == "10.0.0.1:80" {
			b.Done(pe, Result{Status: 200})
		}
	}
	for i := 0; i < 2; i++ {
		pe, err := b.Pick(r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pe.Addr != "10.0.0.1:80" {
			t.Errorf("pick %d after release: got %s; want 10.0.0.1:80", i, pe.Addr)
		}
		held = append(held, pe)
	}
	for _, pe := range held {
		if pe.Addr == "10.0.0.2:80" {
			b.Done(pe, Result{Status: 200})
		}
	}
	th, _ := b.TargetHealth("10.0.0.2:80")
	if th.Addresses[0].InFlight != 0 {
		t.Errorf("in-flight of .2 after Done: got %d; want 0", th.Addresses[0].InFlight)
	}
}

func TestLatencyPrefersFastest(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Algorithm = "latency" })
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"))["svc"]
	lat := map[string]time.Duration{"10.0.0.1:80": 80 * time.Millisecond, "10.0.0.2:80": 2 * time.Millisecond, "10.0.0.3:80": 40 * time.Millisecond}
	r := getReq("/")
	// Unmeasured targets score 0 and are tried first.
	for i := 0; i < 3; i++ {
		pe, err := b.Pick(r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Done(pe, Result{Status: 200, Latency: lat[pe.Addr]})
	}
	counts := map[string]int{}
	for i := 0; i < 50; i++ {
		pe, err := b.Pick(r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[pe.Addr]++
		b.Done(pe, Result{Status: 200, Latency: lat[pe.Addr]})
	}
	if counts["10.0.0.2:80"] != 50 {
		t.Errorf("picks: got %v; want all 50 on the 2 ms target", counts)
	}
	th, _ := b.TargetHealth("10.0.0.1:80")
	if e := th.Addresses[0].LatencyEWMA; e < 70*time.Millisecond || e > 81*time.Millisecond {
		t.Errorf("EWMA of the 80 ms target: got %v; want about 80ms", e)
	}
}

func TestThreshold(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Healthchecks.Threshold = 50
		u.Healthchecks.Passive.Unhealthy.HTTPFailures = 1
	})
	all := ipTargets(4)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, all...))["svc"]
	if err := b.SetHealthy(all[0], "", false); err != nil {
		t.Fatal(err)
	}
	// 75% available > 50%: still serving, never the unhealthy one.
	for i := 0; i < 12; i++ {
		if pe := pickDone(t, b, getReq("/"), nil); pe.Addr == all[0] {
			t.Fatalf("picked unhealthy %s", all[0])
		}
	}
	if got := b.BalancerHealth().Health; got != HealthHealthy {
		t.Errorf("balancer health at 75%%: got %s; want HEALTHY", got)
	}
	// 50% available meets the 50% threshold.
	if err := b.SetHealthy(all[1], "", false); err != nil {
		t.Fatal(err)
	}
	pickDone(t, b, getReq("/"), nil)
	// 25% is below it: the whole upstream is unhealthy.
	if err := b.SetHealthy(all[2], "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pick(getReq("/"), nil, nil); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("at 25%% healthy with threshold 50: got %v; want ErrNoPeer", err)
	}
	if got := b.BalancerHealth(); got.Health != HealthUnhealthy || got.WeightAvailable != 100 || got.WeightTotal != 400 {
		t.Errorf("balancer health: got %+v; want UNHEALTHY 100/400", got)
	}
	if err := b.SetHealthy(all[2], "", true); err != nil {
		t.Fatal(err)
	}
	pickDone(t, b, getReq("/"), nil)
}

func TestNoHealthyTargetIsNoPeer(t *testing.T) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) { u.Healthchecks.Passive.Unhealthy.TCPFailures = 1 })
	all := ipTargets(2)
	b := p.Update([]*model.Upstream{u}, targets("u1", 100, all...))["svc"]
	for i := 0; i < 2; i++ {
		pe, err := b.Pick(getReq("/"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Done(pe, Result{TCPFailure: true})
	}
	if _, err := b.Pick(getReq("/"), nil, nil); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("all targets failed: got %v; want ErrNoPeer", err)
	}
	if ErrNoPeer.Error() != "failure to get a peer from the ring-balancer" {
		t.Errorf("ErrNoPeer text: got %q", ErrNoPeer.Error())
	}
}
