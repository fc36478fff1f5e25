// Package zipkin is Kong's zipkin plugin (3.9): it reads and propagates the
// trace context (B3 by default, or any format Kong's tracing plugins
// know), and reports each sampled request to a Zipkin collector as Zipkin
// v2 JSON spans: the request (server), the proxying (client) and one span
// per balancer try, with Kong's names, tags and phase annotations.
package zipkin

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "zipkin"
	Priority = 100000
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
