package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestAggregate(t *testing.T) {
	runs := []Run{
		{Target: Nginx, Round: 1, Conns: 64, Body: "small", Requests: 1000, RPS: 100, P50US: 10, P99US: 100, CPUSeconds: 1, PeakRSSKiB: 4096},
		{Target: GoFloor, Round: 1, Conns: 64, Body: "small", Requests: 500, RPS: 50, P50US: 20, P99US: 200, CPUSeconds: 1, PeakRSSKiB: 8192, AllocsPerRequest: 80, AllocBytesPerRequest: 7000},
		{Target: "sluice", Round: 1, Conns: 64, Body: "small", Requests: 800, RPS: 80, P50US: 15, P99US: 150, CPUSeconds: 2, PeakRSSKiB: 10240, Errors: 1, AllocsPerRequest: 40, AllocBytesPerRequest: 3000},
		{Target: Nginx, Round: 2, Conns: 64, Body: "small", Requests: 3000, RPS: 300, P50US: 30, P99US: 300, CPUSeconds: 1, PeakRSSKiB: 2048},
		{Target: Nginx, Round: 3, Conns: 64, Body: "small", Requests: 2000, RPS: 200, P50US: 20, P99US: 200, CPUSeconds: 1, PeakRSSKiB: 2048},
		{Target: "sluice", Round: 1, Conns: 256, Body: "small", Requests: 800, RPS: 80, CPUSeconds: 0},
	}
	rows := Aggregate(runs, map[string]string{"sluice": "plugins inactive"})
	if len(rows) != 4 {
		t.Fatalf("got %d rows; want 4: %+v", len(rows), rows)
	}
	n := rows[0]
	if n.Target != Nginx || n.Rounds != 3 || n.RPS != 200 || n.P99US != 200 || n.ReqPerCPU != 2000 || n.PeakRSSMiB != 4 {
		t.Errorf("nginx row = %+v; want medians over 3 rounds (200 req/s, p99 200us, 2000 req/CPU-s) and max RSS 4MiB", n)
	}
	s := rows[2]
	if s.Target != "sluice" || s.Note != "plugins inactive" || s.Errors != 1 {
		t.Errorf("sluice row = %+v; want its note and 1 error", s)
	}
	if got := s.VsNginx["rps"]; got != 0.4 {
		t.Errorf("sluice req/s vs nginx = %v; want 80/200 = 0.4", got)
	}
	if got := s.VsGoFloor["req_per_cpu_second"]; got != 0.8 {
		t.Errorf("sluice req/CPU-s vs go floor = %v; want 400/500 = 0.8", got)
	}
	if got := s.VsNginx["peak_rss_mib"]; got != 2.5 {
		t.Errorf("sluice RSS vs nginx = %v; want 10/4 = 2.5", got)
	}
	last := rows[3]
	if last.Conns != 256 || last.VsNginx != nil || last.ReqPerCPU != 0 {
		t.Errorf("256-conn row = %+v; want no ratios without references and 0 req/CPU-s without CPU time", last)
	}
	tab := Table(rows, false)
	if s.AllocsPerReq != 40 || s.VsGoFloor["allocs_per_request"] != 0.5 {
		t.Errorf("sluice allocs/req = %v, vs go floor %v; want 40 and 0.5", s.AllocsPerReq, s.VsGoFloor["allocs_per_request"])
	}
	for _, want := range []string{"200 (1.00/4.00)", "80 (0.40/1.60)", "plugins inactive", "req/CPU-s", "40.0, 3000B (0.50)"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
}

func TestAggregateLatency(t *testing.T) {
	runs := []LatencyRun{
		{Target: Direct, Rate: 1000, P50US: 100, P99US: 300},
		{Target: Nginx, Rate: 1000, P50US: 150, P99US: 500},
		{Target: Direct, Rate: 1000, P50US: 120, P99US: 320},
		{Target: Nginx, Rate: 1000, P50US: 170, P99US: 520, Failed: 2},
	}
	rows := AggregateLatency(runs, nil)
	if len(rows) != 2 {
		t.Fatalf("got %d rows; want 2", len(rows))
	}
	if rows[0].AddedP50US != 0 {
		t.Errorf("direct added p50 = %v; want 0", rows[0].AddedP50US)
	}
	n := rows[1]
	if n.P50US != 160 || n.AddedP50US != 50 || n.AddedP99US != 200 || n.Failed != 2 || n.Rounds != 2 {
		t.Errorf("nginx row = %+v; want p50 160, added p50 50, added p99 200, 2 failed, 2 rounds", n)
	}
}

func TestMarkdownAndJSON(t *testing.T) {
	r := Report{
		Started:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Host:              map[string]string{"cpu": "test"},
		Runs:              []Run{{Target: Nginx, Conns: 64, Body: "small", Requests: 10, RPS: 10, CPUSeconds: 1}},
		LatRows:           []LatencyRow{{Target: Nginx, Rate: 5, AddedP99US: 2500}},
		Warnings:          []string{"noisy"},
		StartupPeakRSSMiB: map[string]float64{Nginx: 3.5},
	}
	r.Rows = Aggregate(r.Runs, nil)
	md := Markdown(r)
	for _, want := range []string{"2026-01-02T03:04:05Z", "| target |", "- cpu: test", "2.50ms", "- noisy", "nginx 3.5MiB"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil || len(back.Rows) != 1 || back.Rows[0].VsNginx["rps"] != 1 {
		t.Errorf("JSON round trip = %+v, %v; want one row with rps ratio 1", back.Rows, err)
	}
}
