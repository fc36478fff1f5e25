package e2e

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startPrivateRedis runs a redis-server of the test's own on a free port,
// so that the test can stop it mid-way. Without redis-server it skips
// (fails under CI=true).
func startPrivateRedis(t *testing.T) (int, *exec.Cmd) {
	t.Helper()
	bin := requireTool(t, "redis-server", "rate-limiting redis policy")
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, ok := eventually(5*time.Second, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}); !ok {
		t.Fatal("redis-server did not start")
	}
	return port, cmd
}

// TestRateLimitingRedisThreeProcesses is issue 4's acceptance for the redis
// policy: three sluice processes share one Redis; with a limit of N per
// minute and concurrent clients spread over the nodes, exactly N requests
// pass. Then Redis stops: fault_tolerant = true lets traffic through,
// false answers Kong's 500, and no request hangs.
func TestRateLimitingRedisThreeProcesses(t *testing.T) {
	port, redis := startPrivateRedis(t)
	be := newBackend(t, "rl")
	const limit = 30
	cfg := fill(`_format_version: "3.0"
services:
- name: rl
  url: ${url}
  routes:
  - name: tolerant
    paths: [/tolerant]
    plugins:
    - name: rate-limiting
      config: {minute: ${limit}, limit_by: service, policy: redis, fault_tolerant: true,
               redis: {host: 127.0.0.1, port: ${port}, timeout: 300}}
  - name: strict
    paths: [/strict]
    plugins:
    - name: rate-limiting
      config: {minute: ${limit}, limit_by: service, policy: redis, fault_tolerant: false,
               redis: {host: 127.0.0.1, port: ${port}, timeout: 300}}
`, map[string]string{"url": be.url(), "limit": itoa(limit), "port": itoa(port)})
	var nodes []*gateway
	for i := 0; i < 3; i++ {
		nodes = append(nodes, startGateway(t, cfg))
	}
	// Each plugin keeps its own counter (Kong's redis key names the
	// plugin's route), so each route lets exactly `limit` requests pass.
	if s := time.Now().Second(); s > 45 { // stay inside one minute window
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	var mu sync.Mutex
	counts := map[string]map[int]int{"/tolerant": {}, "/strict": {}}
	var wg sync.WaitGroup
	for c := 0; c < 12; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			g := nodes[c%3]
			for i := 0; i < 8; i++ {
				path := "/tolerant"
				if i%2 == 1 {
					path = "/strict"
				}
				resp, err := g.do(request{path: path})
				mu.Lock()
				if err != nil {
					counts[path][-1]++
				} else {
					counts[path][resp.status]++
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	for path, c := range counts {
		if c[200] != limit || c[429] != 48-limit {
			t.Fatalf("%s over three processes: %v; want %d x 200 and %d x 429", path, c, limit, 48-limit)
		}
	}

	_ = redis.Process.Kill()
	_ = redis.Wait()
	for i, g := range nodes {
		for _, tt := range []struct {
			path string
			want int
		}{{"/tolerant", 200}, {"/strict", 500}} {
			start := time.Now()
			resp := g.mustDo(t, request{path: tt.path})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("node %d %s took %v with Redis down", i, tt.path, d)
			}
			if resp.status != tt.want {
				t.Errorf("node %d %s with Redis down: %d; want %d", i, tt.path, resp.status, tt.want)
			}
			if tt.want == 500 && !strings.Contains(string(resp.body), `"message":"An unexpected error occurred"`) {
				t.Errorf("node %d strict body %q; want Kong's unexpected-error message", i, resp.body)
			}
			if tt.want == 200 && resp.header.Get("X-RateLimit-Limit-Minute") != "" {
				t.Errorf("node %d tolerant answer has rate-limit headers with Redis down", i)
			}
		}
	}
}
