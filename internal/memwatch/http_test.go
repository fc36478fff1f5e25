package memwatch

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestHandlerJSON(t *testing.T) {
	dir := t.TempDir()
	w, c := synthetic(Options{Dir: dir, NoTrace: true, Limit: Decision{CgroupLimit: 256 << 20, Source: "90% of the cgroup limit", GoMaxProcs: 2}})
	w.RegisterGauge("snapshot_bytes", func() int64 { return 0 })
	for range 8 {
		feed(w, c, 100*mib, 150*mib, 10*mib)
	}
	w.Reload(9000, 800*time.Millisecond)
	for range 3 {
		feed(w, c, 200*mib, 250*mib, 90*mib)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()

	code, body := get(t, srv.URL+"/debug/memory")
	if code != http.StatusOK {
		t.Fatalf("status %d; want 200: %s", code, body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"now", "interval_seconds", "limit", "gauge_names", "samples", "events", "spikes", "spikes_total", "period", "dir", "profiles"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("key %q missing from %s", k, body)
		}
	}
	var sample map[string]any
	var samples []json.RawMessage
	json.Unmarshal(raw["samples"], &samples)
	if len(samples) != 11 {
		t.Fatalf("samples = %d; want 11", len(samples))
	}
	json.Unmarshal(samples[10], &sample)
	for _, k := range []string{"t", "rss", "heap_inuse", "heap_live", "heap_goal", "stacks", "gc_cycles", "gc_pause_ns", "goroutines", "gauges"} {
		if _, ok := sample[k]; !ok {
			t.Errorf("sample key %q missing from %s", k, samples[10])
		}
	}
	var tl Timeline
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatal(err)
	}
	if tl.Limit.CgroupLimit != 256<<20 || tl.Limit.Source == "" || tl.Limit.GoMaxProcs != 2 || tl.Limit.GoMemLimit == 0 {
		t.Errorf("limit = %+v; want the decision and the limit in force", tl.Limit)
	}
	if len(tl.GaugeNames) != 1 || tl.GaugeNames[0] != "snapshot_bytes" || tl.Samples[10].Gauges[0] != 90*mib {
		t.Errorf("gauges %v, last sample %v; want snapshot_bytes = 90 MiB", tl.GaugeNames, tl.Samples[10].Gauges)
	}
	if len(tl.Spikes) != 1 || tl.Spikes[0].Grew != "snapshot_bytes" || len(tl.Spikes[0].Before) != 1 {
		t.Fatalf("spikes = %+v; want one, grown by snapshot_bytes, after the reload", tl.Spikes)
	}
	if ent, _ := tl.Spikes[0].Before[0].Event.Attrs["entities"].(float64); ent != 9000 {
		t.Errorf("reload before the spike has entities %v; want 9000", tl.Spikes[0].Before[0].Event.Attrs["entities"])
	}
	if len(tl.Profiles) != 1 || tl.Profiles[0] != tl.Spikes[0].Profiles[0] || !strings.HasPrefix(tl.Profiles[0], dir) {
		t.Errorf("profiles %v, spike profiles %v; want the one heap profile in %s", tl.Profiles, tl.Spikes[0].Profiles, dir)
	}
	if tl.Period.Found || tl.Period.Summary == "" {
		t.Errorf("period = %+v; want not found, with a summary", tl.Period)
	}

	if code, body := get(t, srv.URL+"/debug/memory?last=3"); code != 200 || strings.Count(string(body), `"heap_goal"`) != 3 {
		t.Errorf("?last=3: status %d, %d samples; want 200 and 3", code, strings.Count(string(body), `"heap_goal"`))
	}
	if code, _ := get(t, srv.URL+"/debug/memory?last=x"); code != http.StatusBadRequest {
		t.Errorf("?last=x: status %d; want 400", code)
	}
	resp, err := http.Post(srv.URL+"/debug/memory", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d; want 405", resp.StatusCode)
	}
}

