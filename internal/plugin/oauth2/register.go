// Package oauth2 is Kong's oauth2 plugin: the service behind a route
// becomes an OAuth 2.0 provider. POST <route>/oauth2/authorize (the
// authorization code and implicit flows, called by the application's
// backend with the plugin's provision_key) and POST <route>/oauth2/token
// (authorization_code, client_credentials, password and refresh_token
// grants) are answered by the gateway; every other request needs a valid
// access token, and passes the consumer, scope and authenticated user id
// upstream.
//
// Clients are the oauth2_credentials of the configuration. Tokens and
// authorization codes are kept by the gateway in a table bounded in bytes
// (see Tokens), shared by every instance of the plugin, and sent to the
// other nodes of a cluster as cluster events; unlike Kong, which writes
// them to its database, they do not outlive the nodes that hold them.
// The Admin API's /oauth2_tokens works on that table (admin.go).
package oauth2

import "sluice/internal/plugin"

// Name and Priority are Kong's (3.x).
const (
	Name     = "oauth2"
	Priority = 1400
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
		Admin:      AdminEndpoints,
	})
	plugin.OnClusterEvent(clusterKind, applyEvent)
}
