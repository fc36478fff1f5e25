package memwatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for synthetic timelines.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// synthetic returns a watcher fed by hand through record, with a fake clock.
func synthetic(opts Options) (*Watcher, *fakeClock) {
	c := &fakeClock{t: t0}
	opts.now = c.now
	if opts.Baseline == 0 {
		opts.Baseline = 10
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	return New(opts), c
}

// feed records one synthetic sample at the clock's time and advances it.
func feed(w *Watcher, c *fakeClock, heap, rss int64, gauges ...int64) {
	w.record(Sample{Time: c.t, HeapInuse: heap, HeapLive: heap, RSS: rss, Stacks: 1 << 20, Goroutines: 10, Gauges: gauges})
	c.t = c.t.Add(w.opts.Interval)
}

const mib = 1 << 20

func TestRingWraparound(t *testing.T) {
	w, c := synthetic(Options{Samples: 5, MaxGauges: 2})
	if err := w.RegisterGauge("snapshot_bytes", func() int64 { return 0 }); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		feed(w, c, int64(100+i)*mib, int64(200+i)*mib, int64(i))
	}
	tl := w.Timeline(0)
	if len(tl.Samples) != 5 {
		t.Fatalf("samples = %d; want 5", len(tl.Samples))
	}
	for i, s := range tl.Samples {
		want := int64(7 + i)
		if s.HeapInuse != (100+want)*mib || len(s.Gauges) != 1 || s.Gauges[0] != want {
			t.Errorf("sample %d: heap %d MiB, gauges %v; want heap %d MiB, gauges [%d]", i, s.HeapInuse/mib, s.Gauges, 100+want, want)
		}
		if i > 0 && s.T <= tl.Samples[i-1].T {
			t.Errorf("sample %d time %d not after %d", i, s.T, tl.Samples[i-1].T)
		}
	}
	if got := w.Timeline(2).Samples; len(got) != 2 || got[1].HeapInuse != 111*mib {
		t.Errorf("Timeline(2) = %+v; want the newest two ending at 111 MiB", got)
	}

	// Events wrap too.
	w2, _ := synthetic(Options{MaxEvents: 3})
	for i := range 5 {
		w2.Event(KindEviction, "", "n", i)
	}
	ev := w2.Timeline(0).Events
	if len(ev) != 3 || ev[0].Attrs["n"] != 2 || ev[2].Attrs["n"] != 4 {
		t.Errorf("events = %+v; want n = 2, 3, 4", ev)
	}
}

func TestEventAttrsEncode(t *testing.T) {
	w := New(Options{})
	w.Event(KindEviction, "odd attrs", "nan", math.NaN(), "err", errors.New("boom"), "took", 1500*time.Millisecond,
		"fn", func() {}, slog.Int("n", 3), "dangling")
	w.Eviction("credential cache", 10, 4096)
	tl := w.Timeline(0)
	if ev := tl.Events[1]; ev.Kind != KindEviction || ev.Detail != "credential cache evicted 10 entries (4.00 KiB)" || ev.Attrs["bytes"] != int64(4096) {
		t.Errorf("eviction event = %+v; want credential cache, 10 entries, 4096 bytes", ev)
	}
	if _, err := json.Marshal(tl); err != nil {
		t.Fatalf("timeline with odd attrs does not encode: %v", err)
	}
	want := map[string]any{"nan": "NaN", "err": "boom", "took": "1.5s", "n": int64(3), "!BADKEY": "dangling"}
	for k, v := range want {
		if got := tl.Events[0].Attrs[k]; got != v {
			t.Errorf("attr %s = %#v; want %#v", k, got, v)
		}
	}
}

func TestRegisterGaugeLimits(t *testing.T) {
	w := New(Options{MaxGauges: 1})
	if err := w.RegisterGauge("a", func() int64 { return 1 }); err != nil {
		t.Fatal(err)
	}
	if err := w.RegisterGauge("a", func() int64 { return 1 }); err == nil {
		t.Error("duplicate gauge accepted")
	}
	if err := w.RegisterGauge("b", func() int64 { return 1 }); err == nil {
		t.Error("gauge beyond MaxGauges accepted")
	}
}