func TestStatusBlock(t *testing.T) {
	w := New(Options{Limit: Decision{CgroupLimit: 512 << 20}})
	w.RegisterGauge("snapshot_bytes", func() int64 { return 3 * mib / 2 })
	m := w.StatusBlock()
	vms, ok := m["workers_lua_vms"].([]map[string]any)
	if !ok || len(vms) != 1 {
		t.Fatalf("workers_lua_vms = %#v; want one entry", m["workers_lua_vms"])
	}
	mibRe := regexp.MustCompile(`^\d+\.\d{2} MiB$`)
	if s, _ := vms[0]["http_allocated_gc"].(string); !mibRe.MatchString(s) {
		t.Errorf("http_allocated_gc = %q; want like 12.34 MiB", s)
	}
	if vms[0]["pid"] != os.Getpid() {
		t.Errorf("pid = %v; want %d", vms[0]["pid"], os.Getpid())
	}
	if d, ok := m["lua_shared_dicts"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("lua_shared_dicts = %#v; want an empty object", m["lua_shared_dicts"])
	}
	for _, k := range []string{"rss", "heap_inuse", "heap_goal", "stacks"} {
		if s, _ := m[k].(string); !mibRe.MatchString(s) {
			t.Errorf("%s = %#v; want like 12.34 MiB", k, m[k])
		}
	}
	if m["cgroup_limit"] != "512.00 MiB" {
		t.Errorf("cgroup_limit = %#v; want 512.00 MiB", m["cgroup_limit"])
	}
	if comps := m["components"].(map[string]any); comps["snapshot_bytes"] != "1.50 MiB" {
		t.Errorf("components = %#v; want snapshot_bytes 1.50 MiB", comps)
	}
	if _, err := json.Marshal(m); err != nil {
		t.Errorf("status block does not marshal: %v", err)
	}

	b, err := w.StatusBlockUnit("b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := b["heap_inuse"].(int64); !ok || n <= 0 {
		t.Errorf("heap_inuse with unit b = %#v; want a positive number", b["heap_inuse"])
	}
	if _, err := w.StatusBlockUnit("x", 2); err == nil {
		t.Error("unit x accepted; want an error")
	}
}

func TestWriteMetrics(t *testing.T) {
	w := New(Options{})
	w.RegisterGauge("snapshot_bytes", func() int64 { return 4096 })
	w.RegisterGauge(`odd"name`, func() int64 { return 7 })
	var buf bytes.Buffer
	if err := w.WriteMetrics(&buf); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	types := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "# TYPE ") && len(f) == 4 {
			types[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad line %q", line)
		}
		if _, err := strconv.ParseFloat(line[i+1:], 64); err != nil {
			t.Errorf("line %q: value not a number", line)
		}
		values[line[:i]] = line[i+1:]
	}
	for _, name := range []string{"sluice_memory_heap_inuse_bytes", "sluice_memory_rss_bytes", "sluice_memory_heap_goal_bytes",
		"sluice_memory_goroutines", "sluice_memory_gc_cycles_total", "sluice_memory_spikes_total", "sluice_memory_stacks_bytes"} {
		if _, ok := values[name]; !ok {
			t.Errorf("metric %s missing:\n%s", name, buf.String())
		}
		if types[name] == "" {
			t.Errorf("metric %s has no TYPE line", name)
		}
	}
	if types["sluice_memory_gc_cycles_total"] != "counter" || types["sluice_memory_heap_inuse_bytes"] != "gauge" {
		t.Errorf("types = %v; want gc_cycles_total counter, heap_inuse_bytes gauge", types)
	}
	if v := values[`sluice_memory_component_bytes{component="snapshot_bytes"}`]; v != "4096" {
		t.Errorf("snapshot component = %q; want 4096", v)
	}
	if v := values[`sluice_memory_component_bytes{component="odd\"name"}`]; v != "7" {
		t.Errorf("escaped component = %q; want 7:\n%s", v, buf.String())
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{0: "0 B", 512: "512 B", 3584: "3.50 KiB", 12939428: "12.34 MiB", 1288490189: "1.20 GiB", -2 * mib: "-2.00 MiB"}
	for n, want := range tests {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestCurrent(t *testing.T) {
	w := New(Options{})
	var size atomic.Int64
	size.Store(42)
	if err := w.RegisterGauge("test_cache", size.Load); err != nil {
		t.Fatal(err)
	}
	heap, comps := w.Current()
	if heap <= 0 || len(comps) != 1 || comps[0] != (Component{Name: "test_cache", Bytes: 42}) {
		t.Fatalf("Current() = %d, %+v; want a heap and test_cache 42", heap, comps)
	}
	size.Store(7) // read now, not from the ring
	if _, comps := w.Current(); comps[0].Bytes != 7 {
		t.Fatalf("Current() after a change = %+v; want 7", comps)
	}
}
