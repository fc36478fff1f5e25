// Package keyauth is Kong's key-auth plugin: it authenticates requests by an
// API key found in a header, the query string or the body, against the
// keyauth_credentials of the configuration, and passes the consumer to the
// upstream in X-Consumer-* headers.
package keyauth

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "key-auth"
	Priority = 1250
)

func init() {
	plugin.Register(plugin.Definition{
		Name:       Name,
		Priority:   Priority,
		Version:    "3.9.1",
		Schema:     Schema,
		Protocols:  Schema.Protocols,
		NoConsumer: true,
		New:        New,
	})
}
