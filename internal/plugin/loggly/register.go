// Package loggly is Kong's loggly plugin (3.x): in the log phase it sends
// each request's log entry, as JSON in an RFC 5424 syslog message tagged
// with the customer token, to Loggly over UDP, with a severity chosen by
// the response's status, through a bounded queue.
package loggly

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "loggly"
	Priority = 6
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
