// Package report aggregates benchmark runs into rows (median over rounds),
// computes each figure as a ratio to the reference proxies (nginx and the Go
// floor), and renders the rows as a text table, markdown and JSON.
package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Reference targets every row is compared with.
const (
	Nginx   = "nginx"
	GoFloor = "go-floor"
	Direct  = "direct"
)

// Run is one wrk run against one target.
type Run struct {
	Target     string  `json:"target"`
	Round      int     `json:"round"`
	Conns      int     `json:"conns"`
	Body       string  `json:"body"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"` // socket errors plus non-2xx/3xx responses
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	CPUSeconds float64 `json:"cpu_seconds"` // proxy process tree, user+system, during the run
	// UpstreamCPUSeconds is the upstream's CPU time during the run.
	UpstreamCPUSeconds float64 `json:"upstream_cpu_seconds"`
	PeakRSSKiB         int64   `json:"peak_rss_kib"` // VmHWM after the run (process lifetime peak)
	// CPU1OtherShare is the share of CPU 1's wall time that went to neither
	// the proxy nor the upstream (other processes, unattributed interrupts):
	// the noise of the run.
	CPU1OtherShare float64 `json:"cpu1_other_share"`
	// AllocsPerRequest and AllocBytesPerRequest are the Go heap
	// allocations of the proxy process during the run divided by the
	// requests; zero for targets that are not Go programs built with
	// package benchstats.
	AllocsPerRequest     float64 `json:"allocs_per_request,omitempty"`
	AllocBytesPerRequest float64 `json:"alloc_bytes_per_request,omitempty"`
}

// ReqPerCPUSecond is requests per second of proxy CPU time.
func (r Run) ReqPerCPUSecond() float64 {
	if r.CPUSeconds <= 0 {
		return 0
	}
	return float64(r.Requests) / r.CPUSeconds
}

// Row is the median of a target's runs at one connection count and body.
type Row struct {
	Target     string  `json:"target"`
	Note       string  `json:"note,omitempty"`
	Conns      int     `json:"conns"`
	Body       string  `json:"body"`
	Rounds     int     `json:"rounds"`
	Errors     int64   `json:"errors"` // summed over rounds
	RPS        float64 `json:"rps"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	ReqPerCPU  float64 `json:"req_per_cpu_second"`
	PeakRSSMiB float64 `json:"peak_rss_mib"` // max over rounds
	// AllocsPerReq and AllocBytesPerReq are medians; zero when unknown.
	AllocsPerReq     float64 `json:"allocs_per_request,omitempty"`
	AllocBytesPerReq float64 `json:"alloc_bytes_per_request,omitempty"`
	// VsNginx and VsGoFloor hold each figure divided by the reference's
	// figure at the same conns and body, keyed like the JSON fields above.
	VsNginx   map[string]float64 `json:"vs_nginx,omitempty"`
	VsGoFloor map[string]float64 `json:"vs_go_floor,omitempty"`
}

// Median returns the median of v (the mean of the middle two for an even
// count), or 0 for none.
func Median(v []float64) float64 {
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

type key struct {
	target string
	conns  int
	body   string
}

// Aggregate groups runs by target, conns and body, in the order targets
// first appear and then by body and conns. notes gives each target's label.
func Aggregate(runs []Run, notes map[string]string) []Row {
	groups := map[key][]Run{}
	var order []key
	for _, r := range runs {
		k := key{r.Target, r.Conns, r.Body}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	targetRank := map[string]int{}
	for _, k := range order {
		if _, ok := targetRank[k.target]; !ok {
			targetRank[k.target] = len(targetRank)
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if a.body != b.body {
			return strings.Compare(a.body, b.body)
		}
		if a.conns != b.conns {
			return a.conns - b.conns
		}
		return targetRank[a.target] - targetRank[b.target]
	})
	rows := make([]Row, 0, len(order))
	for _, k := range order {
		g := groups[k]
		row := Row{Target: k.target, Note: notes[k.target], Conns: k.conns, Body: k.body, Rounds: len(g)}
		var rps, p50, p99, rpc, apr, bpr []float64
		for _, r := range g {
			if r.AllocsPerRequest > 0 {
				apr = append(apr, r.AllocsPerRequest)
				bpr = append(bpr, r.AllocBytesPerRequest)
			}
			rps = append(rps, r.RPS)
			p50 = append(p50, r.P50US)
			p99 = append(p99, r.P99US)
			rpc = append(rpc, r.ReqPerCPUSecond())
			row.Errors += r.Errors
			row.PeakRSSMiB = math.Max(row.PeakRSSMiB, float64(r.PeakRSSKiB)/1024)
		}
		row.RPS, row.P50US, row.P99US, row.ReqPerCPU = Median(rps), Median(p50), Median(p99), Median(rpc)
		row.AllocsPerReq, row.AllocBytesPerReq = Median(apr), Median(bpr)
		rows = append(rows, row)
	}
	for i := range rows {
		rows[i].VsNginx = ratios(rows[i], find(rows, Nginx, rows[i].Conns, rows[i].Body))
		rows[i].VsGoFloor = ratios(rows[i], find(rows, GoFloor, rows[i].Conns, rows[i].Body))
	}
	return rows
}

func find(rows []Row, target string, conns int, body string) *Row {
	for i := range rows {
		if rows[i].Target == target && rows[i].Conns == conns && rows[i].Body == body {
			return &rows[i]
		}
	}
	return nil
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ratios(r Row, ref *Row) map[string]float64 {
	if ref == nil {
		return nil
	}
	return map[string]float64{
		"rps":                div(r.RPS, ref.RPS),
		"p50_us":             div(r.P50US, ref.P50US),
		"p99_us":             div(r.P99US, ref.P99US),
		"req_per_cpu_second": div(r.ReqPerCPU, ref.ReqPerCPU),
		"peak_rss_mib":       div(r.PeakRSSMiB, ref.PeakRSSMiB),
		"allocs_per_request": div(r.AllocsPerReq, ref.AllocsPerReq),
	}
}

// LatencyRun is one fixed-rate run against one target.
type LatencyRun struct {
	Target string  `json:"target"`
	Round  int     `json:"round"`
	Rate   float64 `json:"rate"`
	OK     int64   `json:"ok"`
	Failed int64   `json:"failed"` // non-2xx/3xx, errors and missed
	P50US  float64 `json:"p50_us"`
	P99US  float64 `json:"p99_us"`
}

// LatencyRow is the median of a target's fixed-rate runs, and the added
// latency: the figure minus the direct-to-upstream figure.
type LatencyRow struct {
	Target     string  `json:"target"`
	Note       string  `json:"note,omitempty"`
	Rate       float64 `json:"rate"`
	Rounds     int     `json:"rounds"`
	Failed     int64   `json:"failed"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	AddedP50US float64 `json:"added_p50_us"`
	AddedP99US float64 `json:"added_p99_us"`
}

