// Package redirect is Kong's redirect plugin (3.9): it answers the
// requests in its scope with a redirect to a configured location,
// optionally keeping the request's path and query.
package redirect

import "sluice/internal/plugin"

// Name and Priority are Kong's: 779, after the rate limiting, validation
// and transformation plugins.
const (
	Name     = "redirect"
	Priority = 779
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
