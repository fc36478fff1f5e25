package prometheus_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin/prometheus"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// scrapeNode serves the registry with the plugin's scrape-time writer, as
// cmd/sluice's status listener does.
func scrapeNode(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(prometheus.WriteMetrics))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestUpstreamTargetHealth: an upstream with active health checks, one
// live and one dead target; /metrics shows the dead one unhealthy and the
// live one healthy, one series per state as Kong's exporter writes them,
// and only while an instance has upstream_health_metrics on.
func TestUpstreamTargetHealth(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer live.Close()
	liveAddr := strings.TrimPrefix(live.URL, "http://")
	dead := deadAddr(t)

	up := &model.Upstream{ID: "00000000-0000-4000-8000-0000000000a1", Name: "backend", Algorithm: "round-robin",
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/", Slots: 10000,
		Healthchecks: model.Healthchecks{
			Active: model.ActiveHealthcheck{Type: "http", Timeout: 1, Concurrency: 10, HTTPPath: "/",
				Healthy:   model.ActiveHealthy{Interval: 0.05, Successes: 1, HTTPStatuses: []int{200}},
				Unhealthy: model.ActiveUnhealthy{Interval: 0.05, TCPFailures: 1, HTTPFailures: 1, Timeouts: 1, HTTPStatuses: []int{500}}},
			Passive: model.PassiveHealthcheck{Type: "http",
				Healthy:   model.PassiveHealthy{HTTPStatuses: []int{200}},
				Unhealthy: model.PassiveUnhealthy{HTTPStatuses: []int{500}}},
		}}
	fk := &model.ForeignKey{ID: up.ID}
	cfg := &model.Config{Upstreams: []*model.Upstream{up}, Targets: []*model.Target{
		{ID: "00000000-0000-4000-8000-0000000000b1", Upstream: fk, Target: liveAddr, Weight: 100},
		{ID: "00000000-0000-4000-8000-0000000000b2", Upstream: fk, Target: dead, Weight: 100},
	}}
	pool := upstream.NewPool()
	defer pool.Close()
	snap, err := snapshot.Build(nil, cfg, "", &snapshot.Env{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	prometheus.SetNode(prometheus.Node{ID: "node-1", Version: "3.9.1",
		Connections: func() prometheus.Connections {
			return prometheus.Connections{Accepted: 7, Handled: 7, Total: 20, Active: 3, Reading: 1, Writing: 1, Waiting: 1}
		},
		TargetHealth: func(yield func(prometheus.TargetState)) {
			snap.EachTargetHealth(func(u, tg, addr, state string) {
				yield(prometheus.TargetState{Upstream: u, Target: tg, Address: addr, State: state})
			})
		}})
	defer prometheus.SetNode(prometheus.Node{})

	text := scrapeNode(t)
	for _, w := range []string{
		`kong_nginx_connections_total{node_id="node-1",subsystem="http",state="accepted"} 7`,
		`kong_nginx_connections_total{node_id="node-1",subsystem="http",state="total"} 20`,
		`kong_nginx_connections_total{node_id="node-1",subsystem="http",state="waiting"} 1`,
		`kong_nginx_requests_total{node_id="node-1",subsystem="http"} 20`,
		`kong_node_info{node_id="node-1",version="3.9.1"} 1`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
	if strings.Contains(text, "kong_upstream_target_health") {
		t.Fatal("kong_upstream_target_health written with no instance asking for it")
	}

	logger(t, map[string]any{"upstream_health_metrics": true})
	series := func(target, state string, v int) string {
		return `kong_upstream_target_health{upstream="backend",target="` + target + `",address="` + target +
			`",state="` + state + `",subsystem="http"} ` + string(rune('0'+v))
	}
	want := []string{
		series(liveAddr, "healthchecks_off", 0), series(liveAddr, "healthy", 1),
		series(liveAddr, "unhealthy", 0), series(liveAddr, "dns_error", 0),
		series(dead, "healthchecks_off", 0), series(dead, "healthy", 0),
		series(dead, "unhealthy", 1), series(dead, "dns_error", 0),
	}
	for range 300 {
		text = scrapeNode(t)
		missing := false
		for _, w := range want {
			if !strings.Contains(text, w+"\n") {
				missing = true
			}
		}
		if !missing {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
	if n := len(lines(text, "kong_upstream_target_health{")); n != 8 {
		t.Errorf("%d target health series; want 8 (2 addresses x 4 states)", n)
	}
	if n := strings.Count(text, "# TYPE kong_upstream_target_health gauge\n"); n != 1 {
		t.Errorf("TYPE line written %d times; want 1", n)
	}
}

// TestMemoryMetrics: kong_memory_* with Kong 3.x's names and labels, the
// process's heap as the worker VM and the components as shared dicts; a
// component without a capacity has no _total_bytes series.
func TestMemoryMetrics(t *testing.T) {
	prometheus.SetNode(prometheus.Node{ID: "node-2", Memory: func() prometheus.Memory {
		return prometheus.Memory{PID: 4242, VMBytes: 123456789, Dicts: []prometheus.Dict{
			{Name: "proxy_cache", Bytes: 1000, Capacity: 4096}, {Name: "snapshot_current", Bytes: 777}}}
	}})
	defer prometheus.SetNode(prometheus.Node{})
	text := scrapeNode(t)
	for _, w := range []string{
		"# TYPE kong_memory_workers_lua_vms_bytes gauge",
		`kong_memory_workers_lua_vms_bytes{node_id="node-2",pid="4242",kong_subsystem="http"} 123456789`,
		`kong_memory_lua_shared_dict_bytes{node_id="node-2",shared_dict="proxy_cache",kong_subsystem="http"} 1000`,
		`kong_memory_lua_shared_dict_bytes{node_id="node-2",shared_dict="snapshot_current",kong_subsystem="http"} 777`,
		`kong_memory_lua_shared_dict_total_bytes{node_id="node-2",shared_dict="proxy_cache",kong_subsystem="http"} 4096`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("exposition lacks %q", w)
		}
	}
	if strings.Contains(text, `kong_memory_lua_shared_dict_total_bytes{node_id="node-2",shared_dict="snapshot_current"`) {
		t.Error("a capacity written for a component without one")
	}
}
