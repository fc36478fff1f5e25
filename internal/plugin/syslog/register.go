// Package syslog is Kong's syslog plugin (3.x): in the log phase it sends
// each request's log entry, as JSON, to the host's syslog daemon with a
// severity chosen by the response's status, through a bounded queue.
package syslog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "syslog"
	Priority = 4
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
