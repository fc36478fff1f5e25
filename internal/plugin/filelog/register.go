// Package filelog is Kong's file-log plugin: in the log phase it appends
// one JSON line per request (Kong's log serializer record) to a file,
// through a bounded queue and one writer goroutine per file, so that a
// slow disk never delays requests; entries that do not fit are dropped and
// counted.
package filelog

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "file-log"
	Priority = 9
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
