package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssKiB reads the resident set size of a process from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS line")
	return 0
}

// TestMemoryFlatAcrossReloads reloads a config of 2000 routes many times:
// the old snapshots must be freed, so resident memory after 30 reloads stays
// close to what it was after the first few.
func TestMemoryFlatAcrossReloads(t *testing.T) {
	if testing.Short() {
		t.Skip("reload loop skipped in -short mode")
	}
	t.Parallel()
	up := newBackend(t, "up")
	cfg := func(gen int) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "_format_version: \"3.0\"\nservices:\n- name: s\n  url: %s\n  routes:\n", up.url())
		for i := range 2000 {
			fmt.Fprintf(&sb, "  - name: r%d\n    paths: [/gen%d/r%d]\n    hosts: [h%d.example.com]\n", i, gen, i, i%50)
		}
		return sb.String()
	}
	g := startGateway(t, cfg(0))
	pid := g.cmd.Process.Pid
	reloadTo := func(gen int) {
		g.reload(cfg(gen))
		path := fmt.Sprintf("/gen%d/r7", gen)
		if _, ok := eventually(5*time.Second, func() bool {
			resp, err := g.do(request{path: path, host: "h7.example.com"})
			return err == nil && resp.status == 200
		}); !ok {
			t.Fatalf("generation %d not served", gen)
		}
	}
	for gen := 1; gen <= 5; gen++ {
		reloadTo(gen)
	}
	base := rssKiB(t, pid)
	for gen := 6; gen <= 30; gen++ {
		reloadTo(gen)
	}
	after := rssKiB(t, pid)
	t.Logf("RSS after 5 reloads: %d KiB; after 30: %d KiB", base, after)
	if limit := base + base/4 + 10*1024; after > limit {
		t.Errorf("RSS grew from %d KiB to %d KiB over 25 reloads; want at most %d KiB (old snapshots freed)", base, after, limit)
	}
}

// TestStatusSharedDicts: the binary's /status names Kong's kong and
// kong_db_cache dictionaries as Kong's status spec reads them ("%d.%d
// MiB"), the served configuration in kong_db_cache, and Prometheus
// exports the same dictionaries (kong_memory_lua_shared_dict_*).
func TestStatusSharedDicts(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fmt.Sprintf("_format_version: \"3.0\"\nservices:\n- name: s\n  url: %s\n  routes:\n  - paths: [/]\nplugins:\n- name: prometheus\n", up.url()))
	resp, err := g.status("/status")
	if err != nil || resp.status != 200 {
		t.Fatalf("GET /status: %v %d %s", err, resp.status, resp.body)
	}
	var st struct {
		Memory struct {
			Dicts map[string]map[string]any `json:"lua_shared_dicts"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(resp.body, &st); err != nil {
		t.Fatal(err)
	}
	mib := regexp.MustCompile(`^\d+\.\d+ MiB$`)
	for _, name := range []string{"kong", "kong_db_cache"} {
		for _, k := range []string{"capacity", "allocated_slabs"} {
			if v, _ := st.Memory.Dicts[name][k].(string); !mib.MatchString(v) {
				t.Errorf("lua_shared_dicts.%s.%s = %v; want like 1.25 MiB", name, k, st.Memory.Dicts[name][k])
			}
		}
	}
	if got := st.Memory.Dicts["kong_db_cache"]["capacity"]; got != "128.00 MiB" {
		t.Errorf("kong_db_cache capacity %v; want mem_cache_size's default, 128.00 MiB", got)
	}
	resp, err = g.status("/status?unit=b")
	if err != nil || json.Unmarshal(resp.body, &st) != nil {
		t.Fatalf("GET /status?unit=b: %v %s", err, resp.body)
	}
	if got, _ := st.Memory.Dicts["kong_db_cache"]["allocated_slabs"].(float64); got <= 0 {
		t.Errorf("kong_db_cache holds %v bytes; want the served configuration's", st.Memory.Dicts["kong_db_cache"]["allocated_slabs"])
	}
	m, err := g.status("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`kong_memory_lua_shared_dict_bytes{node_id=`, `shared_dict="kong_db_cache"`,
		`kong_memory_lua_shared_dict_total_bytes{`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
