package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds are the acceptance bounds of issue 5.
type Bounds struct {
	SpikeRatio float64 `json:"spike_ratio_max"`
	P99Ratio   float64 `json:"p99_ratio_max"`
	Failures   int64   `json:"failures_max"`
	LagP99MS   float64 `json:"lag_p99_ms_max"`
}

// IssueBounds: spike ratio at most 1.10, p99 after a change at most 1.5
// times p99 elsewhere, no failed request, every replica serves each change
// within 1 s (p99 of the lag).
var IssueBounds = Bounds{SpikeRatio: 1.10, P99Ratio: 1.5, Failures: 0, LagP99MS: 1000}

// memSample is one memory reading of one replica; T is seconds since the
// load started, Heap is -1 when the replica does not expose it.
type memSample struct {
	T    float64
	RSS  int64   // bytes
	Heap int64   // bytes, -1: unknown
	CPU  float64 // user+system CPU seconds so far, -1: unknown
}

// reqSample is one request of the load: its intended send time (seconds
// since the load started), its latency from that time, and whether it
// failed (an error or a status of 400 or more).
type reqSample struct {
	T      float64
	Lat    time.Duration
	Failed bool
}

// window is a time span [From, To) in seconds since the load started.
type window struct{ From, To float64 }

func (w window) contains(t float64) bool { return t >= w.From && t < w.To }

// Change is one bulk change: when it started and ended (seconds since the
// load started) and each replica's lag until it served it (seconds; NaN
// when it never did within the probe's timeout).
type Change struct {
	Start  float64 `json:"start_s"`
	End    float64 `json:"end_s"`
	Writes int     `json:"writes"`
	Lags   lags    `json:"lag_s"`
}

// lags are seconds per replica; NaN (never served) is written as null.
type lags []float64

func (l lags) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, v, 'f', 4, 64)
		}
	}
	return append(b, ']'), nil
}

// ReplicaSummary is one replica's figures over the measured part of the run.
type ReplicaSummary struct {
	Replica      int     `json:"replica"`
	RSSMedianMiB float64 `json:"rss_median_mib"`
	RSSPeakMiB   float64 `json:"rss_peak_mib"`
	SpikeRatio   float64 `json:"spike_ratio"`
	// RSSBeforeMiB is the median RSS from the end of the warm-up to the
	// first change; GrowthRatio is the peak over it: how far the changes
	// lifted memory from where it was without them.
	RSSBeforeMiB  float64 `json:"rss_before_changes_mib"`
	GrowthRatio   float64 `json:"peak_over_before_changes"`
	HeapMedianMiB float64 `json:"heap_median_mib,omitempty"`
	HeapPeakMiB   float64 `json:"heap_peak_mib,omitempty"`
	P99ChangeMS   float64 `json:"p99_after_change_ms"`
	P99OtherMS    float64 `json:"p99_elsewhere_ms"`
	P99Ratio      float64 `json:"p99_ratio"`
	P50MS         float64 `json:"p50_ms"`
	Requests      int64   `json:"requests"`
	Failed        int64   `json:"failed"`
	LagP50MS      float64 `json:"lag_p50_ms"`
	LagP99MS      float64 `json:"lag_p99_ms"`
	LagMissed     int     `json:"lag_never_served"`
	CPUChangePct  float64 `json:"cpu_pct_after_change"`
	CPUOtherPct   float64 `json:"cpu_pct_elsewhere"`
	Reloads       int     `json:"reloads,omitempty"` // reload events in /debug/memory after the warm-up
	// AroundChange is the latency by time since the change started, all
	// changes folded together: where in the window the slow requests are.
	AroundChange []Bucket `json:"around_change"`
}

