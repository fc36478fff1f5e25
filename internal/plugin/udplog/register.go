// Package udplog is Kong's udp-log plugin: in the log phase it sends the
// request's log record (Kong's serializer, one JSON document per datagram)
// to a UDP server, through a bounded queue and one sender per destination;
// entries that do not fit are dropped and counted.
package udplog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "udp-log"
	Priority = 8
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
