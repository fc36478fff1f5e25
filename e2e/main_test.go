package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
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

// sluiceBin is the path of the binary built by TestMain.
var sluiceBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	sluiceBin = filepath.Join(dir, "sluice")
	args := []string{"build", "-o", sluiceBin}
	if os.Getenv("SLUICE_E2E_RACE") != "" {
		args = append(args, "-race")
	}
	args = append(args, "sluice/cmd/sluice")
	build := exec.Command("go", args...)
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s failed: %v\n%s\n", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects the process's output from two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gateway is one running sluice process.
type gateway struct {
	t          *testing.T
	cmd        *exec.Cmd
	cfgPath    string
	prefix     string
	httpPort   int
	httpsPort  int
	statusPort int
	out        *syncBuffer
	exited     chan struct{} // closed when the process has exited
	waitErr    error         // valid after exited is closed
	client     *http.Client
}

type gwOption func(*gwConfig)

type gwConfig struct {
	proxyListen string // format with %[1]d = http port, %[2]d = https port
	env         []string
	readyPath   string // status path that must answer 200 before the test goes on
}

// withEnv adds environment variables (KEY=value) to the process.
func withEnv(kv ...string) gwOption {
	return func(c *gwConfig) { c.env = append(c.env, kv...) }
}

// withReadyPath makes startGateway wait for path on the status listener
// instead of /status/ready.
func withReadyPath(path string) gwOption {
	return func(c *gwConfig) { c.readyPath = path }
}

// withProxyListen overrides KONG_PROXY_LISTEN; the format gets the HTTP port
// as %[1]d and the HTTPS port as %[2]d.
func withProxyListen(format string) gwOption {
	return func(c *gwConfig) { c.proxyListen = format }
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// baseEnv is the test process's environment without KONG_* and SLUICE_*
// variables, so a developer's settings cannot leak into the gateway.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KONG_") || strings.HasPrefix(kv, "SLUICE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startGateway writes cfg as kong.yml, starts sluice on fresh loopback ports
// and waits until /status/ready answers 200. The process is stopped when the
// test ends; its output is logged if the test failed.
func startGateway(t *testing.T, cfg string, opts ...gwOption) *gateway {
	t.Helper()
	c := gwConfig{proxyListen: "127.0.0.1:%[1]d, 127.0.0.1:%[2]d ssl", readyPath: "/status/ready"}
	for _, o := range opts {
		o(&c)
	}
	dir := t.TempDir()
	// A port picked by freePort can be taken by someone else before sluice
	// binds it; then start again on other ports.
	for attempt := 1; ; attempt++ {
		g, err := launch(t, dir, cfg, c)
		if err == nil {
			return g
		}
		if attempt < 3 && strings.Contains(g.out.String(), "address already in use") {
			t.Logf("attempt %d: %v; retrying on other ports", attempt, err)
			continue
		}
		t.Fatalf("%v\n%s", err, g.out.String())
	}
}

// launch starts one sluice process and waits for it to be ready. The
// process is stopped at the end of the test in any case.
func launch(t *testing.T, dir, cfg string, c gwConfig) (*gateway, error) {
	t.Helper()
	g := &gateway{
		t:          t,
		cfgPath:    filepath.Join(dir, "kong.yml"),
		prefix:     filepath.Join(dir, "prefix"),
		httpPort:   freePort(t),
		httpsPort:  freePort(t),
		statusPort: freePort(t),
		out:        &syncBuffer{},
		exited:     make(chan struct{}),
		client:     newClient(),
	}
	g.writeConfig(cfg)
	g.cmd = exec.Command(sluiceBin, "start", "-p", g.prefix)
	g.cmd.Env = append(baseEnv(),
		"KONG_DATABASE=off",
		"KONG_DECLARATIVE_CONFIG="+g.cfgPath,
		"KONG_PROXY_LISTEN="+fmt.Sprintf(c.proxyListen, g.httpPort, g.httpsPort),
		"KONG_STATUS_LISTEN=127.0.0.1:"+strconv.Itoa(g.statusPort),
		"KONG_ADMIN_LISTEN=off",
	)
	g.cmd.Env = append(g.cmd.Env, c.env...)
	g.cmd.Stdout = g.out
	g.cmd.Stderr = g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start sluice: %v", err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.stop(5 * time.Second)
		if strings.Contains(g.out.String(), "WARNING: DATA RACE") {
			t.Errorf("the race detector reported a data race in sluice")
		}
		if t.Failed() {
			t.Logf("sluice output (ports http=%d https=%d status=%d):\n%s", g.httpPort, g.httpsPort, g.statusPort, g.out.String())
		}
	})
	return g, g.waitReady(c.readyPath, 15*time.Second)
}

