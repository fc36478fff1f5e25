// Package tcplog is Kong's tcp-log plugin: in the log phase it sends the
// request's log record (Kong's serializer, one JSON document and a
// newline) to a TCP server, optionally over TLS, through a bounded queue
// and one sender per destination that keeps its connection open between
// entries; entries that do not fit are dropped and counted.
package tcplog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "tcp-log"
	Priority = 7
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
