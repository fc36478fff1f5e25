package prometheus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin/prometheus"
	_ "sluice/internal/plugin/requestsizelimiting"
	"sluice/internal/proxytest"
)

func TestSchemaDefaults(t *testing.T) {
	rec, err := prometheus.Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"per_consumer", "status_code_metrics", "ai_metrics", "latency_metrics", "bandwidth_metrics", "upstream_health_metrics"} {
		if rec[k] != false {
			t.Errorf("%s = %v; want false", k, rec[k])
		}
	}
	if _, err := prometheus.Schema.Process(map[string]any{"status_code_metrics": "yes"}, nil); err == nil {
		t.Error("status_code_metrics \"yes\": valid; want a type error")
	}
}

// scrape serves the default registry like the status listener and returns
// the exposition.
func scrape(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// waitFor polls the exposition until it contains every line (the log phase
// runs after the response was sent).
func waitFor(t *testing.T, lines ...string) string {
	t.Helper()
	var text string
	for range 200 {
		text = scrape(t)
		ok := true
		for _, l := range lines {
			if !strings.Contains(text, l) {
				ok = false
			}
		}
		if ok {
			return text
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("exposition lacks %q:\n%s", lines, text)
	return ""
}

func TestMetricsThroughProxy(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	})
	up := httptest.NewServer(upstream)
	defer up.Close()
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"prometheus":            `{"status_code_metrics":true,"latency_metrics":true,"bandwidth_metrics":true}`,
		"request-size-limiting": `{"allowed_payload_size":10,"size_unit":"bytes"}`,
	})
	svc := uniq("svc")
	cfg.Services[0].Name = &svc
	gw := proxytest.Serve(t, cfg)
	for range 3 {
		if res, _ := gw.Do(t, "GET", "/a", nil, ""); res.StatusCode != 200 {
			t.Fatalf("status %d; want 200", res.StatusCode)
		}
	}
	if res, _ := gw.Do(t, "POST", "/a", nil, strings.Repeat("x", 100)); res.StatusCode != 413 {
		t.Fatalf("status %d; want 413", res.StatusCode)
	}
	route := "00000000-0000-4000-8000-000000000002"
	text := waitFor(t,
		`kong_http_requests_total{service="`+svc+`",route="`+route+`",code="200",source="service",consumer=""} 3`,
		`kong_http_requests_total{service="`+svc+`",route="`+route+`",code="413",source="kong",consumer=""} 1`,
		`kong_request_latency_ms_count{service="`+svc+`",route="`+route+`"} 4`,
		`kong_request_latency_ms_bucket{service="`+svc+`",route="`+route+`",le="60000"} 4`,
		`kong_bandwidth_bytes{service="`+svc+`",route="`+route+`",direction="egress",consumer=""}`,
		`kong_bandwidth_bytes{service="`+svc+`",route="`+route+`",direction="ingress",consumer=""}`,
		"kong_datastore_reachable 1",
	)
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, `kong_bandwidth_bytes{service="`+svc+`",route="`+route+`",direction="ingress",consumer=""}`) {
			// Three GETs and one POST whose body alone is 100 bytes.
			var v float64
			if _, err := fmtSscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err != nil || v < 100 {
				t.Errorf("ingress bytes %q; want at least 100", l)
			}
		}
	}
}

func TestSwitchesOff(t *testing.T) {
	gw := proxytest.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), map[string]string{
		"prometheus": `{}`,
	})
	gw.Do(t, "GET", "/off", nil, "")
	time.Sleep(50 * time.Millisecond)
	// With every switch off nothing is recorded for this gateway's route:
	// the route id is shared with the other test, so compare counts.
	before := scrape(t)
	gw.Do(t, "GET", "/off", nil, "")
	time.Sleep(50 * time.Millisecond)
	if after := scrape(t); after != before {
		t.Fatalf("exposition changed with every switch off:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestDefaultProtocols: the plugin's default protocols are Kong OSS 3.x's
// (typedefs.protocols: no ws/wss, which are Enterprise-only), so that a
// plugin entity without protocols validates.
func TestDefaultProtocols(t *testing.T) {
	if !slices.Equal(prometheus.Schema.Protocols, model.Protocols) {
		t.Fatalf("default protocols %v; want %v", prometheus.Schema.Protocols, model.Protocols)
	}
}
