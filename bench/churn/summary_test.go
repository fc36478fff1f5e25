package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestMedianPercentile(t *testing.T) {
	tests := []struct {
		v      []float64
		med    float64
		p99    float64
		p50    float64
		remark string
	}{
		{nil, 0, 0, 0, "empty"},
		{[]float64{5}, 5, 5, 5, "one"},
		{[]float64{4, 1, 3, 2}, 2.5, 4, 2, "even count"},
		{[]float64{9, 1, 5}, 5, 9, 5, "odd count"},
	}
	for _, tt := range tests {
		if got := median(tt.v); got != tt.med {
			t.Errorf("%s: median(%v) = %v; want %v", tt.remark, tt.v, got, tt.med)
		}
		if got := percentile(tt.v, 99); got != tt.p99 {
			t.Errorf("%s: percentile(%v, 99) = %v; want %v", tt.remark, tt.v, got, tt.p99)
		}
		if got := percentile(tt.v, 50); got != tt.p50 {
			t.Errorf("%s: percentile(%v, 50) = %v; want %v", tt.remark, tt.v, got, tt.p50)
		}
	}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1
	}
	if got := percentile(hundred, 99); got != 99 {
		t.Errorf("p99 of 1..100 = %v; want 99", got)
	}
}

func TestSpike(t *testing.T) {
	// Warm-up samples (t < 10) are ignored, even the large one.
	mem := []memSample{
		{T: 1, RSS: 500 * mib, Heap: -1},
		{T: 10, RSS: 100 * mib, Heap: -1}, {T: 11, RSS: 100 * mib, Heap: -1},
		{T: 12, RSS: 120 * mib, Heap: -1}, {T: 13, RSS: 100 * mib, Heap: -1},
		{T: 14, RSS: 101 * mib, Heap: -1},
	}
	med, peak, ratio := spike(mem, 10, false)
	if med != 100*mib || peak != 120*mib || math.Abs(ratio-1.2) > 1e-9 {
		t.Errorf("spike = median %v, peak %v, ratio %v; want 100 MiB, 120 MiB, 1.2", med/mib, peak/mib, ratio)
	}
	if _, p, r := spike(mem, 10, true); p != 0 || r != 0 {
		t.Errorf("heap spike with no heap samples = peak %v ratio %v; want 0, 0", p, r)
	}
}

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestSplitP99AndSummarize(t *testing.T) {
	// 10 s of requests, 100 per second, 1 ms each, except 5 ms during the
	// change at 4..4.5 s (and 3 s after it: the window is 4..7.5 s) and one
	// 50 ms request during the warm-up, which must not count.
	var reqs []reqSample
	for i := range 1000 {
		t := float64(i) / 100
		lat := ms(1)
		if t >= 4 && t < 7.5 {
			lat = ms(5)
		}
		reqs = append(reqs, reqSample{T: t, Lat: lat})
	}
	reqs = append(reqs, reqSample{T: 0.5, Lat: ms(50)}, reqSample{T: 9, Lat: ms(1), Failed: true})
	changes := []Change{{Start: 4, End: 4.5, Lags: []float64{0.05, math.NaN()}}, {Start: 20, End: 21, Lags: []float64{0.2, 0.3}}}
	in, out, nIn, nOut := splitP99(reqs, changeWindows(changes, 3), 1, 10)
	if in != 5 || out != 1 || nIn != 350 || nOut != 551 {
		t.Errorf("splitP99 = %v ms in (%d), %v ms out (%d); want 5 in (350), 1 out (551)", in, nIn, out, nOut)
	}
	mem := []memSample{{T: 2, RSS: 10 * mib, Heap: 4 * mib}, {T: 3, RSS: 11 * mib, Heap: 5 * mib}, {T: 4, RSS: 10 * mib, Heap: 4 * mib}}
	s := summarize(0, mem, reqs, 2, changes, 1, 10, 3)
	if s.P99Ratio != 5 || s.Failed != 3 || s.Requests != 1004 {
		t.Errorf("summary p99 ratio %v, failed %d of %d; want 5, 3 of 1004", s.P99Ratio, s.Failed, s.Requests)
	}
	if s.RSSBeforeMiB != 10.5 || math.Abs(s.GrowthRatio-11/10.5) > 1e-9 {
		t.Errorf("RSS before changes %v MiB, growth %v; want 10.5 and 11/10.5", s.RSSBeforeMiB, s.GrowthRatio)
	}
	if math.Abs(s.SpikeRatio-1.1) > 1e-9 || s.HeapPeakMiB != 5 {
		t.Errorf("spike ratio %v heap peak %v; want 1.1 and 5", s.SpikeRatio, s.HeapPeakMiB)
	}
	if s.LagP50MS != 50 || s.LagP99MS != 200 || s.LagMissed != 0 {
		t.Errorf("replica 0 lag p50 %v p99 %v missed %d; want 50, 200, 0", s.LagP50MS, s.LagP99MS, s.LagMissed)
	}
	s1 := summarize(1, mem, reqs, 0, changes, 1, 10, 3)
	if s1.LagMissed != 1 || s1.LagP99MS != 300 {
		t.Errorf("replica 1 lag p99 %v missed %d; want 300, 1", s1.LagP99MS, s1.LagMissed)
	}

	checks := verdict([]ReplicaSummary{s}, IssueBounds)
	want := map[string]bool{"spike ratio (peak/median RSS)": true, "p99 after change / elsewhere": false, "failed requests": false, "propagation lag p99": true}
	if len(checks) != len(want) {
		t.Fatalf("got %d checks; want %d", len(checks), len(want))
	}
	for _, c := range checks {
		if c.Pass != want[c.Name] {
			t.Errorf("check %q (%s) pass = %v; want %v", c.Name, c.Value, c.Pass, want[c.Name])
		}
	}
	table := verdictTable(checks)
	if !strings.Contains(table, "FAIL") || !strings.Contains(table, "PASS") || strings.Count(table, "\n") != 5 {
		t.Errorf("verdict table:\n%s\nwant a header and 4 lines with PASS and FAIL", table)
	}
	if cs := verdict([]ReplicaSummary{{Replica: 0, SpikeRatio: 1, P99Ratio: 1, P99OtherMS: 1, Requests: 10}}, IssueBounds); !cs[0].Pass || !cs[1].Pass || !cs[2].Pass || !cs[3].Pass {
		t.Errorf("a clean replica fails: %+v", cs)
	}
}