// AggregateLatency takes medians per target and subtracts the Direct row.
func AggregateLatency(runs []LatencyRun, notes map[string]string) []LatencyRow {
	var rows []LatencyRow
	idx := map[string]int{}
	var p50, p99 [][]float64
	for _, r := range runs {
		i, ok := idx[r.Target]
		if !ok {
			i = len(rows)
			idx[r.Target] = i
			rows = append(rows, LatencyRow{Target: r.Target, Note: notes[r.Target], Rate: r.Rate})
			p50, p99 = append(p50, nil), append(p99, nil)
		}
		rows[i].Rounds++
		rows[i].Failed += r.Failed
		p50[i] = append(p50[i], r.P50US)
		p99[i] = append(p99[i], r.P99US)
	}
	for i := range rows {
		rows[i].P50US, rows[i].P99US = Median(p50[i]), Median(p99[i])
	}
	if d, ok := idx[Direct]; ok {
		for i := range rows {
			rows[i].AddedP50US = rows[i].P50US - rows[d].P50US
			rows[i].AddedP99US = rows[i].P99US - rows[d].P99US
		}
	}
	return rows
}

// Report is everything one harness run produced.
type Report struct {
	Started  time.Time         `json:"started"`
	Host     map[string]string `json:"host"` // kernel, CPU, versions
	Settings map[string]string `json:"settings"`
	Runs     []Run             `json:"runs"`
	Rows     []Row             `json:"rows"`
	Latency  []LatencyRun      `json:"latency_runs,omitempty"`
	LatRows  []LatencyRow      `json:"latency_rows,omitempty"`
	Warnings []string          `json:"warnings,omitempty"`
	// StartupPeakRSSMiB is each target's peak RSS from start through
	// config loading and warm-up, before the peak was reset for the runs.
	StartupPeakRSSMiB map[string]float64 `json:"startup_peak_rss_mib,omitempty"`
	AllocsNote        string             `json:"allocs_note,omitempty"`
}

