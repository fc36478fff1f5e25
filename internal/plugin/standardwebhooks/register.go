// Package standardwebhooks is Kong's standard-webhooks plugin (3.8+): it
// verifies that a request is a webhook signed as the Standard Webhooks
// specification says (webhook-id, webhook-timestamp and
// webhook-signature: "v1," and the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" keyed with the shared secret), and refuses
// any other with 400.
package standardwebhooks

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "standard-webhooks"
	Priority = 760
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
