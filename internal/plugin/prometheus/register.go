// Package prometheus is Kong's prometheus plugin: it records per-service and
// per-route request counts, latencies and bandwidth in the log phase into
// the metrics registry, which the status listener serves on /metrics with
// Kong's metric names.
package prometheus

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "prometheus"
	Priority = 13
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
