// Package responsetransformer is Kong's response-transformer plugin: it
// removes, renames, replaces, adds and appends response headers and
// top-level fields of JSON response bodies.
package responsetransformer

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "response-transformer"
	Priority = 800
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
