package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

const exampleConfig = "../examples/kong.yml"

// TestExampleConfig checks that examples/kong.yml validates and that the
// gateway starts on it.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	path, err := filepath.Abs(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if out, code := runSluice(t, "config", "validate", path); code != 0 {
		t.Fatalf("sluice config validate %s: exit %d, output:\n%s", exampleConfig, code, out)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, string(raw))
	if resp := g.mustDo(t, request{path: "/nowhere"}); resp.status != 404 {
		t.Errorf("GET /nowhere = %d; want 404", resp.status)
	}
}
