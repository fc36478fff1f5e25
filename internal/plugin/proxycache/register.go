// Package proxycache is Kong's proxy-cache plugin with the memory strategy:
// cacheable responses are kept in a byte-bounded LRU shared by every
// instance and served from the access phase on later requests with the
// same cache key.
package proxycache

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "proxy-cache"
	Priority = 100
)

func init() {
	plugin.Register(plugin.Definition{
		Name:     Name,
		Priority: Priority,
		Version:  "3.9.0",
		Schema:   Schema,
		New:      New,
		Admin:    AdminEndpoints,
	})
}