// Bucket is the latency of the requests intended in [From, From+width)
// seconds from the start of a change, over all changes.
type Bucket struct {
	From float64 `json:"from_s"`
	N    int     `json:"requests"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// aroundChange folds the requests intended from before to after seconds
// around each change's start into buckets of width seconds.
func aroundChange(reqs []reqSample, changes []Change, before, after, width float64) []Bucket {
	n := int(math.Round((before + after) / width))
	lat := make([][]float64, n)
	for _, r := range reqs {
		for _, c := range changes {
			d := r.T - c.Start
			if d < -before || d >= after {
				continue
			}
			i := min(int((d+before)/width), n-1)
			lat[i] = append(lat[i], float64(r.Lat)/float64(time.Millisecond))
		}
	}
	out := make([]Bucket, n)
	for i, v := range lat {
		out[i] = Bucket{From: -before + float64(i)*width, N: len(v), P50: percentile(v, 50), P99: percentile(v, 99)}
		if len(v) > 0 {
			out[i].Max = slices.Max(v)
		}
	}
	return out
}

// profileText renders buckets as one line: "+0.25s 3.1" per bucket (p99 ms).
func profileText(bs []Bucket) string {
	var b strings.Builder
	for i, x := range bs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%+.2f:%.1f", x.From, x.P99)
	}
	return b.String()
}

const mib = 1 << 20

// median of v (mean of the middle two for an even count); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile by nearest rank (0 < p <= 100) of v; 0 for none.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// spike returns the median and peak of the samples taken at or after from,
// and peak/median (0 when there are none).
func spike(samples []memSample, from float64, heap bool) (med, peak, ratio float64) {
	var v []float64
	for _, s := range samples {
		x := s.RSS
		if heap {
			x = s.Heap
		}
		if s.T >= from && x >= 0 {
			v = append(v, float64(x))
		}
	}
	if len(v) == 0 {
		return 0, 0, 0
	}
	med, peak = median(v), slices.Max(v)
	if med > 0 {
		ratio = peak / med
	}
	return med, peak, ratio
}

// changeWindows are the spans counted as "after a change": from each
// change's start to after seconds past its end.
func changeWindows(changes []Change, after float64) []window {
	out := make([]window, len(changes))
	for i, c := range changes {
		out[i] = window{c.Start, c.End + after}
	}
	return out
}

// splitP99 returns the p99 latency (ms) of the requests intended inside
// the windows and of the others, both within [from, to), and how many of
// each there were.
func splitP99(reqs []reqSample, wins []window, from, to float64) (in, out float64, nIn, nOut int) {
	var a, b []float64
	for _, r := range reqs {
		if r.T < from || r.T >= to {
			continue
		}
		ms := float64(r.Lat) / float64(time.Millisecond)
		if slices.ContainsFunc(wins, func(w window) bool { return w.contains(r.T) }) {
			a = append(a, ms)
		} else {
			b = append(b, ms)
		}
	}
	return percentile(a, 99), percentile(b, 99), len(a), len(b)
}

// summarize computes one replica's figures. Memory and latency count from
// the end of the warm-up (from) to the end of the load (to); missed is the
// number of requests the generator never got an answer for.
func summarize(replica int, mem []memSample, reqs []reqSample, missed int64, changes []Change, from, to, after float64) ReplicaSummary {
	s := ReplicaSummary{Replica: replica}
	med, peak, ratio := spike(mem, from, false)
	s.RSSMedianMiB, s.RSSPeakMiB, s.SpikeRatio = med/mib, peak/mib, ratio
	if len(changes) > 0 {
		var before []memSample
		for _, m := range mem {
			if m.T >= from && m.T < changes[0].Start {
				before = append(before, m)
			}
		}
		if bm, _, _ := spike(before, from, false); bm > 0 {
			s.RSSBeforeMiB, s.GrowthRatio = bm/mib, peak/bm
		}
	}
	if hm, hp, _ := spike(mem, from, true); hp > 0 {
		s.HeapMedianMiB, s.HeapPeakMiB = hm/mib, hp/mib
	}
	s.P99ChangeMS, s.P99OtherMS, _, _ = splitP99(reqs, changeWindows(changes, after), from, to)
	if s.P99OtherMS > 0 {
		s.P99Ratio = s.P99ChangeMS / s.P99OtherMS
	}
	var all []float64
	for _, r := range reqs {
		if r.Failed {
			s.Failed++
		}
		if r.T >= from && r.T < to {
			all = append(all, float64(r.Lat)/float64(time.Millisecond))
		}
	}
	s.P50MS = percentile(all, 50)
	s.Requests = int64(len(reqs)) + missed
	s.Failed += missed
	var lags []float64
	for _, c := range changes {
		if replica < len(c.Lags) {
			if l := c.Lags[replica]; math.IsNaN(l) {
				s.LagMissed++
			} else {
				lags = append(lags, l*1000)
			}
		}
	}
	s.LagP50MS, s.LagP99MS = percentile(lags, 50), percentile(lags, 99)
	s.CPUChangePct, s.CPUOtherPct = cpuSplit(mem, changeWindows(changes, after), from, to)
	s.AroundChange = aroundChange(reqs, changes, 1, after+2, 0.25)
	return s
}

// cpuSplit returns the replica's CPU use (percent of one core) over the
// sampling intervals that end inside the windows and over the others,
// within [from, to).
func cpuSplit(mem []memSample, wins []window, from, to float64) (in, out float64) {
	var cpuIn, tIn, cpuOut, tOut float64
	for i := 1; i < len(mem); i++ {
		a, b := mem[i-1], mem[i]
		if b.T < from || b.T >= to || a.CPU < 0 || b.CPU < 0 || b.T <= a.T {
			continue
		}
		if slices.ContainsFunc(wins, func(w window) bool { return w.contains(b.T) }) {
			cpuIn, tIn = cpuIn+b.CPU-a.CPU, tIn+b.T-a.T
		} else {
			cpuOut, tOut = cpuOut+b.CPU-a.CPU, tOut+b.T-a.T
		}
	}
	if tIn > 0 {
		in = 100 * cpuIn / tIn
	}
	if tOut > 0 {
		out = 100 * cpuOut / tOut
	}
	return in, out
}

// Control is the latency of the requests sent straight to the upstream
// over the same time: what the machine itself adds around the changes.
type Control struct {
	P99ChangeMS float64 `json:"p99_after_change_ms"`
	P99OtherMS  float64 `json:"p99_elsewhere_ms"`
	P99Ratio    float64 `json:"p99_ratio"`
	Requests    int64   `json:"requests"`
	Failed      int64   `json:"failed"`
}

func control(reqs []reqSample, missed int64, changes []Change, from, to, after float64) Control {
	var c Control
	c.P99ChangeMS, c.P99OtherMS, _, _ = splitP99(reqs, changeWindows(changes, after), from, to)
	if c.P99OtherMS > 0 {
		c.P99Ratio = c.P99ChangeMS / c.P99OtherMS
	}
	for _, r := range reqs {
		if r.Failed {
			c.Failed++
		}
	}
	c.Requests, c.Failed = int64(len(reqs))+missed, c.Failed+missed
	return c
}

// Second is the latency of one second of one replica's load.
type Second struct {
	T        float64 // start of the second
	N        int
	Failed   int
	P50, P99 float64 // ms
}

// perSecond groups requests by the second of their intended send time.
func perSecond(reqs []reqSample) []Second {
	by := map[int][]reqSample{}
	for _, r := range reqs {
		k := int(math.Floor(r.T))
		by[k] = append(by[k], r)
	}
	keys := make([]int, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Second, 0, len(keys))
	for _, k := range keys {
		sec := Second{T: float64(k), N: len(by[k])}
		v := make([]float64, 0, len(by[k]))
		for _, r := range by[k] {
			v = append(v, float64(r.Lat)/float64(time.Millisecond))
			if r.Failed {
				sec.Failed++
			}
		}
		sec.P50, sec.P99 = percentile(v, 50), percentile(v, 99)
		out = append(out, sec)
	}
	return out
}

// Check is one line of the verdict.
type Check struct {
	Replica int
	Name    string
	Value   string
	Bound   string
	Pass    bool
}

// verdict checks every replica's figures against b.
func verdict(rs []ReplicaSummary, b Bounds) []Check {
	var out []Check
	for _, r := range rs {
		out = append(out,
			Check{r.Replica, "spike ratio (peak/median RSS)", fmt.Sprintf("%.3f", r.SpikeRatio), fmt.Sprintf("<= %.2f", b.SpikeRatio), r.SpikeRatio > 0 && r.SpikeRatio <= b.SpikeRatio},
			Check{r.Replica, "p99 after change / elsewhere", fmt.Sprintf("%.2f (%.1f / %.1f ms)", r.P99Ratio, r.P99ChangeMS, r.P99OtherMS), fmt.Sprintf("<= %.1f", b.P99Ratio), r.P99OtherMS > 0 && r.P99Ratio <= b.P99Ratio},
			Check{r.Replica, "failed requests", fmt.Sprintf("%d of %d", r.Failed, r.Requests), fmt.Sprintf("<= %d", b.Failures), r.Requests > 0 && r.Failed <= b.Failures},
			Check{r.Replica, "propagation lag p99", fmt.Sprintf("%.0f ms (p50 %.0f, never %d)", r.LagP99MS, r.LagP50MS, r.LagMissed), fmt.Sprintf("<= %.0f ms", b.LagP99MS), r.LagMissed == 0 && r.LagP99MS <= b.LagP99MS},
		)
	}
	return out
}

// verdictTable renders the checks as aligned text.
func verdictTable(cs []Check) string {
	rows := [][]string{{"replica", "check", "value", "bound", "result"}}
	for _, c := range cs {
		res := "PASS"
		if !c.Pass {
			res = "FAIL"
		}
		rows = append(rows, []string{strconv.Itoa(c.Replica + 1), c.Name, c.Value, c.Bound, res})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c + strings.Repeat(" ", width[i]-len(c)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// timelineHeader is the CSV timeline's first row. Rows of kind "memory"
// fill rss_mib and heap_mib (empty when unknown), rows of kind "latency"
// one second of load (requests, failed, p50_ms, p99_ms), rows of kind
// "change" a bulk change (t_s its start, until_s its end); replica is
// 1-based, empty for changes.
var timelineHeader = []string{"kind", "t_s", "replica", "rss_mib", "heap_mib", "requests", "failed", "p50_ms", "p99_ms", "until_s"}

// writeTimeline writes the CSV timeline, ordered by time.
func writeTimeline(w io.Writer, mem [][]memSample, secs [][]Second, changes []Change) error {
	type row struct {
		t   float64
		rec []string
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	var rows []row
	for r, ms := range mem {
		for _, m := range ms {
			heap := ""
			if m.Heap >= 0 {
				heap = f(float64(m.Heap) / mib)
			}
			rows = append(rows, row{m.T, []string{"memory", f(m.T), strconv.Itoa(r + 1), f(float64(m.RSS) / mib), heap, "", "", "", "", ""}})
		}
	}
	for r, ss := range secs {
		for _, s := range ss {
			rows = append(rows, row{s.T, []string{"latency", f(s.T), strconv.Itoa(r + 1), "", "", strconv.Itoa(s.N), strconv.Itoa(s.Failed), f(s.P50), f(s.P99), ""}})
		}
	}
	for _, c := range changes {
		rows = append(rows, row{c.Start, []string{"change", f(c.Start), "", "", "", "", "", "", "", f(c.End)}})
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	cw := csv.NewWriter(w)
	if err := cw.Write(timelineHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(r.rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
