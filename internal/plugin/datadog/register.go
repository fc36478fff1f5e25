// Package datadog is Kong's datadog plugin (3.x): in the log phase it
// sends each request's metrics to a Datadog agent as DogStatsD lines over
// UDP, tagged with the service, the status and the consumer, through a
// bounded queue.
package datadog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "datadog"
	Priority = 10
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
