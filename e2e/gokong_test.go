package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// goKongVersion is the go-kong release whose own integration tests are
// run against sluice. decK and Kong's ingress controller are built on it.
const goKongVersion = "v0.66.1"

// goKongSkip lists go-kong tests that cannot pass against any gateway
// started the way this test starts one: TestBaseRootURL/default expects
// the client's default URL (http://localhost:8001) while KONG_ADMIN_URL
// points it at the test's port.
const goKongSkip = "TestBaseRootURL/default"

// goKongSource fetches go-kong's module through the Go module proxy and
// copies it where `go test` may write. Without the proxy the test skips
// (fails under CI=true).
func goKongSource(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/kong/go-kong@"+goKongVersion).Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		msg := "go-kong " + goKongVersion + " could not be fetched from the Go module proxy: " + mod.Error
		if err != nil {
			msg += " " + err.Error()
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dst := filepath.Join(t.TempDir(), "go-kong")
	if err := os.CopyFS(dst, os.DirFS(mod.Dir)); err != nil {
		t.Fatal(err)
	}
	dl := exec.CommandContext(ctx, "go", "mod", "download")
	dl.Dir = dst
	if b, err := dl.CombinedOutput(); err != nil {
		t.Fatalf("go mod download in go-kong: %v\n%s", err, b)
	}
	return dst
}

// goTestEvent is one line of `go test -json`.
type goTestEvent struct {
	Action string
	Test   string
	Output string
}

// TestGoKongSuite runs go-kong's own integration test suite (the tests
// Kong's client library runs against a real Kong) against sluice, on
// PostgreSQL and DB-less. Enterprise-only tests skip themselves, as they
// do against Kong OSS. The test fails on any failing go-kong test, and
// when fewer tests pass than did when it was written, so that a suite
// that skips everything cannot pass.
func TestGoKongSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs go-kong's suite")
	}
	src := goKongSource(t)
	// Passing top-level and sub-tests counted when this test was written:
	// postgres 291, off 189, embedded 183. go-kong gates most of its
	// entity tests on database = postgres, so the embedded store runs
	// fewer of them.
	modes := []struct {
		database string
		minPass  int
	}{{"postgres", 288}, {"off", 186}, {"embedded", 180}}
	for _, m := range modes {
		t.Run(m.database, func(t *testing.T) {
			var base string
			switch m.database {
			case "postgres":
				_, base = adminGateway(t, m.database, pgClusterEnv(t)...)
			case "embedded":
				_, base = adminGateway(t, m.database)
			default:
				port := freePort(t)
				startGateway(t, "_format_version: \"3.0\"\n", withReadyPath("/status"), withEnv("KONG_DATABASE=off", "KONG_ADMIN_LISTEN=127.0.0.1:"+itoa(port)))
				base = "http://127.0.0.1:" + itoa(port)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-json", "-skip", goKongSkip, "./kong/")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "KONG_ADMIN_URL="+base)
			out, _ := cmd.Output()
			passed, skipped := 0, 0
			failed := map[string]*strings.Builder{}
			logs := map[string]*strings.Builder{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var ev goTestEvent
				if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
					continue
				}
				switch ev.Action {
				case "output":
					if logs[ev.Test] == nil {
						logs[ev.Test] = &strings.Builder{}
					}
					logs[ev.Test].WriteString(ev.Output)
				case "pass":
					passed++
				case "skip":
					skipped++
				case "fail":
					failed[ev.Test] = logs[ev.Test]
				}
			}
			names := make([]string, 0, len(failed))
			for n := range failed {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				// A parent fails with its sub-tests; report the leaves.
				leaf := true
				for _, o := range names {
					if strings.HasPrefix(o, n+"/") {
						leaf = false
					}
				}
				if leaf {
					t.Errorf("go-kong %s failed against sluice (%s):\n%s", n, m.database, failed[n])
				}
			}
			t.Logf("go-kong %s on %s: %d passed, %d skipped, %d failed", goKongVersion, m.database, passed, skipped, len(failed))
			if passed < m.minPass {
				t.Errorf("only %d go-kong tests passed; want at least %d\n%s", passed, m.minPass, tail(string(out), 4000))
			}
		})
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
