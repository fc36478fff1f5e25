// Package requesttermination is Kong's request-termination plugin: it
// answers every request in its scope itself, with a fixed status and
// message or body, or with a JSON echo of the request (for debugging),
// optionally only when the request carries a trigger header or query
// argument.
package requesttermination

import "sluice/internal/plugin"

// Name and Priority are Kong's: 2, so it runs after every other access
// phase (an auth plugin rejects first).
const (
	Name     = "request-termination"
	Priority = 2
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.0",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
