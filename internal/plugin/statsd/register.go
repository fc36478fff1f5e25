// Package statsd is Kong's statsd plugin (3.x, with statsd-advanced's
// metrics): in the log phase it sends each request's metrics (counts,
// sizes, latencies, statuses, per consumer, per workspace, per route) to a
// StatsD server over UDP or TCP, through a bounded queue; with tag_style,
// as tagged metrics in the DogStatsD, InfluxDB, Librato or SignalFx
// syntax.
package statsd

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "statsd"
	Priority = 11
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
