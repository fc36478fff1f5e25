package prometheus_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/prometheus"
)

// logger builds an instance through the plugin's schema.
func logger(t testing.TB, cfg map[string]any) plugin.Logger {
	t.Helper()
	rec, serr := prometheus.Schema.Process(cfg, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := prometheus.New(rec, plugin.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(impl.(plugin.Closer).Close)
	return impl.(plugin.Logger)
}

var runs atomic.Int64

// uniq makes a service name unique to one test run: the registry is the
// process's and keeps series across runs (go test -count=N).
func uniq(name string) string { return fmt.Sprintf("%s-%d", name, runs.Add(1)) }

// lines returns the exposition lines starting with prefix.
func lines(text, prefix string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func ctxFor(service string, tm plugin.Timing) *plugin.Ctx {
	r, _ := http.NewRequest("GET", "http://x/a", nil)
	c := &plugin.Ctx{Request: r, Status: 200, Route: &model.Route{ID: "r-" + service}, Timing: tm}
	if service != "" {
		c.Service = &model.Service{Name: &service}
	}
	return c
}

// TestLatencyFromTiming observes the three histograms from Ctx.Timing in
// whole milliseconds with Kong 3.9's buckets.
func TestLatencyFromTiming(t *testing.T) {
	lg := logger(t, map[string]any{"latency_metrics": true})
	svc := uniq("lat-svc")
	lg.Log(ctxFor(svc, plugin.Timing{Start: time.Now(), Kong: 3*time.Millisecond + 900*time.Microsecond,
		Upstream: 40 * time.Millisecond, Request: 2500 * time.Millisecond}))
	text := strings.ReplaceAll(scrape(t), svc, "lat-svc")
	want := []string{
		`kong_kong_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="2"} 0`,
		`kong_kong_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="5"} 1`,
		`kong_kong_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="3000"} 1`,
		`kong_kong_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="6000"} 1`,
		`kong_kong_latency_ms_sum{service="lat-svc",route="r-lat-svc"} 3`,
		`kong_upstream_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="25"} 0`,
		`kong_upstream_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="50"} 1`,
		`kong_upstream_latency_ms_sum{service="lat-svc",route="r-lat-svc"} 40`,
		`kong_request_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="2000"} 0`,
		`kong_request_latency_ms_bucket{service="lat-svc",route="r-lat-svc",le="5000"} 1`,
		`kong_request_latency_ms_sum{service="lat-svc",route="r-lat-svc"} 2500`,
	}
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
	if got := len(lines(text, `kong_kong_latency_ms_bucket{service="lat-svc"`)); got != 18 {
		t.Errorf("kong_kong_latency_ms has %d buckets; want 17 and +Inf", got)
	}
	if got := len(lines(text, `kong_upstream_latency_ms_bucket{service="lat-svc"`)); got != 14 {
		t.Errorf("kong_upstream_latency_ms has %d buckets; want 13 and +Inf", got)
	}
}

// TestNoUpstreamLatencyWithoutUpstream: when no upstream answered
// (Upstream -1, Kong's latencies.proxy -1) only the kong and request
// latencies are observed; a Ctx the proxy did not fill records none.
func TestNoUpstreamLatencyWithoutUpstream(t *testing.T) {
	lg := logger(t, map[string]any{"latency_metrics": true})
	noup, unfilled := uniq("noup-svc"), uniq("unfilled-svc")
	lg.Log(ctxFor(noup, plugin.Timing{Start: time.Now(), Kong: time.Millisecond, Upstream: -1, Request: time.Millisecond}))
	lg.Log(ctxFor(unfilled, plugin.Timing{}))
	text := strings.ReplaceAll(strings.ReplaceAll(scrape(t), noup, "noup-svc"), unfilled, "unfilled-svc")
	for _, w := range []string{
		`kong_kong_latency_ms_count{service="noup-svc",route="r-noup-svc"} 1`,
		`kong_request_latency_ms_count{service="noup-svc",route="r-noup-svc"} 1`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
	if l := lines(text, `kong_upstream_latency_ms_count{service="noup-svc"`); len(l) != 0 {
		t.Errorf("upstream latency observed without an upstream: %q", l)
	}
	if strings.Contains(text, `service="unfilled-svc"`) {
		t.Error("latencies observed from a Timing the proxy did not fill")
	}
}

// TestBandwidthFromTiming counts the proxy's byte counts, not estimates.
func TestBandwidthFromTiming(t *testing.T) {
	lg := logger(t, map[string]any{"bandwidth_metrics": true})
	svc := uniq("bw-svc")
	for range 2 {
		lg.Log(ctxFor(svc, plugin.Timing{Start: time.Now(), RequestSize: 123, ResponseSize: 4567}))
	}
	lg.Log(ctxFor(svc, plugin.Timing{Start: time.Now(), RequestSize: 10}))
	text := strings.ReplaceAll(scrape(t), svc, "bw-svc")
	for _, w := range []string{
		`kong_bandwidth_bytes{service="bw-svc",route="r-bw-svc",direction="ingress",consumer=""} 256`,
		`kong_bandwidth_bytes{service="bw-svc",route="r-bw-svc",direction="egress",consumer=""} 9134`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
}

// TestServicelessRoute: Kong 3.6+ records requests on routes without a
// service with an empty service label (Kong/kong#11781).
func TestServicelessRoute(t *testing.T) {
	lg := logger(t, map[string]any{"status_code_metrics": true})
	c := ctxFor("", plugin.Timing{})
	c.Route.ID = uniq("r-serviceless")
	c.Status = 503
	lg.Log(c)
	if w := `kong_http_requests_total{service="",route="` + c.Route.ID + `",code="503",source="service",consumer=""} 1`; !strings.Contains(scrape(t), w) {
		t.Errorf("exposition lacks %q", w)
	}
}
