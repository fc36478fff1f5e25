// Package memwatch watches the process's memory from the inside.
//
// ApplyLimit reads the container's memory limit (cgroup v2 or v1) and sets
// the Go runtime's soft limit (GOMEMLIMIT) to a share of it.
//
// A Watcher samples, every second by default, the heap in use, the live
// heap, the heap goal, goroutine stacks, GC cycles and pause time,
// goroutines, the process's RSS and every registered gauge (snapshot bytes,
// cache and queue sizes) into a fixed ring, without allocating. Events
// (config reloads, evictions, long GC pauses, spikes) share the timeline.
//
// When the live heap or RSS rises over its rolling baseline (the median of
// the last samples) by a margin, the Watcher logs one structured event that
// names what grew and what happened just before, and saves a heap profile
// and an execution-trace window to its diagnostics directory. FindPeriod
// recognises spikes recurring at a regular interval and the events that
// precede them.
//
// BeginLoad (and Watcher.BeginLoad) paces the GC through a memory-heavy
// one-off task, a config load: a collection first, then a memory limit
// that keeps RSS near its baseline (a lower GOGC while there is no
// baseline yet), and one collection at the end, so that a POST /config
// does not leave RSS a step higher.
//
// People see it through Handler (GET /debug/memory, the timeline as JSON),
// StatusBlock (the memory block of GET /status), WriteMetrics (Prometheus
// text) and Doctor (the terminal report of `sluice doctor memory`).
package memwatch
