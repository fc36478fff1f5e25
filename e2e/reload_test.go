package e2e

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadConfig returns a config with the stable routes and n extra routes
// /new1 ... /newN.
func reloadConfig(up, slow *backend, n int) string {
	var sb strings.Builder
	sb.WriteString(fill(`_format_version: "3.0"
services:
- name: stable
  url: ${UP}
  routes:
  - name: stable
    paths: [/stable]
- name: slow
  url: ${SLOW}
  routes:
  - name: slow
    paths: [/slow]
- name: added
  url: ${UP}
  routes:
  - name: keep
    paths: [/keep]
`, map[string]string{"UP": up.url(), "SLOW": slow.url()}))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "  - name: new%d\n    paths: [/new%d]\n", i, i)
	}
	return sb.String()
}

// TestReloadUnderTraffic rewrites kong.yml five times (SIGHUP) while four
// clients send requests continuously: no request to a route that exists
// throughout may fail, and each added route must serve within 2 s.
func TestReloadUnderTraffic(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	slow := newBackend(t, "slow")
	slow.delay.Store(int64(150 * time.Millisecond))
	g := startGateway(t, reloadConfig(up, slow, 0))

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		sent     atomic.Int64
		failedMu sync.Mutex
		failed   []string
	)
	paths := []string{"/stable/a", "/stable/b?q=1", "/keep/x", "/slow/x"}
	for _, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := g.do(request{path: p})
				sent.Add(1)
				var problem string
				switch {
				case err != nil:
					problem = fmt.Sprintf("GET %s: %v", p, err)
				case resp.status != 200:
					problem = fmt.Sprintf("GET %s: status %d, body %q", p, resp.status, resp.body)
				}
				if problem != "" {
					failedMu.Lock()
					failed = append(failed, time.Now().Format("15:04:05.000")+" "+problem)
					failedMu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(15 * time.Second) // hard bound on the whole test
	for i := 1; i <= 5 && time.Now().Before(deadline); i++ {
		time.Sleep(200 * time.Millisecond)
		path := fmt.Sprintf("/new%d/x", i)
		if resp, err := g.do(request{path: path}); err != nil || resp.status != 404 {
			t.Errorf("before reload %d: GET %s = %d, %v; want 404", i, path, resp.status, err)
		}
		g.reload(reloadConfig(up, slow, i))
		took, ok := eventually(2*time.Second, func() bool {
			resp, err := g.do(request{path: path})
			return err == nil && resp.status == 200
		})
		if !ok {
			t.Errorf("reload %d: %s not served %v after SIGHUP; want within 2s", i, path, took)
		} else {
			t.Logf("reload %d: %s served after %v", i, path, took)
		}
	}
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if n := sent.Load(); n < 40 {
		t.Errorf("only %d requests sent during the reloads; want a steady stream", n)
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d requests to routes that exist throughout failed; first ones:\n%s",
			len(failed), sent.Load(), strings.Join(failed[:min(len(failed), 10)], "\n"))
	}
	for i := 1; i <= 5; i++ {
		path := fmt.Sprintf("/new%d/x", i)
		if resp := g.mustDo(t, request{path: path}); resp.status != 200 {
			t.Errorf("after all reloads GET %s = %d; want 200", path, resp.status)
		}
	}
	if !g.alive() {
		t.Fatal("sluice exited during the reloads")
	}
}

// TestReloadByFileWatch checks that a changed kong.yml is picked up without
// a signal.
func TestReloadByFileWatch(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	slow := newBackend(t, "slow")
	g := startGateway(t, reloadConfig(up, slow, 0))
	if resp := g.mustDo(t, request{path: "/new1"}); resp.status != 404 {
		t.Fatalf("before the change GET /new1 = %d; want 404", resp.status)
	}
	g.writeConfig(reloadConfig(up, slow, 1))
	took, ok := eventually(5*time.Second, func() bool {
		resp, err := g.do(request{path: "/new1"})
		return err == nil && resp.status == 200
	})
	if !ok {
		t.Fatalf("/new1 not served %v after the file changed (no SIGHUP); want within ~2s", took)
	}
	if took > 3*time.Second {
		t.Errorf("file change picked up after %v; want within ~2s", took)
	}
}

const badBase = `_format_version: "3.0"
services:
- name: svc
  url: ${UP}
  routes:
  - name: old
    paths: [/old]
`

