package redisstore

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/responseratelimiting"
)

func newRRL(t *testing.T, pool *Pool, p *model.Plugin) *responseratelimiting.RRL {
	t.Helper()
	rec, serr := responseratelimiting.Schema.Process(p.Config, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := responseratelimiting.New(rec, plugin.Deps{PluginID: p.ID, Plugin: p, Redis: pool.Counters})
	if err != nil {
		t.Fatal(err)
	}
	rl := impl.(*responseratelimiting.RRL)
	t.Cleanup(rl.Close)
	return rl
}

// respond runs one request through the three phases with the upstream
// answering quota; it returns the status and the response's headers.
func respond(rl *responseratelimiting.RRL, quota string) (int, http.Header) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	c := &plugin.Ctx{Request: r, ClientIP: "10.0.0.1"}
	rl.Access(c)
	if e := c.Exited(); e != nil {
		return e.Status, nil
	}
	h := http.Header{"X-Kong-Limit": {quota}}
	c.BeginResponse(200, h)
	rl.HeaderFilter(c)
	rl.Log(c)
	return c.Status, h
}

// TestResponseRedisPolicyShared: two nodes count one client's responses
// together through Redis, under Kong's key.
func TestResponseRedisPolicyShared(t *testing.T) {
	port := startRedis(t)
	p := &model.Plugin{ID: "p2", Name: responseratelimiting.Name, Service: &model.ForeignKey{ID: "s1"},
		Config: map[string]any{"policy": "redis", "redis": map[string]any{"host": "127.0.0.1", "port": port},
			"limits": map[string]any{"image": map[string]any{"hour": 3}}}}
	pa, pb := NewPool(), NewPool()
	defer pa.Close()
	defer pb.Close()
	a, b := newRRL(t, pa, p), newRRL(t, pb, p)
	c, _ := pa.Counters(plugin.RedisConfig{Host: "127.0.0.1", Port: port, Timeout: 2 * time.Second})
	start := time.Now().Unix() / 3600 * 3600 * 1000
	key := "response-ratelimit:00000000-0000-0000-0000-000000000000:s1:10.0.0.1:" + strconv.FormatInt(start, 10) + ":image:hour"
	counted := func() int {
		n, _ := c.(*Client).rdb.Get(context.Background(), key).Int()
		return n
	}
	for i, node := range []*responseratelimiting.RRL{a, b, a} {
		if st, _ := respond(node, "image=1"); st != 200 {
			t.Fatalf("response %d: %d", i+1, st)
		}
		deadline := time.Now().Add(2 * time.Second) // the increment is queued
		for counted() != i+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := counted(); n != i+1 {
			t.Fatalf("after response %d, %s = %d", i+1, key, n)
		}
	}
	st, _ := respond(b, "image=1")
	if st != 429 {
		t.Errorf("4th response on the other node: %d; want 429", st)
	}
	ttl, err := c.(*Client).rdb.TTL(context.Background(), key).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("ttl of %s = %v, %v; want about an hour", key, ttl, err)
	}
}

// TestResponseRedisFaultTolerance: an unreachable Redis lets requests
// through without headers, or answers 500 when fault_tolerant is false.
func TestResponseRedisFaultTolerance(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for _, ft := range []bool{true, false} {
		p := &model.Plugin{ID: "p3", Name: responseratelimiting.Name,
			Config: map[string]any{"policy": "redis", "fault_tolerant": ft,
				"redis":  map[string]any{"host": "127.0.0.1", "port": port, "timeout": 200},
				"limits": map[string]any{"image": map[string]any{"hour": 3}}}}
		pool := NewPool()
		st, h := respond(newRRL(t, pool, p), "image=1")
		pool.Close()
		switch {
		case ft && (st != 200 || h.Get("X-RateLimit-Limit-image-hour") != ""):
			t.Errorf("fault tolerant: %d %v; want 200 without rate-limit headers", st, h)
		case !ft && st != 500:
			t.Errorf("not fault tolerant: %d; want 500", st)
		}
	}
}
