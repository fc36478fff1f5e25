package prometheus_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/keyauth"
	"sluice/internal/plugin/prometheus"
	"sluice/internal/proxytest"
)

// TestPerConsumer authenticates with key-auth on a named route: the
// consumer label is the username with per_consumer, and the route label is
// the route's name.
func TestPerConsumer(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"prometheus": `{"per_consumer":true,"status_code_metrics":true,"bandwidth_metrics":true}`,
		"key-auth":   `{}`,
	})
	rname, svc := "named-route", uniq("svc")
	cfg.Routes[0].Name = &rname
	cfg.Services[0].Name = &svc
	alice := "alice"
	cfg.Consumers = []*model.Consumer{{ID: "00000000-0000-4000-8000-0000000000c1", Username: &alice}}
	cfg.KeyAuthCredentials = []*model.KeyAuthCredential{{ID: "00000000-0000-4000-8000-0000000000c2",
		Consumer: &model.ForeignKey{ID: cfg.Consumers[0].ID}, Key: "k1"}}
	gw := proxytest.Serve(t, cfg)
	if res, _ := gw.Do(t, "GET", "/c", map[string]string{"apikey": "k1"}, ""); res.StatusCode != 200 {
		t.Fatalf("status %d; want 200", res.StatusCode)
	}
	if res, _ := gw.Do(t, "GET", "/c", nil, ""); res.StatusCode != 401 {
		t.Fatalf("status %d; want 401", res.StatusCode)
	}
	waitFor(t,
		`kong_http_requests_total{service="`+svc+`",route="named-route",code="200",source="service",consumer="alice"} 1`,
		`kong_http_requests_total{service="`+svc+`",route="named-route",code="401",source="kong",consumer=""} 1`,
		`kong_bandwidth_bytes{service="`+svc+`",route="named-route",direction="ingress",consumer="alice"}`,
	)
}

// BenchmarkLog measures the log phase for a known series with every
// switch on: one status count, two bandwidth counts and three latency
// observations; it must not allocate.
func BenchmarkLog(b *testing.B) {
	def, _ := plugin.Lookup(prometheus.Name)
	rec, serr := def.Schema.Process(map[string]any{"status_code_metrics": true, "bandwidth_metrics": true, "latency_metrics": true}, nil)
	if serr != nil {
		b.Fatal(serr)
	}
	impl, err := def.New(rec, plugin.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	lg := impl.(plugin.Logger)
	name := "bench-svc"
	r, _ := http.NewRequest("GET", "http://x/a", nil)
	r.RequestURI = "/a"
	c := &plugin.Ctx{Request: r, Service: &model.Service{Name: &name}, Route: &model.Route{ID: "bench-route"},
		Status: 200, Header: http.Header{"Content-Length": {"10"}},
		Timing: plugin.Timing{Start: time.Now(), Kong: time.Millisecond, Upstream: 30 * time.Millisecond,
			Request: 32 * time.Millisecond, RequestSize: 120, ResponseSize: 300}}
	b.ReportAllocs()
	for b.Loop() {
		lg.Log(c)
	}
}