func TestSyntheticSpikeDetection(t *testing.T) {
	tests := []struct {
		name       string
		heap, rss  []int64 // MiB
		gauge      []int64 // MiB; nil: no gauge
		wantSpikes int
		wantGrew   string
		wantMetric string
	}{
		{
			name: "steady with noise", heap: []int64{100, 102, 99, 101, 103, 100, 98, 104, 101, 100, 102, 110, 105},
			rss: []int64{150, 152, 149, 151, 153, 150, 148, 154, 151, 150, 152, 160, 155}, wantSpikes: 0,
		},
		{
			name: "heap jump held", heap: []int64{100, 100, 100, 100, 100, 100, 170, 175, 172, 100, 100},
			rss: []int64{150, 150, 150, 150, 150, 150, 220, 225, 222, 220, 220}, wantSpikes: 1, wantGrew: "heap", wantMetric: "heap+rss",
		},
		{
			name: "two separate jumps", heap: []int64{100, 100, 100, 100, 100, 100, 170, 100, 100, 100, 170, 100},
			rss: []int64{150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150}, wantSpikes: 2, wantGrew: "heap", wantMetric: "heap",
		},
		{
			name: "slow climb is one spike", heap: []int64{100, 100, 100, 100, 100, 100, 125, 150, 175, 200, 225, 250, 275, 300},
			rss: []int64{150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150}, wantSpikes: 1, wantGrew: "heap", wantMetric: "heap",
		},
		{
			name: "a new level settles, then a further jump", heap: []int64{100, 100, 100, 100, 100, 100,
				170, 170, 170, 170, 170, 170, 170, 170, 170, 170, 170, 170, 170, 260, 260},
			rss:        []int64{150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150, 150},
			wantSpikes: 2, wantGrew: "heap", wantMetric: "heap",
		},
		{
			name: "small relative rise is not a spike", heap: []int64{1000, 1000, 1000, 1000, 1000, 1000, 1100, 1100},
			rss: []int64{1100, 1100, 1100, 1100, 1100, 1100, 1200, 1200}, wantSpikes: 0,
		},
		{
			name: "large relative but tiny absolute rise", heap: []int64{10, 10, 10, 10, 10, 10, 20, 20},
			rss: []int64{20, 20, 20, 20, 20, 20, 30, 30}, wantSpikes: 0,
		},
		{
			name: "growth outside the heap", heap: []int64{100, 100, 100, 100, 100, 100, 101, 101},
			rss: []int64{150, 150, 150, 150, 150, 150, 300, 300}, wantSpikes: 1, wantGrew: "outside the Go heap", wantMetric: "rss",
		},
		{
			name: "memory outside the heap grows in step with the heap (race shadow)", heap: []int64{100, 100, 100, 100, 100, 100, 180, 180},
			rss: []int64{150, 150, 150, 150, 150, 150, 315, 315}, wantSpikes: 1, wantGrew: "heap", wantMetric: "heap+rss",
		},
		{
			name: "a gauge explains the heap", heap: []int64{100, 100, 100, 100, 100, 100, 180, 180},
			rss: []int64{150, 150, 150, 150, 150, 150, 230, 230}, gauge: []int64{20, 20, 20, 20, 20, 20, 90, 90},
			wantSpikes: 1, wantGrew: "snapshot_bytes", wantMetric: "heap+rss",
		},
		{
			name: "a gauge too small to explain it", heap: []int64{100, 100, 100, 100, 100, 100, 180, 180},
			rss: []int64{150, 150, 150, 150, 150, 150, 230, 230}, gauge: []int64{20, 20, 20, 20, 20, 20, 25, 25},
			wantSpikes: 1, wantGrew: "heap", wantMetric: "heap+rss",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, c := synthetic(Options{})
			if tt.gauge != nil {
				w.RegisterGauge("snapshot_bytes", func() int64 { return 0 })
			}
			// The last sample is repeated so that an open spike stops
			// growing and is reported.
			n := len(tt.heap)
			for i := range n + 2 {
				i = min(i, n-1)
				if tt.gauge != nil {
					feed(w, c, tt.heap[i]*mib, tt.rss[i]*mib, tt.gauge[i]*mib)
				} else {
					feed(w, c, tt.heap[i]*mib, tt.rss[i]*mib)
				}
			}
			tl := w.Timeline(0)
			if len(tl.Spikes) != tt.wantSpikes || tl.SpikesTotal != int64(tt.wantSpikes) {
				t.Fatalf("spikes = %d (total %d); want %d: %+v", len(tl.Spikes), tl.SpikesTotal, tt.wantSpikes, tl.Spikes)
			}
			for _, s := range tl.Spikes {
				if s.Grew != tt.wantGrew || s.Metric != tt.wantMetric {
					t.Errorf("spike grew %q metric %q; want %q %q (growth %+v)", s.Grew, s.Metric, tt.wantGrew, tt.wantMetric, s.Growth)
				}
				if s.Skipped != "no diagnostics directory" {
					t.Errorf("capture skipped = %q; want no diagnostics directory", s.Skipped)
				}
			}
		})
	}
}

