package redisstore

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/ratelimiting"
)

// startRedis runs a throw-away redis-server on a free port.
func startRedis(t *testing.T) int {
	port, _ := startRedisCmd(t)
	return port
}

func startRedisCmd(t *testing.T) (int, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return port, cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return 0, nil
}

func TestTake(t *testing.T) {
	port := startRedis(t)
	pool := NewPool()
	defer pool.Close()
	cfg := plugin.RedisConfig{Host: "127.0.0.1", Port: port, Timeout: time.Second}
	c, err := pool.Counters(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := pool.Counters(cfg); c2 != c || pool.Len() != 1 {
		t.Errorf("same config gave another client (pool holds %d)", pool.Len())
	}
	ctx := context.Background()
	keys := []string{"a", "b"}
	ttls := []time.Duration{time.Minute, time.Hour}
	for i := int64(0); i < 3; i++ {
		got, err := c.Take(ctx, keys, ttls)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != i || got[1] != i {
			t.Errorf("take %d = %v; want [%d %d]", i+1, got, i, i)
		}
	}
	ttl, err := c.(*Client).rdb.TTL(ctx, "b").Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl of b = %v, %v; want about 1h", ttl, err)
	}
}

// TestGetAdd: Get reads without counting (0 for missing keys); Add adds
// any amount and gives new keys their expiry, keeping the first one.
func TestGetAdd(t *testing.T) {
	port := startRedis(t)
	pool := NewPool()
	defer pool.Close()
	c, err := pool.Counters(plugin.RedisConfig{Host: "127.0.0.1", Port: port, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"r:a", "r:b"}
	if got, err := c.Get(ctx, keys); err != nil || got[0] != 0 || got[1] != 0 {
		t.Fatalf("get of missing keys = %v, %v; want [0 0]", got, err)
	}
	ttls := []time.Duration{time.Minute, time.Hour}
	if err := c.Add(ctx, keys, 3, ttls); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, keys[:1], 2, ttls[1:]); err != nil { // another ttl: the first stays
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if got, err := c.Get(ctx, keys); err != nil || got[0] != 5 || got[1] != 3 {
			t.Fatalf("get %d = %v, %v; want [5 3] (reading counts nothing)", i, got, err)
		}
	}
	rdb := c.(*Client).rdb
	if ttl, err := rdb.TTL(ctx, "r:a").Result(); err != nil || ttl <= 50*time.Second || ttl > time.Minute {
		t.Errorf("ttl of r:a = %v, %v; want about 1m", ttl, err)
	}
	if ttl, err := rdb.TTL(ctx, "r:b").Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl of r:b = %v, %v; want about 1h", ttl, err)
	}
	if err := rdb.Set(ctx, "r:c", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, []string{"r:c"}); err == nil {
		t.Error("a key holding a non-number read as a counter")
	}
}

func newRL(t *testing.T, pool *Pool, p *model.Plugin) plugin.Accessor {
	t.Helper()
	rec, serr := ratelimiting.Schema.Process(p.Config, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := ratelimiting.New(rec, plugin.Deps{PluginID: p.ID, Plugin: p, Redis: pool.Counters})
	if err != nil {
		t.Fatal(err)
	}
	return impl.(plugin.Accessor)
}

func access(a plugin.Accessor) (status int, h http.Header) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	c := &plugin.Ctx{Request: r, ClientIP: "10.0.0.1"}
	a.Access(c)
	h = http.Header{}
	c.BeginResponse(200, h)
	if e := c.Exited(); e != nil {
		return e.Status, h
	}
	return 200, h
}

