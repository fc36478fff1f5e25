// Package ratelimiting is Kong's rate-limiting plugin: fixed windows
// (second to year, aligned to UTC calendar boundaries) counted per consumer,
// credential, client IP, service, header value or path, with Kong's
// X-RateLimit-* / RateLimit-* headers and 429 answer.
//
// The "local" policy keeps counters in this process, in a bounded store
// kept in plugin.StatePool under the plugin id so that they survive
// snapshot rebuilds. The "redis" policy counts through plugin.Counters
// (Deps.Redis, provided by package redisstore). The "cluster" policy counts
// through plugin.ClusterCounters (Deps.Cluster: the PostgreSQL store's
// Counters, on Kong's ratelimiting_metrics table); without a cluster
// database (embedded store) it counts in the process, and on a DB-less
// node (plugin.SetDBless) the schema refuses it as Kong does.
package ratelimiting

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "rate-limiting"
	Priority = 910
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
