package layering

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages that pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestImportRules(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string // import path prefixes
		why       string
	}{
		{"sluice/internal/proxy", []string{"sluice/internal/store", "sluice/internal/admin", "sluice/internal/declarative", "sluice/internal/reload"},
			"the data plane sees only the snapshot"},
		{"sluice/internal/stream", []string{"sluice/internal/store", "sluice/internal/admin", "sluice/internal/declarative", "sluice/internal/reload", "sluice/internal/proxy"},
			"the stream data plane sees only the snapshot"},
		{"sluice/internal/router", []string{"sluice/internal/store", "sluice/internal/proxy", "sluice/internal/snapshot", "net/http/httputil", "database/sql", "os/exec"},
			"the router does no I/O and knows nothing of the layers above it"},
		{"sluice/internal/snapshot", []string{"sluice/internal/store", "sluice/internal/reload", "sluice/internal/admin", "sluice/internal/proxy", "database/sql"},
			"the snapshot does no I/O"},
		{"sluice/internal/model", []string{"sluice/internal/", "net/http", "database/sql", "os/exec"},
			"the model imports only the standard library and small leaf libraries"},
	}
	for _, tt := range tests {
		for _, d := range deps(t, tt.pkg) {
			for _, f := range tt.forbidden {
				if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f) && d != tt.pkg) {
					t.Errorf("%s depends on %s: %s", tt.pkg, d, tt.why)
				}
			}
		}
	}
}

// TestPluginImports checks that each plugin package imports only plugin,
// model, metrics and libraries. A sluice package that imports no other
// sluice package (internal/grpcjson, the gRPC transcoding shared by
// grpc-gateway and grpc-web) is a library in this sense: it cannot bring
// the core in.
func TestPluginImports(t *testing.T) {
	out, err := exec.Command("go", "list", "sluice/internal/plugin/...").Output()
	if err != nil {
		t.Skip("no plugin packages yet")
	}
	allowed := map[string]bool{"sluice/internal/plugin": true, "sluice/internal/model": true, "sluice/internal/metrics": true}
	leaf := map[string]bool{}
	isLeaf := func(pkg string) bool {
		if v, ok := leaf[pkg]; ok {
			return v
		}
		v := true
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, "sluice/") && d != pkg {
				v = false
				break
			}
		}
		leaf[pkg] = v
		return v
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "sluice/internal/plugin" {
			continue
		}
		for _, d := range deps(t, p) {
			if strings.HasPrefix(d, "sluice/") && d != p && !allowed[d] && !strings.HasPrefix(d, p+"/") && !isLeaf(d) {
				t.Errorf("plugin %s imports %s; plugins may import only plugin, model, metrics and libraries", p, d)
			}
		}
	}
}
