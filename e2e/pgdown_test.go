package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// privatePG is a PostgreSQL server of the test's own (initdb in a temp
// dir, its own port), so that stopping it cannot disturb other tests that
// use the machine's server.
type privatePG struct {
	t    *testing.T
	dir  string
	port int
}

func (p *privatePG) run(args ...string) {
	p.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl")}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl %v: %v\n%s", args, err, out)
	}
}

func (p *privatePG) start() {
	p.t.Helper()
	p.run("-D", p.dir, "-w", "-t", "30", "-l", filepath.Join(p.dir, "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir), "start")
}

func (p *privatePG) stop() { p.t.Helper(); p.run("-D", p.dir, "-w", "-m", "fast", "stop") }

func newPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL 15 binaries (%s) and root are needed to run a private PostgreSQL server", pgBin)
		}
		t.Skipf("PostgreSQL 15 binaries (%s) and root are needed to run a private PostgreSQL server", pgBin)
	}
	base, err := os.MkdirTemp("", "sluice-pg-")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "data")
	for _, d := range []string{base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("install", "-d", "-o", "postgres", "-m", "700", dir).CombinedOutput(); err != nil {
		t.Fatalf("mkdir: %v %s", err, out)
	}
	p := &privatePG{t: t, dir: dir, port: freePort(t)}
	cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "initdb"), "-D", dir, "-A", "trust", "-U", "postgres")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start()
	t.Cleanup(func() {
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", dir, "-m", "immediate", "stop").Run()
		_ = os.RemoveAll(base)
	})
	return p
}

// TestPostgresDownUnderTraffic stops PostgreSQL while two nodes proxy
// steady traffic: proxying goes on with the last config and no request
// fails, Admin API writes answer 503, and once PostgreSQL is back the nodes
// follow changes again by themselves.
func TestPostgresDownUnderTraffic(t *testing.T) {
	pg := newPrivatePG(t)
	env := []string{"KONG_PG_PORT=" + itoa(pg.port), "KONG_PG_DATABASE=postgres", "KONG_PG_USER=postgres",
		"KONG_PG_HOST=127.0.0.1", "KONG_DB_UPDATE_FREQUENCY=1"}
	bootstrapPG(t, env)
	n1, a1 := adminGateway(t, "postgres", env...)
	n2, _ := adminGateway(t, "postgres", env...)
	be := newBackend(t, "pgdown")
	if code := adminPostForm(t, a1, "/services", url.Values{"name": {"s"}, "url": {be.srv.URL}}); code != 201 {
		t.Fatalf("create service: %d", code)
	}
	if code := adminPostForm(t, a1, "/services/s/routes", url.Values{"paths[]": {"/steady"}}); code != 201 {
		t.Fatalf("create route: %d", code)
	}
	for _, g := range []*gateway{n1, n2} {
		if _, ok := eventually(3*time.Second, func() bool {
			res, err := g.do(request{path: "/steady"})
			return err == nil && res.status == 200
		}); !ok {
			t.Fatal("route not served before the outage")
		}
	}

	// Steady traffic on both nodes for the whole outage.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	for _, g := range []*gateway{n1, n2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := g.do(request{path: "/steady"})
				sent.Add(1)
				if err != nil || res.status != 200 {
					failed.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	pg.stop()
	time.Sleep(1500 * time.Millisecond) // a poll or two fails meanwhile
	res, err := http.PostForm(a1+"/services/s/routes", url.Values{"paths[]": {"/during"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Admin API write with PostgreSQL down: status %d; want 503", res.StatusCode)
	}
	pg.start()

	// Back: a change made now reaches both nodes.
	var code int
	if _, ok := eventually(10*time.Second, func() bool {
		code = adminPostForm(t, a1, "/services/s/routes", url.Values{"paths[]": {"/after"}})
		return code == 201
	}); !ok {
		t.Fatalf("Admin API write after PostgreSQL came back: %d", code)
	}
	for _, g := range []*gateway{n1, n2} {
		if _, ok := eventually(10*time.Second, func() bool {
			res, err := g.do(request{path: "/after"})
			return err == nil && res.status == 200
		}); !ok {
			t.Error("a node did not resync after PostgreSQL came back")
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests during the outage and recovery, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed while PostgreSQL was down", failed.Load(), sent.Load())
	}
}
