package memwatch

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cannedTimeline is a /debug/memory body written by hand (not by
// json.Marshal of our types), so the doctor is tested against the wire
// format: 20 samples, flat at 100 MiB heap and 150 MiB RSS except a jump at
// samples 10-12, and two spikes.
func cannedTimeline() string {
	var samples []string
	for i := range 20 {
		heap, rss := 100, 150
		if i >= 10 && i <= 12 {
			heap, rss = 164, 214
		}
		samples = append(samples, fmt.Sprintf(`{"t":%d,"rss":%d,"heap_inuse":%d,"heap_goal":%d,"stacks":1048576,"gc_cycles":%d,"gc_pause_ns":1000,"goroutines":42,"gauges":[%d]}`,
			1795748400000+int64(i)*1000, rss<<20, heap<<20, 2*heap<<20, i, 10<<20))
	}
	return `{
 "now": "2026-11-27T03:00:20Z",
 "interval_seconds": 1,
 "limit": {"cgroup_limit": 268435456, "gomemlimit": 241591910, "source": "90% of the cgroup limit of 268435456 bytes", "gomaxprocs": 2},
 "gauge_names": ["snapshot_bytes"],
 "samples": [` + strings.Join(samples, ",") + `],
 "events": [{"time": "2026-11-27T03:00:09.2Z", "kind": "reload", "detail": "config reload of 9000 entities", "attrs": {"entities": 9000, "build_seconds": 0.4}}],
 "spikes": [
  {"time": "2026-11-27T03:00:10Z", "end": "2026-11-27T03:00:13Z", "metric": "heap+rss", "rss": 224395264, "rss_baseline": 157286400,
   "heap": 171966464, "heap_baseline": 104857600, "peak_rss": 224395264, "peak_heap": 171966464, "grew": "heap",
   "growth": [{"component": "heap", "delta": 67108864, "unit": "bytes"}, {"component": "goroutines", "delta": 12, "unit": "goroutines"}],
   "before": [{"event": {"time": "2026-11-27T03:00:09.2Z", "kind": "reload", "detail": "config reload of 9000 entities"}, "ago_seconds": 0.8}],
   "profiles": ["/var/sluice/diagnostics/heap-20261127T030010.000Z.pprof", "/var/sluice/diagnostics/trace-20261127T030010.000Z.out"]},
  {"time": "2026-11-27T03:00:16Z", "metric": "rss", "rss": 260000000, "rss_baseline": 157286400, "heap": 104857600, "heap_baseline": 104857600,
   "peak_rss": 260000000, "peak_heap": 104857600, "grew": "outside the Go heap",
   "growth": [{"component": "outside the Go heap", "delta": 102713600, "unit": "bytes"}], "before": [], "capture_skipped": "cooldown: last capture 6 s ago"}
 ],
 "spikes_total": 2,
 "period": {"found": true, "every_seconds": 3600, "count": 4, "first": "2026-11-27T00:00:10Z", "last": "2026-11-27T03:00:10Z",
   "cause": "reload", "cause_count": 4, "lag_seconds": 0.8, "cause_detail": "a config reload of about 9k entities",
   "summary": "every 60 min, each after a config reload of about 9k entities"},
 "dir": "/var/sluice/diagnostics",
 "profiles": ["/var/sluice/diagnostics/heap-20261127T030010.000Z.pprof", "/var/sluice/diagnostics/trace-20261127T030010.000Z.out"]
}`
}

func TestDoctor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/memory" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(cannedTimeline()))
	}))
	defer srv.Close()

	var out strings.Builder
	if err := Doctor(&out, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	wantSpark := "RSS            " + strings.Repeat("▁", 10) + strings.Repeat("█", 3) + strings.Repeat("▁", 7) + "  min 150.00 MiB  median 150.00 MiB  max 214.00 MiB  now 150.00 MiB"
	wantLines := []string{
		wantSpark,
		"heap           " + strings.Repeat("▁", 10) + strings.Repeat("█", 3) + strings.Repeat("▁", 7) + "  min 100.00 MiB",
		"snapshot_bytes " + strings.Repeat("▁", 20) + "  min 10.00 MiB",
		"20 samples every 1 s, covering 19 s",
		"limit: container 256.00 MiB, GOMEMLIMIT 230.40 MiB (90% of the cgroup limit of 268435456 bytes)",
		"events: 1 reload",
		"spikes: 2 (2 since start)",
		"  2026-11-27 03:00:10  heap 64.00 MiB over its baseline of 100.00 MiB; grew most: heap +64.00 MiB; config reload of 9000 entities 0.8 s before",
		"      peak rss 214.00 MiB, peak heap 164.00 MiB, back to normal after 3 s",
		"      peak rss 247.96 MiB, peak heap 100.00 MiB, still high",
		"      grew: heap +64.00 MiB, goroutines +12 goroutines",
		"      before: config reload of 9000 entities, 0.8 s before",
		"      profiles: /var/sluice/diagnostics/heap-20261127T030010.000Z.pprof /var/sluice/diagnostics/trace-20261127T030010.000Z.out",
		"  2026-11-27 03:00:16  rss 97.96 MiB over its baseline of 150.00 MiB; grew most: outside the Go heap +97.96 MiB",
		"      no profile: cooldown: last capture 6 s ago",
		"recurring: every 60 min, each after a config reload of about 9k entities (4 spikes from 00:00:10 to 03:00:10)",
		"profiles in /var/sluice/diagnostics: 2 file(s)",
	}
	lines := strings.Split(got, "\n")
	for _, want := range wantLines {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("report lacks a line starting %q; report:\n%s", want, got)
		}
	}
}

func TestDoctorErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	}))
	defer srv.Close()
	var out strings.Builder
	err := Doctor(&out, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Doctor on a 404 = %v; want an error naming 404", err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{not json")) }))
	defer bad.Close()
	if err := Doctor(&out, bad.URL); err == nil {
		t.Error("Doctor on a bad body succeeded; want an error")
	}
	srv.Close()
	if err := Doctor(&out, srv.URL); err == nil {
		t.Error("Doctor with nothing listening succeeded; want an error")
	}
}

// The doctor reads what the handler serves.
func TestDoctorAgainstHandler(t *testing.T) {
	w, c := synthetic(Options{})
	for range 8 {
		feed(w, c, 100*mib, 150*mib)
	}
	w.Reload(9000, 0)
	feed(w, c, 200*mib, 250*mib)
	var out strings.Builder
	mux := http.NewServeMux()
	mux.Handle("/debug/memory", w.Handler())
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	if err := Doctor(&out, strings.TrimPrefix(srv2.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"spikes: 1 (1 since start)", "grew most: heap +100.00 MiB; config reload of 9000 entities", "profiles: not saved (no diagnostics directory)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		in    []int64
		width int
		want  string
	}{
		{[]int64{0, 1, 2, 3, 4, 5, 6, 7}, 8, "▁▂▃▄▅▆▇█"},
		{[]int64{5, 5, 5}, 10, "▁▁▁"},
		{[]int64{0, 0, 0, 9, 0, 0}, 3, "▁█▁"}, // a short spike survives downsampling
		{nil, 10, ""},
	}
	for _, tt := range tests {
		if got := Sparkline(tt.in, tt.width); got != tt.want {
			t.Errorf("Sparkline(%v, %d) = %q; want %q", tt.in, tt.width, got, tt.want)
		}
	}
}
