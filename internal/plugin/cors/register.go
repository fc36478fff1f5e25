// Package cors is Kong's cors plugin: it answers CORS preflight requests
// itself (unless preflight_continue) and adds the CORS response headers to
// every other response.
package cors

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "cors"
	Priority = 2000
)

func init() {
	plugin.Register(plugin.Definition{
		Name:       Name,
		Priority:   Priority,
		Version:    "3.9.0",
		Schema:     Schema,
		Protocols:  []string{"grpc", "grpcs", "http", "https"},
		NoConsumer: true,
		New:        New,
	})
}
