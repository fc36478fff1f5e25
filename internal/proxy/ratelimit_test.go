package proxy

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"sluice/internal/model"
	_ "sluice/internal/plugin/ratelimiting"
)

func rl(t testing.TB, cfg map[string]any, route *model.Route, svc *model.Service, c *model.Consumer) *model.Plugin {
	return plug(t, "rate-limiting", cfg, route, svc, c)
}

func TestRateLimitingCounts(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/rl")
	hidden := routeTo(svc, "/hidden")
	p := rl(t, map[string]any{"hour": 3, "day": 10}, r, nil, nil)
	cfg := &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r, hidden},
		Plugins: []*model.Plugin{p, rl(t, map[string]any{"hour": 1, "hide_client_headers": true, "error_code": 503, "error_message": "slow down"}, hidden, nil, nil)}}
	e := newPluginEnv(t, cfg)
	for i := 1; i <= 3; i++ {
		res, body := e.do(t, "GET", "/rl", nil, nil)
		if res.StatusCode != 200 {
			t.Fatalf("request %d: status %d (%s); want 200", i, res.StatusCode, body)
		}
		want := map[string]string{
			"X-RateLimit-Limit-Hour": "3", "X-RateLimit-Remaining-Hour": strconv.Itoa(3 - i),
			"X-RateLimit-Limit-Day": "10", "X-RateLimit-Remaining-Day": strconv.Itoa(10 - i),
			"RateLimit-Limit": "3", "RateLimit-Remaining": strconv.Itoa(3 - i),
		}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("request %d: %s = %q; want %q", i, k, got, v)
			}
		}
		if reset, _ := strconv.Atoi(res.Header.Get("RateLimit-Reset")); reset < 1 || reset > 3600 {
			t.Errorf("request %d: RateLimit-Reset = %q; want 1..3600", i, res.Header.Get("RateLimit-Reset"))
		}
	}
	// Swap in a rebuilt snapshot (same plugin entity): the counters stay.
	cfg2 := *cfg
	cfg2.Routes = append([]*model.Route{routeTo(svc, "/other")}, cfg.Routes...)
	e.swap(t, &cfg2)
	res, body := e.do(t, "GET", "/rl", nil, nil)
	if res.StatusCode != 429 || kongMessage(t, body) != "API rate limit exceeded" {
		t.Fatalf("4th request after a snapshot swap: %d %s; want 429 API rate limit exceeded", res.StatusCode, body)
	}
	for k, v := range map[string]string{"X-RateLimit-Remaining-Hour": "0", "X-RateLimit-Remaining-Day": "7",
		"RateLimit-Remaining": "0", "RateLimit-Limit": "3"} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("429: %s = %q; want %q", k, got, v)
		}
	}
	if ra := res.Header.Get("Retry-After"); ra == "" || ra != res.Header.Get("RateLimit-Reset") {
		t.Errorf("429: Retry-After = %q, RateLimit-Reset = %q; want equal and set", ra, res.Header.Get("RateLimit-Reset"))
	}

	// hide_client_headers, error_code and error_message.
	res, _ = e.do(t, "GET", "/hidden", nil, nil)
	if res.StatusCode != 200 || res.Header.Get("X-RateLimit-Limit-Hour") != "" || res.Header.Get("RateLimit-Limit") != "" {
		t.Errorf("hidden: %d with headers %v; want 200 without rate-limit headers", res.StatusCode, res.Header)
	}
	res, body = e.do(t, "GET", "/hidden", nil, nil)
	if res.StatusCode != 503 || kongMessage(t, body) != "slow down" {
		t.Errorf("hidden 2nd: %d %s; want 503 slow down", res.StatusCode, body)
	}

	// Removing the plugin drops its counters from the pool.
	if n := e.state.Len(); n != 2 {
		t.Errorf("state pool holds %d values; want 2", n)
	}
	cfg3 := *cfg
	cfg3.Plugins = cfg.Plugins[1:]
	e.swap(t, &cfg3)
	if n := e.state.Len(); n != 1 {
		t.Errorf("state pool after removing a plugin holds %d values; want 1", n)
	}
	if res, _ := e.do(t, "GET", "/rl", nil, nil); res.StatusCode != 200 {
		t.Errorf("after removing the plugin: %d; want 200", res.StatusCode)
	}
}

