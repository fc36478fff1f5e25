package ratelimiting

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg map[string]any, deps plugin.Deps) *RateLimiting {
	t.Helper()
	rec, serr := Schema.Process(cfg, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	rl, err := New(rec, deps)
	if err != nil {
		t.Fatal(err)
	}
	return rl.(*RateLimiting)
}

func access(rl *RateLimiting, ip string) (int, http.Header) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	c := &plugin.Ctx{Request: r, ClientIP: ip}
	rl.Access(c)
	h := http.Header{}
	c.BeginResponse(200, h)
	if e := c.Exited(); e != nil {
		return e.Status, h
	}
	return 200, h
}

// TestClusterPolicySchema: Kong 3.x refuses policy cluster on a DB-less
// node with its one_of message, and keeps sync_rate to the redis policy.
func TestClusterPolicySchema(t *testing.T) {
	in := map[string]any{"minute": 5, "policy": "cluster"}
	if _, err := Schema.Process(in, nil); err != nil {
		t.Fatalf("cluster with a database: %v", err)
	}
	plugin.SetDBless(true)
	defer plugin.SetDBless(false)
	_, err := Schema.Process(in, nil)
	if err == nil || !strings.Contains(err.Error(), "expected one of: local, redis") {
		t.Fatalf("cluster on a DB-less node: %v; want Kong's \"expected one of: local, redis\"", err)
	}
	if f, _ := err.Fields["policy"].(string); f != "expected one of: local, redis" {
		t.Errorf("error fields %v; want the policy field's error", err.Fields)
	}
	for _, ok := range []map[string]any{{"minute": 5, "policy": "local"}, {"minute": 5, "policy": "redis", "redis_host": "r"}} {
		if _, err := Schema.Process(ok, nil); err != nil {
			t.Errorf("%v on a DB-less node: %v", ok, err)
		}
	}
	plugin.SetDBless(false)
	for _, tt := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"minute": 5, "sync_rate": 1}, "sync_rate can only be used with the redis policy"},
		{map[string]any{"minute": 5, "policy": "cluster", "sync_rate": 1}, "sync_rate can only be used with the redis policy"},
		{map[string]any{"minute": 5, "policy": "redis", "redis_host": "r", "sync_rate": 0.01}, "sync_rate must be greater than 0.02, or -1 to disable"},
		{map[string]any{"minute": 5, "policy": "redis", "redis_host": "r", "sync_rate": 0.5}, ""},
		{map[string]any{"minute": 5, "sync_rate": -1}, ""},
	} {
		_, err := Schema.Process(tt.in, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v; want valid", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v; want %q", tt.in, err, tt.want)
		}
	}
}

// TestClusterPolicyWithoutDatabase: with no cluster database (the
// embedded store: one node), cluster counts exactly in the process.
func TestClusterPolicyWithoutDatabase(t *testing.T) {
	pool := plugin.NewStatePool()
	p := &model.Plugin{ID: "p-cluster", Name: Name}
	rl := build(t, map[string]any{"hour": 3, "limit_by": "ip", "policy": "cluster"}, plugin.Deps{PluginID: p.ID, Plugin: p, State: pool})
	for i, want := range []int{200, 200, 200, 429} {
		if st, _ := access(rl, "10.0.0.9"); st != want {
			t.Fatalf("request %d: %d; want %d", i+1, st, want)
		}
	}
	// A rebuilt instance keeps counting where the old one stopped.
	rl2 := build(t, map[string]any{"hour": 3, "limit_by": "ip", "policy": "cluster"}, plugin.Deps{PluginID: p.ID, Plugin: p, State: pool})
	if st, _ := access(rl2, "10.0.0.9"); st != 429 {
		t.Errorf("after a rebuild: %d; want 429", st)
	}
}