func TestSpikeNamesEventsBefore(t *testing.T) {
	var logs bytes.Buffer
	w, c := synthetic(Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	for range 8 {
		feed(w, c, 100*mib, 150*mib)
	}
	old := c.t
	c.t = old.Add(-40 * time.Second)
	w.Event(KindEviction, "credential cache evicted 10 entries")
	c.t = old.Add(-800 * time.Millisecond)
	w.Reload(9000, 1200*time.Millisecond)
	c.t = old
	feed(w, c, 200*mib, 250*mib)
	feed(w, c, 210*mib, 260*mib)
	if n := strings.Count(logs.String(), `"msg":"memory spike`); n != 0 {
		t.Errorf("spike logged while still growing")
	}
	feed(w, c, 210*mib, 260*mib)
	feed(w, c, 210*mib, 260*mib) // two samples without growth: reported
	feed(w, c, 210*mib, 260*mib)

	tl := w.Timeline(0)
	if len(tl.Spikes) != 1 {
		t.Fatalf("spikes = %d; want 1", len(tl.Spikes))
	}
	sp := tl.Spikes[0]
	if len(sp.Before) != 1 || sp.Before[0].Event.Kind != KindReload {
		t.Fatalf("before = %+v; want only the reload (the eviction is outside the window)", sp.Before)
	}
	if sp.PeakHeap != 210*mib {
		t.Errorf("peak heap = %d MiB; want 210", sp.PeakHeap/mib)
	}
	wantSum := "heap 100.00 MiB over its baseline of 100.00 MiB; grew most: heap +110.00 MiB; config reload of 9000 entities 0.8 s before"
	if got := sp.Summary(); got != wantSum {
		t.Errorf("summary = %q; want %q", got, wantSum)
	}
	if n := strings.Count(logs.String(), `"msg":"memory spike`); n != 1 {
		t.Errorf("logged %d spike messages; want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"grew":"heap"`) || !strings.Contains(logs.String(), `0.8 s before`) {
		t.Errorf("spike log lacks the attribution:\n%s", logs.String())
	}
	last := tl.Events[len(tl.Events)-1]
	if last.Kind != KindSpike {
		t.Errorf("last event kind = %q; want spike", last.Kind)
	}
}

func TestCaptureCooldownAndPrune(t *testing.T) {
	dir := t.TempDir()
	w, c := synthetic(Options{Dir: dir, MaxFiles: 3, Cooldown: time.Minute, NoTrace: true})
	spike := func() {
		for range 12 {
			feed(w, c, 100*mib, 150*mib)
		}
		feed(w, c, 200*mib, 250*mib)
	}
	spike()
	spike()                      // 13 s later: within the cooldown
	feed(w, c, 100*mib, 150*mib) // the second spike ends and is reported
	tl := w.Timeline(0)
	if len(tl.Spikes) != 2 {
		t.Fatalf("spikes = %d; want 2", len(tl.Spikes))
	}
	if len(tl.Spikes[0].Profiles) != 1 || tl.Spikes[1].Skipped == "" || len(tl.Spikes[1].Profiles) != 0 {
		t.Errorf("first spike profiles %v, second profiles %v skipped %q; want one file then a cooldown skip",
			tl.Spikes[0].Profiles, tl.Spikes[1].Profiles, tl.Spikes[1].Skipped)
	}
	for range 6 {
		c.t = c.t.Add(2 * time.Minute)
		spike()
	}
	c.t = c.t.Add(2 * time.Minute)
	feed(w, c, 100*mib, 150*mib) // the last spike ends and is reported
	files := ListCaptures(dir)
	if len(files) != 3 {
		t.Fatalf("files in dir = %v; want 3", files)
	}
	// The newest spike's profile is kept.
	spikes := w.Timeline(0).Spikes
	newest := spikes[len(spikes)-1].Profiles
	if len(newest) != 1 || files[2] != newest[0] {
		t.Errorf("files %v; want the newest %v last", files, newest)
	}
	if fi, err := os.Stat(files[2]); err != nil || fi.Size() == 0 {
		t.Errorf("profile %s: %v, size %v; want a non-empty file", files[2], err, fi)
	}
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var held [][]byte

func TestRealMemoryJump(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 64 MiB")
	}
	runtime.GC()
	dir := t.TempDir()
	w := New(Options{Interval: 20 * time.Millisecond, Baseline: 100, MinBaseline: 10, Dir: dir})
	w.Start(context.Background())
	defer w.Stop()
	waitFor(t, 5*time.Second, "a baseline", func() bool { return len(w.Timeline(0).Samples) >= 12 })

	// Allocate and hold 64 MiB, touching every page so RSS grows too.
	b := make([]byte, 64*mib)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	held = append(held, b)
	defer func() { held = nil }()
	waitFor(t, 5*time.Second, "a reported spike", func() bool {
		for _, e := range w.Timeline(0).Events {
			if e.Kind == KindSpike {
				return true
			}
		}
		return false
	})
	n := len(w.Timeline(0).Samples)
	waitFor(t, 5*time.Second, "more samples", func() bool { return len(w.Timeline(0).Samples) >= n+5 })
	w.Stop()

	tl := w.Timeline(0)
	if len(tl.Spikes) != 1 {
		t.Fatalf("spikes = %d; want exactly 1: %+v", len(tl.Spikes), tl.Spikes)
	}
	sp := tl.Spikes[0]
	if sp.Grew != "heap" {
		t.Errorf("grew = %q; want heap (growth %+v)", sp.Grew, sp.Growth)
	}
	var heapFile bool
	for _, f := range sp.Profiles {
		if strings.HasPrefix(filepath.Base(f), "heap-") {
			fi, err := os.Stat(f)
			heapFile = err == nil && fi.Size() > 0
		}
	}
	if !heapFile {
		t.Errorf("profiles = %v (skipped %q); want a heap profile in %s", sp.Profiles, sp.Skipped, dir)
	}
	if w.fr != nil && len(sp.Profiles) != 2 {
		t.Errorf("profiles = %v; want a heap profile and a trace", sp.Profiles)
	}
	if len(held) != 1 {
		t.Fatal("held memory released early")
	}
}

func TestRealSteadyMemory(t *testing.T) {
	runtime.GC()
	w := New(Options{Interval: 5 * time.Millisecond, Baseline: 20, MinBaseline: 10, NoTrace: true})
	w.Start(context.Background())
	// Steady churn: short-lived garbage, nothing held.
	var sink []byte
	waitFor(t, 10*time.Second, "60 samples", func() bool {
		for range 16 {
			sink = make([]byte, 64<<10)
		}
		return len(w.Timeline(0).Samples) >= 60
	})
	_ = sink
	w.Stop()
	tl := w.Timeline(0)
	if len(tl.Spikes) != 0 {
		t.Errorf("spikes = %+v; want none", tl.Spikes)
	}
	last := tl.Samples[len(tl.Samples)-1]
	if last.HeapInuse <= 0 || last.HeapLive <= 0 || last.HeapGoal <= 0 || last.Goroutines <= 0 || last.Stacks <= 0 || last.GCCycles <= 0 {
		t.Errorf("sample %+v; want positive heap, goal, stacks, goroutines and GC cycles", last)
	}
	if runtime.GOOS == "linux" && last.RSS <= 0 {
		t.Errorf("rss = %d; want positive on linux", last.RSS)
	}
}

func TestParseStatmRSS(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"765 418 390 5 0 123 0\n", 418, true},
		{"1 0 0 0 0 0 0", 0, true},
		{"765", 0, false},
		{"765 ", 0, false},
		{"765 x", 0, false},
		{"", 0, false},
		{"1 99999999999999999999999 0", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseStatmRSS([]byte(tt.in))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseStatmRSS(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseStatmRSS(f *testing.F) {
	f.Add([]byte("765 418 390 5 0 123 0\n"))
	f.Add([]byte("1 2"))
	f.Add([]byte(" 7"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseStatmRSS(b)
		if v < 0 || (!ok && v != 0) {
			t.Errorf("parseStatmRSS(%q) = %d, %v", b, v, ok)
		}
	})
}

func BenchmarkSample(b *testing.B) {
	w := New(Options{NoTrace: true})
	for _, n := range []string{"snapshot_bytes", "cache_bytes", "queue_bytes"} {
		w.RegisterGauge(n, func() int64 { return 1 << 20 })
	}
	b.ReportAllocs()
	for b.Loop() {
		w.sampleOnce()
	}
}