// waitReady polls path on the status listener until it answers 200.
func (g *gateway) waitReady(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	url := fmt.Sprintf("http://127.0.0.1:%d%s", g.statusPort, path)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			if g.waitErr == nil {
				return errors.New("sluice exited with status 0 before it was ready")
			}
			return fmt.Errorf("sluice exited before it was ready: %w", g.waitErr)
		default:
		}
		resp, err := g.client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sluice not ready after %v (GET %s: %s)", limit, url, last)
}

// stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it.
func (g *gateway) stop(grace time.Duration) {
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(grace):
		g.t.Errorf("sluice did not exit within %v of SIGTERM; killing it", grace)
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

// alive reports whether the process is still running.
func (g *gateway) alive() bool {
	select {
	case <-g.exited:
		return false
	default:
		return true
	}
}

// writeConfig replaces kong.yml atomically (write then rename), so that a
// reader never sees half a file.
func (g *gateway) writeConfig(cfg string) {
	g.t.Helper()
	tmp := g.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o644); err != nil {
		g.t.Fatalf("write config: %v", err)
	}
	if err := os.Rename(tmp, g.cfgPath); err != nil {
		g.t.Fatalf("rename config: %v", err)
	}
}

// reload rewrites kong.yml and sends SIGHUP.
func (g *gateway) reload(cfg string) {
	g.t.Helper()
	g.writeConfig(cfg)
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		g.t.Fatalf("SIGHUP: %v", err)
	}
}

// status sends GET path to the status listener.
func (g *gateway) status(path string) (response, error) {
	resp, err := g.client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", g.statusPort, path))
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// url is the plain-HTTP proxy URL of path.
func (g *gateway) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.httpPort, path)
}

// tlsURL is the HTTPS proxy URL of path.
func (g *gateway) tlsURL(path string) string {
	return fmt.Sprintf("https://127.0.0.1:%d%s", g.httpsPort, path)
}

// newClient returns a client that never uses an environment proxy, does not
// follow redirects and accepts any server certificate.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			MaxIdleConnsPerHost: 16,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request describes one request to the proxy. path is sent verbatim as the
// request target (no client-side cleaning or escaping).
type request struct {
	method  string
	path    string
	host    string
	headers map[string]string
	body    string
	tls     bool
}

// do sends r to the gateway and reads the whole response.
func (g *gateway) do(r request) (response, error) {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	base := g.url("/")
	if r.tls {
		base = g.tlsURL("/")
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base, body)
	if err != nil {
		return response{}, err
	}
	req.URL.Opaque = r.path
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("reading body: %w", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// mustDo is do that fails the test on a transport error.
func (g *gateway) mustDo(t *testing.T, r request) response {
	t.Helper()
	resp, err := g.do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp
}

// eventually polls cond every 50 ms until it returns true or limit passes;
// it returns how long it took and whether cond became true.
func eventually(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fill replaces ${NAME} placeholders in a config template.
func fill(tmpl string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "${"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(tmpl)
}

// runSluice runs the binary with args (no KONG_* environment) and returns its
// combined output and exit code.
func runSluice(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBin, args...)
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	default:
		t.Fatalf("run sluice %v: %v", args, err)
		return "", -1
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