func us(v float64) string {
	switch {
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.2fms", v/1000)
	default:
		return fmt.Sprintf("%.0fus", v)
	}
}

func ratio(m map[string]float64, k string) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", m[k])
}

// cell shows a value with its ratios to nginx and to the Go floor.
func cell(v string, r Row, k string) string {
	return fmt.Sprintf("%s (%s/%s)", v, ratio(r.VsNginx, k), ratio(r.VsGoFloor, k))
}

// allocCell shows allocations per request (and bytes) with the ratio to
// the Go floor only: nginx has no Go heap.
func allocCell(r Row) string {
	if r.AllocsPerReq == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f, %.0fB (%s)", r.AllocsPerReq, r.AllocBytesPerReq, ratio(r.VsGoFloor, "allocs_per_request"))
}

// Table renders the rows as columns for a terminal or a markdown file.
func Table(rows []Row, markdown bool) string {
	head := []string{"target", "body", "conns", "req/s", "p50", "p99", "req/CPU-s", "peak RSS", "allocs/req", "errors", "note"}
	var data [][]string
	for _, r := range rows {
		data = append(data, []string{
			r.Target, r.Body, fmt.Sprint(r.Conns),
			cell(fmt.Sprintf("%.0f", r.RPS), r, "rps"),
			cell(us(r.P50US), r, "p50_us"),
			cell(us(r.P99US), r, "p99_us"),
			cell(fmt.Sprintf("%.0f", r.ReqPerCPU), r, "req_per_cpu_second"),
			cell(fmt.Sprintf("%.1fMiB", r.PeakRSSMiB), r, "peak_rss_mib"),
			allocCell(r),
			fmt.Sprint(r.Errors), r.Note,
		})
	}
	return render(head, data, markdown)
}

// LatencyTable renders the fixed-rate rows.
func LatencyTable(rows []LatencyRow, markdown bool) string {
	head := []string{"target", "rate", "p50", "p99", "added p50", "added p99", "failed", "note"}
	var data [][]string
	for _, r := range rows {
		data = append(data, []string{
			r.Target, fmt.Sprintf("%.0f/s", r.Rate), us(r.P50US), us(r.P99US),
			us(r.AddedP50US), us(r.AddedP99US), fmt.Sprint(r.Failed), r.Note,
		})
	}
	return render(head, data, markdown)
}

func render(head []string, data [][]string, markdown bool) string {
	var b strings.Builder
	if markdown {
		b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
		for range head {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, d := range data {
			b.WriteString("| " + strings.Join(d, " | ") + " |\n")
		}
		return b.String()
	}
	width := make([]int, len(head))
	for _, row := range append([][]string{head}, data...) {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for _, row := range append([][]string{head}, data...) {
		for i, c := range row {
			if i == len(row)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s  ", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Markdown renders the whole report.
func Markdown(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# sluice proxy benchmark, %s\n\n", r.Started.UTC().Format(time.RFC3339))
	b.WriteString("Each cell: value (ratio to nginx / ratio to the Go floor) at the same body and connection count; " +
		"medians over rounds, peak RSS is the maximum. See bench/README.md for what each figure means.\n\n")
	for _, k := range sortedKeys(r.Host) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Host[k])
	}
	for _, k := range sortedKeys(r.Settings) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Settings[k])
	}
	b.WriteString("\n## Throughput (closed loop, wrk)\n\n")
	b.WriteString(Table(r.Rows, true))
	if len(r.StartupPeakRSSMiB) > 0 {
		b.WriteString("\nPeak RSS from start through config loading and warm-up (before the runs): ")
		var parts []string
		for _, row := range r.Rows {
			if v, ok := r.StartupPeakRSSMiB[row.Target]; ok && !slices.Contains(parts, fmt.Sprintf("%s %.1fMiB", row.Target, v)) {
				parts = append(parts, fmt.Sprintf("%s %.1fMiB", row.Target, v))
			}
		}
		b.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	if len(r.LatRows) > 0 {
		b.WriteString("\n## Added latency at a fixed rate (open loop)\n\n")
		b.WriteString(LatencyTable(r.LatRows, true))
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range r.Warnings {
			b.WriteString("- " + w + "\n")
		}
	}
	if r.AllocsNote != "" {
		b.WriteString("\n" + r.AllocsNote + "\n")
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
