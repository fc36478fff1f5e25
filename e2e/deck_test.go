package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// requireTool skips (or, under CI=true, fails) when a command is missing.
func requireTool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (%s); .ci/run installs it", name, why)
		}
		t.Skipf("%s is not installed (%s)", name, why)
	}
	return p
}

// pgDatabase creates a fresh PostgreSQL database for the test and drops it
// afterwards. Without a server it skips, or fails under CI=true.
func pgDatabase(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3")
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 does not answer: %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 does not answer: %v", err)
	}
	name := fmt.Sprintf("sluice_e2e_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		_ = admin.Close()
	})
	return name
}

// bootstrapPG runs sluice migrations bootstrap on the database env names
// (KONG_PG_*).
func bootstrapPG(t *testing.T, env []string) {
	t.Helper()
	cmd := exec.Command(sluiceBin, "migrations", "bootstrap")
	cmd.Env = append(baseEnv(), append(env, "KONG_DATABASE=postgres")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sluice migrations bootstrap: %v\n%s", err, out)
	}
}

// pgClusterEnv creates a fresh database for the test, bootstraps it, and
// returns the KONG_PG_* environment of nodes that share it.
func pgClusterEnv(t *testing.T) []string {
	t.Helper()
	env := []string{"KONG_PG_DATABASE=" + pgDatabase(t), "KONG_PG_USER=postgres", "KONG_PG_HOST=127.0.0.1"}
	bootstrapPG(t, env)
	return env
}

// adminGateway starts sluice with a store and its Admin API on a free port.
func adminGateway(t *testing.T, database string, env ...string) (*gateway, string) {
	t.Helper()
	port := freePort(t)
	env = append([]string{"KONG_DATABASE=" + database, "KONG_ADMIN_LISTEN=127.0.0.1:" + itoa(port)}, env...)
	g := startGateway(t, "", withEnv(env...))
	return g, fmt.Sprintf("http://127.0.0.1:%d", port)
}

func deck(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "deck", args...)
	cmd.Env = append(baseEnv(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func adminGet(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return res.StatusCode, body
}

func listLen(t *testing.T, base, path string) int {
	t.Helper()
	code, body := adminGet(t, base, path)
	if code != 200 {
		t.Fatalf("GET %s: %d %v", path, code, body)
	}
	data, _ := body["data"].([]any)
	return len(data)
}

// TestDeck drives sluice with Kong's own declarative tool, decK (Debian's
// package, 1.4), on each store: ping, sync a state file, check what was
// created (and that it proxies), dump, diff against the dump (no
// difference), reset (everything gone).
func TestDeck(t *testing.T) {
	requireTool(t, "deck", "Kong's decK, Debian package deck")
	stores := []struct {
		name  string
		setup func(t *testing.T) []string
	}{
		{"embedded", func(t *testing.T) []string { return nil }},
		{"postgres", pgClusterEnv},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			env := sc.setup(t)
			g, base := adminGateway(t, sc.name, env...)
			be := newBackend(t, "deck-backend")
			certPEM, keyPEM := selfSigned(t, "deck.test")
			indent := func(s string) string { return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ") }

			_, enabled := adminGet(t, base, "/plugins/enabled")
			plugins := ""
			if names, _ := enabled["enabled_plugins"].([]any); containsAny(names, "key-auth") {
				plugins = "  plugins:\n  - name: key-auth\n    config:\n      key_names: [apikey]\n"
			}
			state := fmt.Sprintf(`_format_version: "1.1"
services:
- name: svc1
  url: %s
  routes:
  - name: r1
    paths: [/one]
%sconsumers:
- username: alice
  keyauth_credentials:
  - key: alice-key
  oauth2_credentials:
  - name: alice-app
    client_id: alice-client
    client_secret: alice-secret
    redirect_uris: [https://app.example.com/cb]
upstreams:
- name: up1
  targets:
  - target: 127.0.0.1:8081
    weight: 50
certificates:
- id: 6e0ab5a4-3a2b-4f53-9c44-3c4a6a0d0c01
  cert: |
%s
  key: |
%s
  snis:
  - name: deck.test
`, be.srv.URL, plugins, indent(certPEM), indent(keyPEM))
			dir := t.TempDir()
			statePath := filepath.Join(dir, "state.yaml")
			writeFile(t, statePath, state)

			if out := deck(t, "ping", "--kong-addr", base); !strings.Contains(out, "Successfully connected") {
				t.Fatalf("deck ping: %s", out)
			}
			deck(t, "sync", "--kong-addr", base, "-s", statePath)

			for _, c := range []struct {
				path string
				want int
			}{
				{"/services", 1}, {"/routes", 1}, {"/consumers", 1}, {"/consumers/alice/key-auth", 1}, {"/consumers/alice/oauth2", 1},
				{"/upstreams", 1}, {"/upstreams/up1/targets", 1}, {"/certificates", 1}, {"/snis", 1},
			} {
				if got := listLen(t, base, c.path); got != c.want {
					t.Errorf("after sync, GET %s lists %d; want %d", c.path, got, c.want)
				}
			}
			// The synced route serves (within the propagation time).
			wantStatus := http.StatusOK
			if plugins != "" {
				wantStatus = http.StatusUnauthorized
			}
			if _, ok := eventually(3*time.Second, func() bool {
				res, err := g.do(request{path: "/one"})
				return err == nil && res.status == wantStatus
			}); !ok {
				t.Fatalf("the synced route did not answer %d", wantStatus)
			}

			dumpPath := filepath.Join(dir, "dump.yaml")
			deck(t, "dump", "--kong-addr", base, "-o", dumpPath)
			dump, err := os.ReadFile(dumpPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"name: svc1", "name: r1", "username: alice", "key: alice-key", "client_id: alice-client", "name: up1", "target: 127.0.0.1:8081", "deck.test"} {
				if !strings.Contains(string(dump), want) {
					t.Errorf("dump lacks %q:\n%s", want, dump)
				}
			}
			diff := deck(t, "diff", "--kong-addr", base, "-s", dumpPath)
			for _, want := range []string{"Created: 0", "Updated: 0", "Deleted: 0"} {
				if !strings.Contains(diff, want) {
					t.Errorf("deck diff against its own dump: want %q in:\n%s", want, diff)
				}
			}

			deck(t, "reset", "--kong-addr", base, "--force")
			for _, p := range []string{"/services", "/routes", "/consumers", "/upstreams", "/certificates", "/snis", "/plugins", "/oauth2"} {
				if got := listLen(t, base, p); got != 0 {
					t.Errorf("after reset, GET %s lists %d; want 0", p, got)
				}
			}
		})
	}
}

func containsAny(list []any, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
