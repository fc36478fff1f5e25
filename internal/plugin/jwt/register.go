// Package jwt is Kong's jwt plugin: it authenticates requests by a JSON Web
// Token (compact JWS) found in the query string, a cookie or a header,
// verifies its signature with the jwt_secrets credential named by a claim,
// checks exp/nbf, and passes the consumer to the upstream in X-Consumer-*
// headers. The JWS parser and verifiers are written here on the standard
// library (crypto/hmac, rsa, ecdsa, ed25519).
package jwt

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "jwt"
	Priority = 1450
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
