package memwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
)

// sparkWidth is the number of columns of a sparkline.
const sparkWidth = 60

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Doctor fetches GET /debug/memory from the node at baseURL (its status
// listener, e.g. "http://127.0.0.1:8100") and writes a report for a
// terminal: sparklines of RSS and heap, the spikes with what grew and what
// happened before, the period and cause of recurring spikes, and where the
// profiles are. It is the body of `sluice doctor memory`.
func Doctor(w io.Writer, baseURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	url := strings.TrimRight(baseURL, "/") + "/debug/memory"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reading the memory timeline: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	var t Timeline
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return Report(w, baseURL, &t)
}

// Report writes the terminal report for a timeline (see Doctor).
func Report(w io.Writer, node string, t *Timeline) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sluice memory report for %s at %s\n", node, t.Now.UTC().Format(time.RFC3339))
	if n := len(t.Samples); n > 0 {
		span := time.Duration(t.Samples[n-1].T-t.Samples[0].T) * time.Millisecond
		fmt.Fprintf(&b, "%d samples every %s, covering %s\n", n, fmtPeriod(time.Duration(t.IntervalSeconds*float64(time.Second))), fmtPeriod(span))
	} else {
		b.WriteString("no samples yet\n")
	}
	b.WriteString("limit: ")
	if t.Limit.CgroupLimit > 0 {
		fmt.Fprintf(&b, "container %s, ", FormatBytes(t.Limit.CgroupLimit))
	} else {
		b.WriteString("no container limit, ")
	}
	if t.Limit.GoMemLimit > 0 && t.Limit.GoMemLimit != math.MaxInt64 {
		fmt.Fprintf(&b, "GOMEMLIMIT %s", FormatBytes(t.Limit.GoMemLimit))
	} else {
		b.WriteString("no GOMEMLIMIT")
	}
	if t.Limit.Source != "" {
		fmt.Fprintf(&b, " (%s)", t.Limit.Source)
	}
	b.WriteString("\n\n")

	if len(t.Samples) > 0 {
		series := func(f func(JSONSample) int64) []int64 {
			out := make([]int64, len(t.Samples))
			for i, s := range t.Samples {
				out[i] = f(s)
			}
			return out
		}
		lw := len("heap")
		for _, name := range t.GaugeNames {
			lw = max(lw, len(name))
		}
		writeSeries(&b, lw, "RSS", series(func(s JSONSample) int64 { return s.RSS }))
		writeSeries(&b, lw, "heap", series(func(s JSONSample) int64 { return s.HeapInuse }))
		for i, name := range t.GaugeNames {
			writeSeries(&b, lw, name, series(func(s JSONSample) int64 {
				if i < len(s.Gauges) {
					return s.Gauges[i]
				}
				return 0
			}))
		}
		last := t.Samples[len(t.Samples)-1]
		fmt.Fprintf(&b, "now: heap goal %s, stacks %s, %d goroutines, %d GC cycles\n",
			FormatBytes(last.HeapGoal), FormatBytes(last.Stacks), last.Goroutines, last.GCCycles)
	}
	if len(t.Events) > 0 {
		kinds := map[string]int{}
		for _, e := range t.Events {
			kinds[e.Kind]++
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		slices.Sort(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = fmt.Sprintf("%d %s", kinds[k], k)
		}
		fmt.Fprintf(&b, "events: %s\n", strings.Join(parts, ", "))
	}
	b.WriteString("\n")

	switch len(t.Spikes) {
	case 0:
		b.WriteString("spikes: none\n")
	default:
		fmt.Fprintf(&b, "spikes: %d (%d since start)\n", len(t.Spikes), t.SpikesTotal)
		for _, s := range t.Spikes {
			fmt.Fprintf(&b, "  %s  %s\n", s.Time.UTC().Format("2006-01-02 15:04:05"), s.Summary())
			fmt.Fprintf(&b, "      peak rss %s, peak heap %s", FormatBytes(s.PeakRSS), FormatBytes(s.PeakHeap))
			switch {
			case s.End.IsZero():
				b.WriteString(", still high")
			case s.Settled:
				fmt.Fprintf(&b, ", stayed up: a new level after %s", fmtPeriod(s.End.Sub(s.Time)))
			default:
				fmt.Fprintf(&b, ", back to normal after %s", fmtPeriod(s.End.Sub(s.Time)))
			}
			b.WriteString("\n")
			if len(s.Growth) > 1 {
				parts := make([]string, 0, len(s.Growth))
				for _, g := range s.Growth {
					parts = append(parts, g.Component+" "+g.deltaString())
				}
				fmt.Fprintf(&b, "      grew: %s\n", strings.Join(parts, ", "))
			}
			for _, p := range s.Before {
				fmt.Fprintf(&b, "      before: %s, %s before\n", p.Event.describe(), fmtAgo(p.AgoSeconds))
			}
			switch {
			case len(s.Profiles) > 0:
				fmt.Fprintf(&b, "      profiles: %s\n", strings.Join(s.Profiles, " "))
			case s.Skipped != "":
				fmt.Fprintf(&b, "      no profile: %s\n", s.Skipped)
			}
		}
	}
	if t.Period.Found {
		fmt.Fprintf(&b, "recurring: %s (%d spikes from %s to %s)\n", t.Period.Summary, t.Period.Count,
			t.Period.First.UTC().Format("15:04:05"), t.Period.Last.UTC().Format("15:04:05"))
	} else if len(t.Spikes) >= 3 {
		b.WriteString("recurring: no regular period found\n")
	}
	b.WriteString("\n")
	if t.Dir == "" {
		b.WriteString("profiles: not saved (no diagnostics directory)\n")
	} else {
		fmt.Fprintf(&b, "profiles in %s: %d file(s)\n", t.Dir, len(t.Profiles))
		for _, p := range t.Profiles {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if len(t.Profiles) > 0 {
			b.WriteString("  read a heap profile with: go tool pprof -top <file>; a trace with: go tool trace <file>\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSeries writes one labelled sparkline with min, median, max and the
// last value.
func writeSeries(b *strings.Builder, width int, label string, v []int64) {
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	fmt.Fprintf(b, "%-*s %s  min %s  median %s  max %s  now %s\n", width, label, Sparkline(v, sparkWidth),
		FormatBytes(sorted[0]), FormatBytes(sorted[len(sorted)/2]), FormatBytes(sorted[len(sorted)-1]), FormatBytes(v[len(v)-1]))
}

// Sparkline draws v in at most width columns with ▁▂▃▄▅▆▇█, scaled from
// the smallest to the largest value. Each column shows the largest value of
// the samples it covers, so a short spike stays visible.
func Sparkline(v []int64, width int) string {
	if len(v) == 0 || width <= 0 {
		return ""
	}
	cols := min(width, len(v))
	col := make([]int64, cols)
	for c := range cols {
		lo, hi := c*len(v)/cols, (c+1)*len(v)/cols
		m := v[lo]
		for _, x := range v[lo:hi] {
			m = max(m, x)
		}
		col[c] = m
	}
	lo, hi := slices.Min(col), slices.Max(col)
	var b strings.Builder
	for _, x := range col {
		i := 0
		if hi > lo {
			i = int(float64(x-lo) / float64(hi-lo) * float64(len(sparkRunes)-1))
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}