// badConfigs are configs that must be rejected as a whole; each would add
// the route /new if it were accepted. field must appear in the error that
// "sluice config validate" prints.
var badConfigs = []struct {
	name   string
	cfg    string
	fields []string
}{
	{
		name: "malformed yaml",
		cfg: badBase + `  - name: new
    paths: [/new
  - name: broken: [
`,
	},
	{
		name: "unknown field",
		cfg: badBase + `  - name: new
    paths: [/new]
    colour: red
`,
		fields: []string{"colour"},
	},
	{
		name: "regex RE2 cannot compile",
		cfg: badBase + `  - name: new
    paths: [/new, '~/(?=x)look']
`,
		fields: []string{"paths"},
	},
	{
		name: "route with no matching attribute",
		cfg: badBase + `  - name: new
    paths: [/new]
  - name: matches-nothing
    strip_path: false
`,
		fields: []string{"matches-nothing", "paths", "methods", "hosts"},
	},
	{
		name: "duplicate name",
		cfg: badBase + `  - name: new
    paths: [/new]
- name: svc
  url: ${UP}
`,
		fields: []string{"name", "svc"},
	},
	{
		name: "missing service reference",
		cfg: badBase + `  - name: new
    paths: [/new]
routes:
- name: orphan
  paths: [/orphan]
  service: no-such-service
`,
		fields: []string{"orphan", "service", "no-such-service"},
	},
}

// TestReloadRejectsBadConfig rewrites kong.yml with broken configs: each is
// refused as a whole, the old config keeps serving and the process stays up.
func TestReloadRejectsBadConfig(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	vars := map[string]string{"UP": up.url()}
	for _, tt := range badConfigs {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, fill(badBase, vars))
			if resp := g.mustDo(t, request{path: "/old"}); resp.status != 200 {
				t.Fatalf("before the reload GET /old = %d; want 200", resp.status)
			}
			g.reload(fill(tt.cfg, vars))
			// Give both the SIGHUP and the file watcher time to act.
			time.Sleep(2500 * time.Millisecond)
			if !g.alive() {
				t.Fatalf("sluice exited after a bad reload: %v", g.waitErr)
			}
			if resp := g.mustDo(t, request{path: "/old"}); resp.status != 200 {
				t.Errorf("after the bad reload GET /old = %d; want 200 (old config serving)", resp.status)
			}
			if resp := g.mustDo(t, request{path: "/new"}); resp.status != 404 {
				t.Errorf("after the bad reload GET /new = %d; want 404 (bad config refused as a whole)", resp.status)
			}
			// A good config afterwards is still applied.
			g.reload(fill(badBase+"  - name: new\n    paths: [/new]\n", vars))
			if took, ok := eventually(3*time.Second, func() bool {
				resp, err := g.do(request{path: "/new"})
				return err == nil && resp.status == 200
			}); !ok {
				t.Errorf("a good config after the bad one is not served after %v", took)
			}
		})
	}
}

// TestConfigValidate checks "sluice config validate": exit 0 on a good file,
// non-zero with the entity's field named on each bad one.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"UP": "http://127.0.0.1:9"}
	dir := t.TempDir()
	good := dir + "/good.yml"
	writeFile(t, good, fill(badBase, vars))
	if out, code := runSluice(t, "config", "validate", good); code != 0 {
		t.Errorf("validate good file: exit %d, output %q; want 0", code, out)
	}
	for i, tt := range badConfigs {
		t.Run(tt.name, func(t *testing.T) {
			path := fmt.Sprintf("%s/bad%d.yml", dir, i)
			writeFile(t, path, fill(tt.cfg, vars))
			out, code := runSluice(t, "config", "validate", path)
			if code == 0 {
				t.Fatalf("exit 0, output %q; want non-zero", out)
			}
			if strings.TrimSpace(out) == "" {
				t.Errorf("no error message printed")
			}
			for _, f := range tt.fields {
				if !strings.Contains(out, f) {
					t.Errorf("output %q does not name %q", out, f)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		out, code := runSluice(t, "config", "validate", dir+"/does-not-exist.yml")
		if code == 0 {
			t.Errorf("exit 0, output %q; want non-zero", out)
		}
	})
}

// TestReloadMissingFile removes kong.yml and sends SIGHUP: the old config
// keeps serving and the process stays up.
func TestReloadMissingFile(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fill(badBase, map[string]string{"UP": up.url()}))
	if err := os.Remove(g.cfgPath); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if !g.alive() {
		t.Fatalf("sluice exited after a reload with no file: %v", g.waitErr)
	}
	if resp := g.mustDo(t, request{path: "/old"}); resp.status != 200 {
		t.Errorf("GET /old = %d; want 200 (old config serving)", resp.status)
	}
}
