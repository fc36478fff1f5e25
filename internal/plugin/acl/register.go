// Package acl is Kong's acl plugin: it lets a request through or answers
// 403 depending on the acl groups of the consumer an auth plugin
// identified, and passes the groups upstream in X-Consumer-Groups.
package acl

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "acl"
	Priority = 950
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
