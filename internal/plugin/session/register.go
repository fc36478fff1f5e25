// Package session is Kong's session plugin (3.9): it keeps browser sessions
// for the auth plugins. In the access phase, before the auth plugins, a
// valid session cookie authenticates the request as the consumer and
// credential it holds (or a logout request destroys it); in header_filter,
// a request an auth plugin authenticated gets a new session cookie.
//
// The session lives in the cookie, sealed with AES-256-GCM under a key
// derived from the configured secret (HKDF-SHA256). The format is sluice's
// own: cookies issued by Kong are not read, and Kong does not read these.
package session

import "sluice/internal/plugin"

// Name and Priority are Kong's: 1900, before the auth plugins (jwt 1450,
// key-auth 1250, basic-auth 1100, ...).
const (
	Name     = "session"
	Priority = 1900
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
