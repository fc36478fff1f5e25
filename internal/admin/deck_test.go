package admin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeck runs Kong's own declarative tool (decK) against the handler on
// the embedded store: ping, sync of a state file with every kind of
// entity, dump, a diff of the dump that finds nothing, and reset.
func TestDeck(t *testing.T) {
	deck, err := exec.LookPath("deck")
	if err != nil {
		t.Skip("deck is not installed")
	}
	if testing.Short() {
		t.Skip("starts decK several times")
	}
	c := newServer(t, nil)
	dir := t.TempDir()
	cert, key := selfSigned(t, "a.example.com", false)
	indent := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return "      " + strings.Join(lines, "\n      ")
	}
	state := `_format_version: "1.1"
services:
- name: svc1
  url: http://example.com:8080/api
  tags: [t1]
  plugins:
  - name: test-limit
    config:
      minute: 5
  routes:
  - name: r1
    paths: [/r1]
    methods: [GET]
- name: svc2
  host: up1
consumers:
- username: alice
  custom_id: a-1
  keyauth_credentials:
  - key: alice-key
  basicauth_credentials:
  - username: alice
    password: secret
  acls:
  - group: admins
  jwt_secrets:
  - key: alice-iss
    secret: shh
    algorithm: HS256
upstreams:
- name: up1
  targets:
  - target: 10.0.0.1:80
    weight: 50
certificates:
- id: 2b6bd5e4-3b38-4b71-9f43-7b5b5f0e8a01
  cert: |
` + indent(cert) + `
  key: |
` + indent(key) + `
  snis:
  - name: a.example.com
`
	statePath := filepath.Join(dir, "state.yml")
	if err := os.WriteFile(statePath, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, deck, append(args, "--kong-addr", c.url)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("deck %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("ping")
	out := run("sync", "-s", statePath)
	if !strings.Contains(out, "Created: 13") {
		t.Errorf("deck sync: %s", out)
	}
	for entity, want := range map[string]int{"services": 2, "routes": 1, "plugins": 1, "consumers": 1,
		"keyauth_credentials": 1, "basicauth_credentials": 1, "acls": 1, "jwt_secrets": 1,
		"upstreams": 1, "targets": 1, "certificates": 1, "snis": 1} {
		if n := c.count(entity); n != want {
			t.Errorf("after sync the store holds %d %s; want %d", n, entity, want)
		}
	}
	run("dump", "-o", filepath.Join(dir, "dump.yml"))
	out = run("diff", "-s", filepath.Join(dir, "dump.yml"))
	if !strings.Contains(out, "Created: 0") || !strings.Contains(out, "Updated: 0") || !strings.Contains(out, "Deleted: 0") {
		t.Errorf("deck diff against its own dump: %s", out)
	}
	run("reset", "--force")
	for _, entity := range []string{"services", "routes", "plugins", "consumers", "keyauth_credentials",
		"upstreams", "targets", "certificates", "snis"} {
		if n := c.count(entity); n != 0 {
			t.Errorf("after reset the store holds %d %s", n, entity)
		}
	}
}
