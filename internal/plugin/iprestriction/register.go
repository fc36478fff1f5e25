// Package iprestriction is Kong's ip-restriction plugin: it answers 403 (or
// the configured status) to clients whose address is in the deny list or,
// when an allow list is set, not in it.
package iprestriction

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "ip-restriction"
	Priority = 990
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.0",
		Schema:    Schema,
		Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls"},
		New:       New,
	})
}
