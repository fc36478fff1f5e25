// Package azurefunctions is Kong's azure-functions plugin (3.x): it
// answers the request by calling an Azure Function over HTTP(S) with the
// request's method, headers, query and body, and returns the function's
// answer; the route's service is not called.
package azurefunctions

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "azure-functions"
	Priority = 749
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
