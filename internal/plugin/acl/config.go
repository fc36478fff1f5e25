package acl

import "sluice/internal/model"

// Schema is acl's config record (Kong 3.9 schema.lua). Kong declares the
// allow/deny checks on the plugin entity, so their messages name the fields
// with the "config." prefix.
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "allow", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "deny", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "hide_groups_header", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "include_consumer_groups", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "always_use_authenticated_groups", Type: model.TypeBoolean, Required: true, Default: false},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{
		Fields: []string{"allow", "deny"},
		Fn: func(rec map[string]any) ([]string, map[string]any) {
			a, d := nonEmpty(rec["allow"]), nonEmpty(rec["deny"])
			const fields = "'config.allow', 'config.deny'"
			switch {
			case a && d:
				return []string{"exactly one of these fields must be non-empty: " + fields}, nil
			case !a && !d:
				return []string{"exactly one of these fields must be non-empty: " + fields,
					"at least one of these fields must be non-empty: " + fields}, nil
			}
			return nil, nil
		},
	}}},
}

func nonEmpty(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) > 0
}
