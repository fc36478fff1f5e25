// Package requestsizelimiting is Kong's request-size-limiting plugin: it
// rejects request bodies larger than allowed_payload_size with 413.
package requestsizelimiting

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "request-size-limiting"
	Priority = 951
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.0",
		Schema:    Schema,
		Protocols: []string{"grpc", "grpcs", "http", "https"},
		New:       New,
	})
}
