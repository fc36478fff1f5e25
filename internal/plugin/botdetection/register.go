// Package botdetection is Kong's bot-detection plugin: it answers 403 to
// requests whose User-Agent matches the deny list or Kong's built-in list of
// bots, unless the allow list matches first.
package botdetection

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "bot-detection"
	Priority = 2500
)

func init() {
	plugin.Register(plugin.Definition{
		Name:       Name,
		Priority:   Priority,
		Version:    "3.9.0",
		Schema:     Schema,
		Protocols:  []string{"grpc", "grpcs", "http", "https"},
		NoConsumer: true,
		New:        New,
	})
}
