package model

import (
	"encoding/json"
	"fmt"
)

// API CONTRACT (stub: the model owner replaces the bodies, keeps the signatures).

// SchemaError is Kong's "schema violation": a tree of field errors. Values of
// Fields are a string (one field's error), a map[string]any (errors inside a
// record, e.g. config.minute), or, under the key "@entity", a []string of
// entity-level errors.
type SchemaError struct {
	Fields map[string]any
}

// Error renders Kong's message: "schema violation (name: unknown field)" or
// "2 schema violations (a: x; b: y)".
func (e *SchemaError) Error() string { return fmt.Sprintf("schema violation (%v)", e.Fields) }

// PluginSchemaLookup finds the config schema of a loaded plugin by name.
type PluginSchemaLookup func(name string) (*Schema, bool)

// ProcessOptions tunes Schema.Process.
type ProcessOptions struct {
	// Plugins validates plugin entities' name and config. When nil, plugin
	// names are not checked and config is kept as given.
	Plugins PluginSchemaLookup
}

// Schema describes one entity (or a plugin's config record).
type Schema struct {
	Name        string // DAO name, e.g. "services"
	EndpointKey string // e.g. "name"; "" when lookup is by id only
}

// Lookup returns the schema of a core entity by its DAO name ("services",
// "routes", ..., "keyauth_credentials", "acls").
func Lookup(entity string) (*Schema, bool) { return &Schema{Name: entity}, true }

// Process validates a generic input (decoded JSON/YAML/form: values are
// string, bool, float64/int, []any, map[string]any, nil), expands shorthands
// (service url), rejects unknown fields, fills defaults, and returns the
// normalised record. It generates nothing: id and timestamps are the
// caller's.
func (s *Schema) Process(in map[string]any, opts *ProcessOptions) (map[string]any, *SchemaError) {
	return in, nil
}

// Decode converts a record returned by Process into its typed entity
// (dst is a pointer to Service, Route, ...).
func Decode(rec map[string]any, dst any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}
