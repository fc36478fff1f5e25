package iprestriction

import "sluice/internal/model"

// Schema is the config record of ip-restriction (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls"},
	Fields: []*model.Field{
		{Name: "allow", Type: model.TypeArray, Elements: model.IPOrCIDRField("")},
		{Name: "deny", Type: model.TypeArray, Elements: model.IPOrCIDRField("")},
		{Name: "status", Type: model.TypeNumber},
		{Name: "message", Type: model.TypeString},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{
		Fields: []string{"allow", "deny"},
		Fn: func(rec map[string]any) ([]string, map[string]any) {
			if nonEmpty(rec["allow"]) || nonEmpty(rec["deny"]) {
				return nil, nil
			}
			// Kong declares the check on the plugin entity, so its
			// message names the fields with their "config." prefix.
			return []string{"at least one of these fields must be non-empty: 'config.allow', 'config.deny'"}, nil
		},
	}}},
}

func nonEmpty(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) > 0
}
