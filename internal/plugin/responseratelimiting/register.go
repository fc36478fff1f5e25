// Package responseratelimiting is Kong's response-ratelimiting plugin
// (3.x): the upstream says in a response header how much of each named
// limit a response used (X-Kong-Limit: video=2, image=1); the plugin
// counts it per consumer, credential or IP over the configured periods,
// tells the client what is left, and refuses with 429 the responses of
// a limit already used up.
//
// Counters live in this process (policy local, kept across snapshot
// rebuilds in the plugin state pool), on Redis (redis: plugin.Counters,
// shared by every node) or in the cluster's database (cluster:
// plugin.ResponseCounters on Kong's response_ratelimiting_metrics table).
package responseratelimiting

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "response-ratelimiting"
	Priority = 900
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