func TestPerSecond(t *testing.T) {
	reqs := []reqSample{{T: 0.1, Lat: ms(1)}, {T: 0.9, Lat: ms(3), Failed: true}, {T: 2.5, Lat: ms(7)}}
	got := perSecond(reqs)
	if len(got) != 2 || got[0].T != 0 || got[0].N != 2 || got[0].Failed != 1 || got[0].P99 != 3 || got[0].P50 != 1 || got[1].T != 2 || got[1].P99 != 7 {
		t.Errorf("perSecond = %+v; want second 0 (2 requests, 1 failed, p50 1, p99 3) and second 2 (p99 7)", got)
	}
}

func TestWriteTimeline(t *testing.T) {
	mem := [][]memSample{{{T: 0.5, RSS: 10 * mib, Heap: -1}, {T: 1.5, RSS: 12 * mib, Heap: 3 * mib}}, {{T: 0.6, RSS: 20 * mib, Heap: -1}}}
	secs := [][]Second{{{T: 1, N: 100, Failed: 2, P50: 1.5, P99: 9.25}}, nil}
	changes := []Change{{Start: 1.2, End: 1.7}}
	var buf bytes.Buffer
	if err := writeTimeline(&buf, mem, secs, changes); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v", err)
	}
	want := [][]string{
		timelineHeader,
		{"memory", "0.500", "1", "10.000", "", "", "", "", "", ""},
		{"memory", "0.600", "2", "20.000", "", "", "", "", "", ""},
		{"latency", "1.000", "1", "", "", "100", "2", "1.500", "9.250", ""},
		{"change", "1.200", "", "", "", "", "", "", "", "1.700"},
		{"memory", "1.500", "1", "12.000", "3.000", "", "", "", "", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d rows:\n%v\nwant %d", len(recs), recs, len(want))
	}
	for i := range want {
		if strings.Join(recs[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("row %d = %v; want %v", i, recs[i], want[i])
		}
	}
}

func TestChartPNG(t *testing.T) {
	mem := [][]memSample{{{T: 0, RSS: 10 * mib, Heap: 2 * mib}, {T: 1, RSS: 11 * mib, Heap: 3 * mib}}}
	secs := [][]Second{{{T: 0, P99: 2}, {T: 1, P99: 3}}}
	for _, heap := range []bool{false, true} {
		var buf bytes.Buffer
		if err := chart("t", mem, secs, secs[0], []Change{{Start: 0.5, End: 0.6}}, heap, 0, 3).PNG(&buf); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		panels := 2
		if heap {
			panels = 3
		}
		if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 260*panels {
			t.Errorf("heap %v: image %dx%d; want 1200x%d", heap, b.Dx(), b.Dy(), 260*panels)
		}
	}
}

func TestStatePlanApply(t *testing.T) {
	s := newState("http://127.0.0.1:1", 100, 50, true)
	rng := newTestRand()
	b := s.plan(rng, 0.2, 0.1, 3)
	if len(b.routes) != 20 || len(b.rotate) != 5 || len(b.add) != 3 || b.probe != b.add[2] || len(b.remove) != 0 {
		t.Fatalf("plan: %d routes, %d rotations, %d added (probe %q), %d removed; want 20, 5, 3 (the last), 0", len(b.routes), len(b.rotate), len(b.add), b.probe, len(b.remove))
	}
	seen := map[int]bool{}
	for _, i := range b.routes {
		if i < s.loadRoutes || seen[i] {
			t.Errorf("route %d picked (load routes are below %d, or a duplicate)", i, s.loadRoutes)
		}
		seen[i] = true
	}
	for _, i := range b.rotate {
		if i < s.loadConsumers {
			t.Errorf("consumer %d rotated; load consumers are below %d", i, s.loadConsumers)
		}
	}
	s.apply(b)
	b2 := s.plan(rng, 0.2, 0.1, 3)
	if strings.Join(b2.remove, ",") != strings.Join(b.add, ",") {
		t.Errorf("second change removes %v; want the first's additions %v", b2.remove, b.add)
	}
	js, err := s.declarative()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"_format_version":"3.0"`, `"paths":["` + b.newPaths[0] + `"]`, `"key":"` + b.newKeys[0] + `"`, `"name":"` + b.probe + `"`, `"name":"rate-limiting"`, `"key_names":["apikey"]`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("declarative config lacks %s", want)
		}
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestControl(t *testing.T) {
	reqs := []reqSample{{T: 1, Lat: ms(1)}, {T: 2, Lat: ms(4)}, {T: 3, Lat: ms(2), Failed: true}}
	c := control(reqs, 1, []Change{{Start: 1.5, End: 1.6}}, 0, 10, 1)
	if c.P99ChangeMS != 4 || c.P99OtherMS != 2 || c.P99Ratio != 2 || c.Requests != 4 || c.Failed != 2 {
		t.Errorf("control = %+v; want p99 4 after, 2 elsewhere, ratio 2, 2 of 4 failed", c)
	}
}

func TestCPUSplit(t *testing.T) {
	// One core busy during the window 2..4, a quarter elsewhere.
	mem := []memSample{{T: 0, CPU: 0}, {T: 1, CPU: 0.25}, {T: 2, CPU: 0.5}, {T: 3, CPU: 1.5}, {T: 4, CPU: 2.5}, {T: 5, CPU: 2.75}, {T: 6, CPU: -1}}
	in, out := cpuSplit(mem, []window{{2.5, 4.5}}, 0.5, 10)
	if math.Abs(in-100) > 1e-9 || math.Abs(out-25) > 1e-9 {
		t.Errorf("cpuSplit = %v%% in, %v%% out; want 100, 25", in, out)
	}
}

func TestLagsJSON(t *testing.T) {
	b, err := json.Marshal(Change{Start: 1, End: 2, Writes: 3, Lags: lags{0.0123, math.NaN()}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"start_s":1,"end_s":2,"writes":3,"lag_s":[0.0123,null]}`; string(b) != want {
		t.Errorf("got %s; want %s", b, want)
	}
}

func TestAroundChange(t *testing.T) {
	changes := []Change{{Start: 10}, {Start: 20}}
	var reqs []reqSample
	for ms := 8000; ms < 24000; ms += 10 {
		lat := time.Millisecond
		if d := float64(ms)/1000 - 10; d >= 0.5 && d < 0.75 || float64(ms)/1000-20 >= 0.5 && float64(ms)/1000-20 < 0.75 {
			lat = 40 * time.Millisecond // slow just after each change
		}
		reqs = append(reqs, reqSample{T: float64(ms) / 1000, Lat: lat})
	}
	bs := aroundChange(reqs, changes, 1, 2, 0.25)
	if len(bs) != 12 {
		t.Fatalf("%d buckets; want 12", len(bs))
	}
	for _, b := range bs {
		want := 1.0
		if b.From == 0.5 {
			want = 40
		}
		if b.N != 50 || b.P99 != want {
			t.Errorf("bucket %+.2f: %d requests, p99 %.1f; want 50, %.1f", b.From, b.N, b.P99, want)
		}
	}
	if got := profileText(bs[:2]); got != "-1.00:1.0 -0.75:1.0" {
		t.Errorf("profileText = %q", got)
	}
}
