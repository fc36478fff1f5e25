// Package basicauth is Kong's basic-auth plugin: it authenticates requests
// by a username and password in the Proxy-Authorization or Authorization
// header against the basicauth_credentials of the configuration, and passes
// the consumer to the upstream in X-Consumer-* headers.
package basicauth

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "basic-auth"
	Priority = 1100
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
