package main

import (
	"testing"

	"sluice/internal/memwatch"
	"sluice/internal/metrics"
)

// Every cache's and queue's bytes gauge becomes a timeline component, its
// capacity gauge read beside it; other gauges do not.
func TestComponentsFromGauges(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.NewGaugeVec(metrics.Opts{Name: "sluice_proxy_cache_bytes", Help: "h"}).With().Set(300)
	reg.NewGaugeVec(metrics.Opts{Name: "sluice_proxy_cache_capacity_bytes", Help: "h"}).With().Set(1000)
	q := reg.NewGaugeVec(metrics.Opts{Name: "sluice_http_log_queue_bytes", Help: "h"}, "endpoint")
	q.With("a").Set(10)
	q.With("b").Set(5)
	reg.NewGaugeVec(metrics.Opts{Name: "sluice_memory_rss_bytes", Help: "h"}).With().Set(1)
	reg.NewGaugeVec(metrics.Opts{Name: "kong_cache_bytes", Help: "h"}).With().Set(1)

	mw := memwatch.New(memwatch.Options{})
	comps := registerComponents(mw, reg)
	if len(comps) != 2 || comps[0][0] != "proxy_cache" || comps[1][0] != "http_log_queue" {
		t.Fatalf("components = %v, want proxy_cache and http_log_queue", comps)
	}
	dicts := sharedDicts(mw, reg, comps, 128<<20, func() (int64, int64) { return 7000, 0 })()
	byName := map[string]memwatch.SharedDict{}
	for _, d := range dicts {
		byName[d.Name] = d
	}
	if d := byName["kong_db_cache"]; d.Bytes != 7000 || d.Capacity != 128<<20 {
		t.Errorf("kong_db_cache = %+v", d)
	}
	if d := byName["kong"]; d.Capacity <= 0 || d.Bytes < 0 || d.Bytes > d.Capacity {
		t.Errorf("kong (the timeline) = %+v", d)
	}
	if d := byName["proxy_cache"]; d.Bytes != 300 || d.Capacity != 1000 {
		t.Errorf("proxy_cache = %+v", d)
	}
	if d := byName["http_log_queue"]; d.Bytes != 15 || d.Capacity != 0 {
		t.Errorf("http_log_queue = %+v (its series summed, no capacity gauge)", d)
	}
}
