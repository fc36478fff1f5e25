package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the sluice binary built once for the tests that run it, with
// main.version set through -ldflags.
var bin string

const testVersion = "9.9.9-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "sluice")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the environment without KONG_* and SLUICE_* variables.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KONG_") && !strings.HasPrefix(kv, "SLUICE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBin runs the binary to completion and returns its output and exit code.
func runBin(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("running %v: %v", args, err)
	return "", -1
}

func TestVersion(t *testing.T) {
	out, code := runBin(t, cleanEnv(), "version")
	if want := "sluice " + testVersion + " (Kong 3.9.1 compatible)\n"; code != 0 || out != want {
		t.Errorf("sluice version: got %q (exit %d); want %q (exit 0)", out, code, want)
	}
	// Without -ldflags the version is "dev".
	var stdout bytes.Buffer
	if code := run([]string{"version"}, &stdout, io.Discard); code != 0 || stdout.String() != "sluice dev (Kong 3.9.1 compatible)\n" {
		t.Errorf("run version: got %q (exit %d)", stdout.String(), code)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: sluice"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"config"}, 2, "Usage: sluice config validate FILE"},
		{[]string{"config", "validate"}, 2, "Usage: sluice config validate FILE"},
		{[]string{"start", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"start", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := run(tt.args, &out, &out)
		if code != tt.code || !strings.Contains(out.String(), tt.want) {
			t.Errorf("sluice %v: got exit %d, %q; want exit %d containing %q", tt.args, code, out.String(), tt.code, tt.want)
		}
	}
}

const goodConfig = `_format_version: "3.0"
services:
- name: svc
  url: http://127.0.0.1:9
  routes:
  - name: r1
    paths: [/r1]
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		code int
		want []string
	}{
		{"good", goodConfig, 0, []string{"OK", "1 services, 1 routes"}},
		{"unknown field", goodConfig + "    colour: red\n", 1, []string{"Error:", "colour", "r1"}},
		{"bad reference", goodConfig + "routes:\n- name: orphan\n  paths: [/o]\n  service: nope\n", 1, []string{"orphan", "service", "nope"}},
		{"not yaml", "services: [\n", 1, []string{"Error:"}},
		{"plugin config", goodConfig + "plugins:\n- name: rate-limiting\n  config: {policy: nowhere}\n", 1,
			[]string{"Error:", "rate-limiting", "policy"}},
		{"plugin not bundled", goodConfig + "plugins:\n- name: no-such-plugin\n", 1, []string{"no-such-plugin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, "kong.yml", tt.cfg)
			out, code := runBin(t, cleanEnv(), "config", "validate", path)
			if code != tt.code {
				t.Fatalf("exit %d, output %q; want exit %d", code, out, tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q: want it to contain %q", out, w)
				}
			}
		})
	}
	out, code := runBin(t, cleanEnv(), "config", "validate", filepath.Join(t.TempDir(), "missing.yml"))
	if code != 1 || !strings.Contains(out, "missing.yml") {
		t.Errorf("missing file: exit %d, %q; want exit 1 naming the file", code, out)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gateway is a started `sluice start` process.
type gateway struct {
	cmd        *exec.Cmd
	out        *syncBuf
	prefix     string
	proxyPort  int
	statusPort int
	exited     chan struct{}
	err        error
}

// startGateway runs `sluice start -p <temp prefix>` on free loopback ports
// with kong.yml cfg and extra environment, and waits for /status/ready.
func startGateway(t *testing.T, cfg string, extra ...string) *gateway {
	t.Helper()
	g := &gateway{out: &syncBuf{}, prefix: filepath.Join(t.TempDir(), "prefix"),
		proxyPort: freePort(t), statusPort: freePort(t), exited: make(chan struct{})}
	env := cleanEnv(
		"KONG_DECLARATIVE_CONFIG="+writeTemp(t, "kong.yml", cfg),
		"KONG_PROXY_LISTEN=127.0.0.1:"+strconv.Itoa(g.proxyPort),
		"KONG_STATUS_LISTEN=127.0.0.1:"+strconv.Itoa(g.statusPort),
		"KONG_ADMIN_LISTEN=off",
	)
	g.cmd = exec.Command(bin, "start", "-p", g.prefix)
	g.cmd.Env = append(env, extra...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.err = g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		select {
		case <-g.exited:
		default:
			g.cmd.Process.Kill()
			<-g.exited
		}
		if t.Failed() {
			t.Logf("sluice output:\n%s", g.out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-g.exited:
			t.Fatalf("sluice exited before ready: %v\n%s", g.err, g.out.String())
		default:
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(g.statusPort) + "/status/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 10s: %v\n%s", err, g.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *gateway) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-g.exited:
	case <-time.After(limit):
		t.Fatalf("sluice did not exit within %v", limit)
	}
}

func TestStartQuit(t *testing.T) {
	// database left at its default (embedded) to check it serves the file.
	g := startGateway(t, goodConfig)
	pidFile := filepath.Join(g.prefix, "pids", "sluice.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(g.cmd.Process.Pid) {
		t.Fatalf("pid file: got %q, %v; want %d", b, err, g.cmd.Process.Pid)
	}
	if _, err := os.Stat(filepath.Join(g.prefix, "logs")); err != nil {
		t.Errorf("logs dir: %v", err)
	}
	if !strings.Contains(g.out.String(), "database = embedded") {
		t.Errorf("log does not say that embedded serves declarative_config:\n%s", g.out.String())
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(g.proxyPort) + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("proxy GET /nothing-here = %d; want 404", resp.StatusCode)
	}

	// A second start on the same prefix refuses.
	out, code := runBin(t, cleanEnv("KONG_PROXY_LISTEN=127.0.0.1:0", "KONG_STATUS_LISTEN=off", "KONG_ADMIN_LISTEN=off"),
		"start", "-p", g.prefix)
	if code == 0 || !strings.Contains(out, "already running") {
		t.Errorf("second start: exit %d, %q; want non-zero, already running", code, out)
	}

	out, code = runBin(t, cleanEnv(), "quit", "-p", g.prefix, "--timeout", "5")
	if code != 0 || !strings.Contains(out, "stopped (gracefully)") {
		t.Errorf("quit: exit %d, %q; want 0, stopped (gracefully)", code, out)
	}
	g.wait(t, 5*time.Second)
	if g.err != nil {
		t.Errorf("sluice exit: %v; want status 0", g.err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file still there after exit: %v", err)
	}
	out, code = runBin(t, cleanEnv(), "quit", "-p", g.prefix)
	if code != 1 || !strings.Contains(out, "not running") {
		t.Errorf("quit when stopped: exit %d, %q; want 1, not running", code, out)
	}
}

func TestSignals(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		want string
	}{{syscall.SIGTERM, "graceful shutdown"}, {syscall.SIGINT, "fast shutdown"}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			g := startGateway(t, goodConfig, "KONG_DATABASE=off")
			g.cmd.Process.Signal(tt.sig)
			g.wait(t, 5*time.Second)
			if g.err != nil {
				t.Errorf("exit after %v: %v; want 0", tt.sig, g.err)
			}
			if !strings.Contains(g.out.String(), tt.want) {
				t.Errorf("log does not mention %q", tt.want)
			}
		})
	}
}

func TestSIGHUPReload(t *testing.T) {
	g := startGateway(t, goodConfig, "KONG_DATABASE=off")
	cfgPath := envOf(g.cmd.Env, "KONG_DECLARATIVE_CONFIG")
	get := func() int {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(g.proxyPort) + "/r2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// An invalid file is refused and the old config keeps serving.
	if err := os.WriteFile(cfgPath, []byte(goodConfig+"    colour: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the rejection to be logged", func() bool { return strings.Contains(g.out.String(), "config reload rejected") })
	if c := get(); c != 404 {
		t.Errorf("after the bad reload GET /r2 = %d; want 404", c)
	}
	// A valid one is applied.
	if err := os.WriteFile(cfgPath, []byte(goodConfig+"  - name: r2\n    paths: [/r2]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "/r2 to be routed", func() bool { return get() == 502 })
}

func envOf(env []string, k string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartRefusesBadInput(t *testing.T) {
	conf := writeTemp(t, "kong.conf", "proxy_lsten = 0.0.0.0:1\n")
	badCfg := writeTemp(t, "kong.yml", goodConfig+"    colour: red\n")
	prefix := filepath.Join(t.TempDir(), "p")
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"invalid value", []string{"KONG_PG_PORT=abc"}, nil, []string{"pg_port", "abc", "KONG_PG_PORT"}},
		{"unknown key in file", nil, []string{"-c", conf}, []string{"proxy_lsten", "kong.conf:1"}},
		{"unknown SLUICE_ key", []string{"SLUICE_NOPE=1"}, nil, []string{"SLUICE_NOPE"}},
		{"invalid declarative config", []string{"KONG_DATABASE=off", "KONG_DECLARATIVE_CONFIG=" + badCfg}, nil, []string{"colour"}},
		{"postgres", []string{"KONG_DATABASE=postgres"}, nil, []string{"postgres"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := cleanEnv(append([]string{"KONG_PROXY_LISTEN=127.0.0.1:0", "KONG_STATUS_LISTEN=off", "KONG_ADMIN_LISTEN=off"}, tt.env...)...)
			out, code := runBin(t, env, append([]string{"start", "-p", prefix}, tt.args...)...)
			if code == 0 {
				t.Fatalf("exit 0; want non-zero. Output:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q: want it to contain %q", out, w)
				}
			}
		})
	}
}

func TestFileWatchReload(t *testing.T) {
	g := startGateway(t, goodConfig, "KONG_DATABASE=off")
	cfgPath := envOf(g.cmd.Env, "KONG_DECLARATIVE_CONFIG")
	if err := os.WriteFile(cfgPath, []byte(goodConfig+"  - name: r3\n    paths: [/r3]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/r3 to be routed without a signal", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(g.proxyPort) + "/r3")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == 502 // routed to the (closed) upstream
	})
}