func TestRateLimitingLimitBy(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	alice, bob := consumer("alice", nil), consumer("bob", nil)
	creds := []*model.KeyAuthCredential{keyCred(alice, "ka"), keyCred(bob, "kb")}
	for _, tt := range []struct {
		limitBy string
		extra   map[string]any
		// requests as (api key, extra header value); want statuses
		reqs []struct{ key, hdr string }
		want []int
	}{
		{limitBy: "ip", reqs: []struct{ key, hdr string }{{"ka", ""}, {"ka", ""}, {"kb", ""}}, want: []int{200, 200, 429}},
		{limitBy: "consumer", reqs: []struct{ key, hdr string }{{"ka", ""}, {"ka", ""}, {"kb", ""}, {"ka", ""}}, want: []int{200, 200, 200, 429}},
		{limitBy: "credential", reqs: []struct{ key, hdr string }{{"ka", ""}, {"kb", ""}, {"kb", ""}, {"kb", ""}}, want: []int{200, 200, 200, 429}},
		{limitBy: "service", reqs: []struct{ key, hdr string }{{"ka", ""}, {"kb", ""}, {"kb", ""}}, want: []int{200, 200, 429}},
		{limitBy: "header", extra: map[string]any{"header_name": "X-Tenant"},
			reqs: []struct{ key, hdr string }{{"ka", "t1"}, {"kb", "t1"}, {"ka", "t2"}, {"ka", "t1"}}, want: []int{200, 200, 200, 429}},
	} {
		t.Run(tt.limitBy, func(t *testing.T) {
			r := routeTo(svc, "/lb")
			cfgRL := map[string]any{"hour": 2, "limit_by": tt.limitBy}
			for k, v := range tt.extra {
				cfgRL[k] = v
			}
			e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r},
				Consumers: []*model.Consumer{alice, bob}, KeyAuthCredentials: creds,
				Plugins: []*model.Plugin{plug(t, "key-auth", nil, r, nil, nil), rl(t, cfgRL, r, nil, nil)}})
			for i, rq := range tt.reqs {
				h := map[string]string{"apikey": rq.key}
				if rq.hdr != "" {
					h["X-Tenant"] = rq.hdr
				}
				res, body := e.do(t, "GET", "/lb", h, nil)
				if res.StatusCode != tt.want[i] {
					t.Errorf("request %d (%v): %d %s; want %d", i+1, rq, res.StatusCode, body, tt.want[i])
				}
			}
		})
	}
}

// TestPluginPrecedence checks Kong's precedence (8.1) with rate-limiting
// configured at several levels: the limit in X-RateLimit-Limit-Hour tells
// which instance applied. Limits are 100+rank.
func TestPluginPrecedence(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	alice, bob := consumer("alice", nil), consumer("bob", nil)
	creds := []*model.KeyAuthCredential{keyCred(alice, "ka"), keyCred(bob, "kb")}
	const (
		crs = "consumer+route+service"
		cr  = "consumer+route"
		cs  = "consumer+service"
		rs  = "route+service"
		c   = "consumer"
		r   = "route"
		s   = "service"
		g   = "global"
	)
	rank := map[string]int{crs: 1, cr: 3, cs: 4, rs: 7, c: 8, r: 10, s: 11, g: 12}
	tests := []struct {
		levels   []string
		disabled string // one level present but disabled
		alice    string // level that applies to alice ("" = none)
		bob      string
	}{
		{levels: []string{g}, alice: g, bob: g},
		{levels: []string{g, s}, alice: s, bob: s},
		{levels: []string{g, s, r}, alice: r, bob: r},
		{levels: []string{g, s, r, rs}, alice: rs, bob: rs},
		{levels: []string{g, r, c}, alice: c, bob: r},
		{levels: []string{g, rs, c}, alice: rs, bob: rs},
		{levels: []string{g, rs, cs}, alice: cs, bob: rs},
		{levels: []string{rs, cs, cr}, alice: cr, bob: rs},
		{levels: []string{g, s, r, rs, c, cs, cr, crs}, alice: crs, bob: rs},
		{levels: []string{c}, alice: c, bob: ""},
		{levels: []string{g, r}, disabled: r, alice: g, bob: g},
		{levels: []string{g, c, cr}, disabled: cr, alice: c, bob: g},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.levels, " disabled ", tt.disabled), func(t *testing.T) {
			route := routeTo(svc, "/p")
			other := routeTo(svc, "/other") // same service, no route plugins
			plugins := []*model.Plugin{plug(t, "key-auth", nil, nil, nil, nil)}
			for _, lv := range tt.levels {
				var pr *model.Route
				var ps *model.Service
				var pc *model.Consumer
				switch lv {
				case crs:
					pr, ps, pc = route, svc, alice
				case cr:
					pr, pc = route, alice
				case cs:
					ps, pc = svc, alice
				case rs:
					pr, ps = route, svc
				case c:
					pc = alice
				case r:
					pr = route
				case s:
					ps = svc
				}
				p := rl(t, map[string]any{"hour": 100 + rank[lv]}, pr, ps, pc)
				p.Enabled = lv != tt.disabled
				plugins = append(plugins, p)
			}
			e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{route, other},
				Consumers: []*model.Consumer{alice, bob}, KeyAuthCredentials: creds, Plugins: plugins})
			for _, who := range []struct{ key, want string }{{"ka", tt.alice}, {"kb", tt.bob}} {
				res, body := e.do(t, "GET", "/p", map[string]string{"apikey": who.key}, nil)
				if res.StatusCode != 200 {
					t.Fatalf("%s: %d %s", who.key, res.StatusCode, body)
				}
				want := ""
				if who.want != "" {
					want = strconv.Itoa(100 + rank[who.want])
				}
				if got := res.Header.Get("X-RateLimit-Limit-Hour"); got != want {
					t.Errorf("key %s: limit %q; want %q (%s)", who.key, got, want, who.want)
				}
			}
		})
	}
}

// TestRateLimitingConcurrent: under concurrent requests exactly limit
// requests pass.
func TestRateLimitingConcurrent(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/c")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r},
		Plugins: []*model.Plugin{rl(t, map[string]any{"hour": 25, "limit_by": "ip"}, r, nil, nil)}})
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				res, _ := e.do(t, "GET", "/c", nil, nil)
				mu.Lock()
				counts[res.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if counts[200] != 25 || counts[429] != 15 {
		t.Errorf("statuses %v; want 25 x 200 and 15 x 429", counts)
	}
}
