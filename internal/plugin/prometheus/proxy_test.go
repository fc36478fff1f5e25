package prometheus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// value returns the sample value of the exposition line starting with
// series, -1 when absent.
func value(text, series string) float64 {
	for _, l := range lines(text, series+" ") {
		v, err := strconv.ParseFloat(l[len(series)+1:], 64)
		if err == nil {
			return v
		}
	}
	return -1
}

// TestTimingThroughProxy: an upstream that answers after 120 ms; the
// upstream latency is above the 100 ms bucket and within the 1000 ms one,
// the request latency is at least as long, the kong latency is observed
// once, and bandwidth counts exactly the bytes that crossed the client
// connection.
func TestTimingThroughProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		_, _ = io.WriteString(w, strings.Repeat("b", 3000))
	}))
	defer up.Close()
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"prometheus": `{"latency_metrics":true,"bandwidth_metrics":true}`,
	})
	svc := uniq("timing-svc")
	cfg.Services[0].Name = &svc
	gw := proxytest.Serve(t, cfg)
	body := strings.Repeat("q", 500)
	sent, received := gw.RawExchange(t, "POST /t?x=1 HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: raw\r\n"+
		"Content-Length: 500\r\nConnection: close\r\n\r\n"+body)
	route := cfg.Routes[0].ID
	lbl := `{service="` + svc + `",route="` + route + `"`
	text := waitFor(t, `kong_request_latency_ms_count`+lbl+`} 1`, `kong_bandwidth_bytes`+lbl+`,direction="egress",consumer=""}`)
	checks := []struct {
		series string
		want   float64
	}{
		{"kong_upstream_latency_ms_count" + lbl + "}", 1},
		{"kong_upstream_latency_ms_bucket" + lbl + `,le="100"}`, 0},
		{"kong_upstream_latency_ms_bucket" + lbl + `,le="1000"}`, 1},
		{"kong_request_latency_ms_bucket" + lbl + `,le="100"}`, 0},
		{"kong_kong_latency_ms_count" + lbl + "}", 1},
		{"kong_bandwidth_bytes" + lbl + `,direction="ingress",consumer=""}`, float64(sent)},
		{"kong_bandwidth_bytes" + lbl + `,direction="egress",consumer=""}`, float64(received)},
	}
	for _, c := range checks {
		if got := value(text, c.series); got != c.want {
			t.Errorf("%s = %v; want %v", c.series, got, c.want)
		}
	}
	upMs, reqMs := value(text, "kong_upstream_latency_ms_sum"+lbl+"}"), value(text, "kong_request_latency_ms_sum"+lbl+"}")
	if upMs < 120 || reqMs < upMs {
		t.Errorf("upstream latency %v ms, request latency %v ms; want at least 120 and request >= upstream", upMs, reqMs)
	}
}

// TestNoUpstreamLatencyThroughProxy: a request the gateway answers itself
// (a plugin exit) has kong and request latencies but no upstream latency.
func TestNoUpstreamLatencyThroughProxy(t *testing.T) {
	var hits int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer up.Close()
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"prometheus":            `{"latency_metrics":true}`,
		"request-size-limiting": `{"allowed_payload_size":10,"size_unit":"bytes"}`,
	})
	svc := uniq("exit-svc")
	cfg.Services[0].Name = &svc
	gw := proxytest.Serve(t, cfg)
	if res, _ := gw.Do(t, "POST", "/e", nil, strings.Repeat("x", 100)); res.StatusCode != 413 {
		t.Fatalf("status %d; want 413", res.StatusCode)
	}
	lbl := `{service="` + svc + `",route="` + cfg.Routes[0].ID + `"}`
	text := waitFor(t, "kong_request_latency_ms_count"+lbl+" 1", "kong_kong_latency_ms_count"+lbl+" 1")
	if v := value(text, "kong_upstream_latency_ms_count"+lbl); v != -1 || hits != 0 {
		t.Errorf("upstream latency count %v with %d upstream hits; want no series and no hit", v, hits)
	}
}