// TestStoreCapAndMetrics fills a plugin entity's store with ten times its
// cap of distinct clients inside live windows: the store stays at its cap,
// the heap stops growing with it, and the metrics follow.
func TestStoreCapAndMetrics(t *testing.T) {
	pool := plugin.NewStatePool()
	p := &model.Plugin{ID: "p-flood", Name: Name}
	stores0, counters0, evicted0 := metricStores.Value(), metricCounters.Value(), metricEvicted.Value()
	rl := build(t, map[string]any{"minute": 5, "hour": 100, "limit_by": "header", "header_name": "X-Client"}, plugin.Deps{PluginID: p.ID, Plugin: p, State: pool})
	s := rl.Counters()
	if got := metricStores.Value() - stores0; got != 1 {
		t.Fatalf("stores gauge moved by %v; want 1", got)
	}
	if metricCap.Value() != DefaultMaxKeys || s.Cap() != DefaultMaxKeys {
		t.Fatalf("cap gauge %v, store cap %d; want %d", metricCap.Value(), s.Cap(), DefaultMaxKeys)
	}
	ids := make([]string, 10*DefaultMaxKeys/2) // two counters (minute, hour) per client
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
	}
	ws := []window{{period: 1, limit: 5, start: 6000, expiry: 60}, {period: 2, limit: 100, start: 3600, expiry: 3600}}
	base := proxytest.HeapInuse()
	fill := func(from, to int) {
		for _, id := range ids[from:to] {
			s.take(id, ws, 6001)
			if n := s.Len(); n > DefaultMaxKeys {
				t.Fatalf("store holds %d counters; cap %d", n, DefaultMaxKeys)
			}
		}
	}
	fill(0, DefaultMaxKeys/2) // exactly full
	atCap := proxytest.HeapInuse() - min(base, proxytest.HeapInuse())
	fill(DefaultMaxKeys/2, len(ids))
	after := proxytest.HeapInuse() - min(base, proxytest.HeapInuse())
	n := s.Len()
	if n > DefaultMaxKeys || n < DefaultMaxKeys/2 {
		t.Fatalf("after %d clients the store holds %d counters; want between half the cap and the cap %d", len(ids), n, DefaultMaxKeys)
	}
	t.Logf("heap in use: %d KiB at the cap, %d KiB after 10x the cap (%d counters)", atCap>>10, after>>10, n)
	if after > 2*atCap+(4<<20) {
		t.Errorf("heap grew from %d KiB at the cap to %d KiB after 10x the cap; want it bounded", atCap>>10, after>>10)
	}
	if got := metricCounters.Value() - counters0; int(got) != n {
		t.Errorf("counters gauge moved by %v; want %d (the store's size)", got, n)
	}
	if got := metricEvicted.Value() - evicted0; got < float64(len(ids)*2-DefaultMaxKeys) {
		t.Errorf("evicted counter moved by %v; want at least %d", got, len(ids)*2-DefaultMaxKeys)
	}
	// The plugin entity leaves the configuration: its store leaves the
	// metrics.
	pool.Retain(func(string) bool { return false })
	if metricStores.Value() != stores0 || metricCounters.Value() != counters0 {
		t.Errorf("after the store was dropped: stores %v, counters %v; want %v, %v", metricStores.Value(), metricCounters.Value(), stores0, counters0)
	}
	runtime.KeepAlive(ids)
}

// TestTakeAllocs: counting a known client allocates nothing (the metrics
// are atomics).
func TestTakeAllocs(t *testing.T) {
	s := newStore(0, true)
	defer s.Close()
	ws := []window{{period: 1, limit: 1 << 40, start: 60, expiry: 60}}
	s.take("a", ws, 61)
	if n := testing.AllocsPerRun(100, func() { s.take("a", ws, 61) }); n != 0 {
		t.Errorf("take allocates %v times; want 0", n)
	}
}

func BenchmarkAccessLocal(b *testing.B) {
	rl := build(b, map[string]any{"minute": 1 << 30, "hour": 1 << 31, "limit_by": "ip"}, plugin.Deps{})
	r, _ := http.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	for b.Loop() {
		c := plugin.Ctx{Request: r, ClientIP: "10.0.0.1"}
		rl.Access(&c)
	}
}