// TestRedisPolicyShared: two nodes (two instances, two pools) share the
// limit through Redis, with Kong's key layout.
func TestRedisPolicyShared(t *testing.T) {
	port := startRedis(t)
	p := &model.Plugin{ID: "p1", Name: "rate-limiting", Route: &model.ForeignKey{ID: "r1"},
		Config: map[string]any{"hour": 3, "limit_by": "ip", "policy": "redis", "redis": map[string]any{"host": "127.0.0.1", "port": port}}}
	pa, pb := NewPool(), NewPool()
	defer pa.Close()
	defer pb.Close()
	a, b := newRL(t, pa, p), newRL(t, pb, p)
	want := []int{200, 200, 200, 429, 429}
	for i, w := range want {
		node := a
		if i%2 == 1 {
			node = b
		}
		st, h := access(node)
		if st != w {
			t.Errorf("request %d: %d; want %d", i+1, st, w)
		}
		if i == 2 && h.Get("X-Ratelimit-Remaining-Hour") != "0" {
			t.Errorf("3rd request: remaining %q; want 0", h.Get("X-Ratelimit-Remaining-Hour"))
		}
	}
	start := time.Now().Unix() / 3600 * 3600 * 1000
	key := "ratelimit:r1:" + "00000000-0000-0000-0000-000000000000" + ":10.0.0.1:" + strconv.FormatInt(start, 10) + ":hour"
	c, _ := pa.Counters(plugin.RedisConfig{Host: "127.0.0.1", Port: port, Timeout: 2 * time.Second})
	if n, err := c.(*Client).rdb.Get(context.Background(), key).Int(); err != nil || n != 5 {
		t.Errorf("redis %s = %d, %v; want 5 (Kong counts refused requests too)", key, n, err)
	}
}

func TestRedisPolicyFaultTolerance(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there
	for _, tt := range []struct {
		tolerant bool
		want     int
	}{{true, 200}, {false, 500}} {
		pool := NewPool()
		p := &model.Plugin{ID: "p2", Name: "rate-limiting", Config: map[string]any{"minute": 1, "policy": "redis",
			"fault_tolerant": tt.tolerant, "redis_host": "127.0.0.1", "redis_port": port, "redis_timeout": 200}}
		st, h := access(newRL(t, pool, p))
		if st != tt.want || h.Get("X-Ratelimit-Limit-Minute") != "" {
			t.Errorf("fault_tolerant=%v with Redis down: %d, headers %v; want %d without rate-limit headers", tt.tolerant, st, h, tt.want)
		}
		pool.Close()
	}
}

// TestRedisPolicyThreeNodes: three nodes (instances with their own client
// pools) share a limit of N under concurrent clients: exactly N pass. Then
// Redis stops: fault_tolerant nodes let traffic through, the others answer
// 500, and no request waits longer than the Redis timeout.
func TestRedisPolicyThreeNodes(t *testing.T) {
	port, cmd := startRedisCmd(t)
	const limit = 40
	mk := func(id string, tolerant bool) []plugin.Accessor {
		p := &model.Plugin{ID: id, Name: "rate-limiting", Service: &model.ForeignKey{ID: "s-" + id},
			Config: map[string]any{"minute": limit, "hour": 10 * limit, "limit_by": "service", "policy": "redis", "fault_tolerant": tolerant,
				"redis": map[string]any{"host": "127.0.0.1", "port": port, "timeout": 300}}}
		var nodes []plugin.Accessor
		for i := 0; i < 3; i++ {
			pool := NewPool()
			t.Cleanup(pool.Close)
			nodes = append(nodes, newRL(t, pool, p))
		}
		return nodes
	}
	tolerant, strict := mk("tolerant", true), mk("strict", false)
	// Stay inside one minute window.
	if s := time.Now().Second(); s > 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 9; g++ {
		wg.Add(1)
		go func(node plugin.Accessor) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				st, _ := access(node)
				mu.Lock()
				counts[st]++
				mu.Unlock()
			}
		}(tolerant[g%3])
	}
	wg.Wait()
	if counts[200] != limit || counts[429] != 90-limit {
		t.Fatalf("statuses across three nodes %v; want %d x 200 and %d x 429", counts, limit, 90-limit)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for _, tt := range []struct {
		nodes []plugin.Accessor
		want  int
	}{{tolerant, 200}, {strict, 500}} {
		for i, node := range tt.nodes {
			start := time.Now()
			st, _ := access(node)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("node %d: request took %v with Redis down", i, d)
			}
			if st != tt.want {
				t.Errorf("node %d with Redis down: %d; want %d", i, st, tt.want)
			}
		}
	}
}
