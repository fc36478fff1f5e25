package main

import (
	"strings"

	"sluice/internal/memwatch"
	"sluice/internal/metrics"
)

// registerComponents puts every bounded cache and queue that exports its
// bytes (a sluice_*_cache_bytes or sluice_*_queue_bytes gauge, whatever
// plugin owns it) on the memory timeline, so that a spike can name it. It
// returns them as name and gauge pairs.
func registerComponents(mw *memwatch.Watcher, reg *metrics.Registry) [][2]string {
	var out [][2]string
	for _, g := range reg.GaugeNames() {
		name, ok := componentName(g)
		if !ok {
			continue
		}
		if mw.RegisterGauge(name, func() int64 { return int64(reg.GaugeSum(g)) }) == nil {
			out = append(out, [2]string{name, g})
		}
	}
	return out
}

// componentName is the timeline's name of a cache's or queue's bytes
// gauge ("sluice_proxy_cache_bytes" → "proxy_cache").
func componentName(gauge string) (string, bool) {
	rest, ok := strings.CutPrefix(gauge, "sluice_")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, "_bytes")
	if !ok || strings.HasSuffix(rest, "_capacity") || !(strings.HasSuffix(rest, "_cache") || strings.HasSuffix(rest, "_queue")) {
		return "", false
	}
	return rest, true
}

// sharedDicts lists what /status shows as Kong's lua_shared_dicts and the
// Prometheus exporter as kong_memory_lua_shared_dict_*: Kong's two
// dictionaries its own tools look for, as sluice's equivalents, then
// sluice's components.
//   - kong_db_cache, Kong's entity cache (capacity mem_cache_size): the
//     configuration snapshot being served;
//   - kong, the node's own state: the memory timeline's rings;
//   - snapshot_previous (while one drains) and each cache and queue, with
//     its capacity where it exports one (a sluice_*_capacity_bytes gauge).
func sharedDicts(mw *memwatch.Watcher, reg *metrics.Registry, comps [][2]string, memCacheSize int64,
	snapshotBytes func() (cur, prev int64)) func() []memwatch.SharedDict {
	return func() []memwatch.SharedDict {
		cur, prev := snapshotBytes()
		used, capacity := mw.TimelineBytes()
		out := []memwatch.SharedDict{
			{Name: "kong", Bytes: used, Capacity: capacity},
			{Name: "kong_db_cache", Bytes: cur, Capacity: memCacheSize},
			{Name: "snapshot_previous", Bytes: prev},
		}
		for _, c := range comps {
			capGauge := strings.TrimSuffix(c[1], "_bytes") + "_capacity_bytes"
			out = append(out, memwatch.SharedDict{Name: c[0], Bytes: int64(reg.GaugeSum(c[1])), Capacity: int64(reg.GaugeSum(capGauge))})
		}
		return out
	}
}
