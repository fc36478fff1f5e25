// Package correlationid is Kong's correlation-id plugin: it gives each
// request an id in a header (keeping one the client sent), forwards it
// upstream and, optionally, echoes it to the client.
package correlationid

import "sluice/internal/plugin"

// Name and Priority are Kong's (OSS build).
const (
	Name     = "correlation-id"
	Priority = 1
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
