// Package ldapauth is Kong's ldap-auth plugin: it authenticates requests
// by a username and password in the Proxy-Authorization or Authorization
// header ("ldap <base64 of user:password>") with an LDAP simple bind of
// "<attribute>=<username>,<base_dn>", and remembers the answer for
// cache_ttl seconds. There is no consumer: the upstream learns the
// username from X-Credential-Identifier.
//
// The LDAP client is this package's own and small: plain TCP, LDAPS or
// StartTLS, one BindRequest per check, idle connections kept for reuse.
package ldapauth

import "sluice/internal/plugin"

// Name and Priority are Kong's (ldap-auth runs after key-auth, 1250, and
// before basic-auth, 1100).
const (
	Name     = "ldap-auth"
	Priority = 1200
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
