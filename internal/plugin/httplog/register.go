// Package httplog is Kong's http-log plugin: in the log phase it queues the
// request's log serializer record; a worker per queue sends the records to
// an HTTP collector in batches, retrying failed batches with exponential
// backoff. The queue is bounded (Kong's queue.max_entries and max_bytes):
// when full, records are dropped and counted, and requests never wait for
// the collector.
package httplog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "http-log"
	Priority = 12
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
