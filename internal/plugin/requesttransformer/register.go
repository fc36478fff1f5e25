// Package requesttransformer is Kong's request-transformer plugin: it
// removes, renames, replaces, adds and appends headers, query arguments and
// body fields (JSON and form bodies) of the request sent upstream, and can
// change its method and URI.
package requesttransformer

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "request-transformer"
	Priority = 801
)

func init() {
	plugin.Register(plugin.Definition{
		Name:     Name,
		Priority: Priority,
		Version:  "3.9.0",
		Schema:   Schema,
		New:      New,
	})
}
