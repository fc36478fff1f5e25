// Package hmacauth is Kong's hmac-auth plugin: it authenticates requests
// signed with HMAC (the draft-cavage HTTP signature scheme Kong
// implements) against the hmacauth_credentials of the configuration,
// optionally checks a SHA-256 digest of the body, and passes the consumer
// to the upstream in X-Consumer-* headers.
package hmacauth

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "hmac-auth"
	Priority = 1030
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
