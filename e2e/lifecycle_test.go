package e2e

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while a request is in flight: the
// request completes, new connections are refused, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	slow := newBackend(t, "slow")
	slow.delay.Store(int64(700 * time.Millisecond))
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: slow
  url: ${UP}
  routes:
  - name: slow
    paths: [/slow]
`, map[string]string{"UP": slow.url()}))

	type result struct {
		resp response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := g.do(request{path: "/slow/x"})
		done <- result{resp, err}
	}()
	if _, ok := eventually(2*time.Second, func() bool { return slow.hits.Load() == 1 }); !ok {
		t.Fatal("the slow request did not reach the upstream")
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight request failed during graceful shutdown: %v", r.err)
	}
	if r.resp.status != http.StatusOK {
		t.Errorf("in-flight request: status = %d, body %q; want 200", r.resp.status, r.resp.body)
	}
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("sluice did not exit within 5s of SIGTERM")
	}
	if g.waitErr != nil {
		t.Errorf("exit after SIGTERM: %v; want status 0", g.waitErr)
	}
	if _, err := g.do(request{path: "/slow/x"}); err == nil {
		t.Errorf("a request after shutdown succeeded; want connection refused")
	}
}

// TestStatusEndpoints checks the status listener's liveness and readiness
// endpoints.
func TestStatusEndpoints(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/r]
`, map[string]string{"UP": up.url()}))
	for _, path := range []string{"/status", "/status/ready"} {
		resp, err := g.status(path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.status != 200 {
			t.Errorf("GET %s = %d; want 200", path, resp.status)
		}
	}
	if resp := g.mustDo(t, request{path: "/"}); resp.status != 404 {
		t.Errorf("GET / = %d; want 404", resp.status)
	}
}

// TestReadyWithEmptyConfig checks Kong's DB-less readiness rule: with an
// empty configuration /status/ready answers 503 until a configuration with
// entities is loaded.
func TestReadyWithEmptyConfig(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, "_format_version: \"3.0\"\n", withReadyPath("/status"))
	resp, err := g.status("/status/ready")
	if err != nil {
		t.Fatal(err)
	}
	if resp.status != 503 {
		t.Fatalf("empty config: GET /status/ready = %d, body %q; want 503", resp.status, resp.body)
	}
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil || body.Message != "no configuration available (empty configuration present)" {
		t.Errorf("empty config: /status/ready body %q; want message %q", resp.body, "no configuration available (empty configuration present)")
	}
	g.reload(fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/r]
`, map[string]string{"UP": up.url()}))
	if err := g.waitReady("/status/ready", 3*time.Second); err != nil {
		t.Errorf("after loading a config: %v", err)
	}
}

// TestQuitCommand stops a running gateway with "sluice quit -p <prefix>",
// which finds it through the pid file in the prefix.
func TestQuitCommand(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/r]
`, map[string]string{"UP": up.url()}))
	out, code := runSluice(t, "quit", "-p", g.prefix)
	if code != 0 {
		t.Fatalf("sluice quit: exit %d, output %q; want 0", code, out)
	}
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("sluice still running 10s after sluice quit")
	}
	if g.waitErr != nil {
		t.Errorf("gateway exit after quit: %v; want status 0", g.waitErr)
	}
	if out, code := runSluice(t, "quit", "-p", g.prefix); code == 0 {
		t.Errorf("second sluice quit: exit 0, output %q; want non-zero (not running)", out)
	}
}
