package jwt

import "sluice/internal/model"

func strField() *model.Field { return &model.Field{Type: model.TypeString} }

// Schema is jwt's config record (Kong 3.9 schema.lua). Kong declares the
// maximum_expiration check on the plugin entity, so its messages name the
// fields with the "config." prefix.
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "uri_param_names", Type: model.TypeSet, Default: []any{"jwt"}, Elements: strField()},
		{Name: "cookie_names", Type: model.TypeSet, Default: []any{}, Elements: strField()},
		{Name: "key_claim_name", Type: model.TypeString, Default: "iss"},
		{Name: "secret_is_base64", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "claims_to_verify", Type: model.TypeSet,
			Elements: &model.Field{Type: model.TypeString, OneOf: []any{"exp", "nbf"}}},
		{Name: "anonymous", Type: model.TypeString},
		{Name: "run_on_preflight", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "maximum_expiration", Type: model.TypeNumber, Default: float64(0), Between: []float64{0, 31536000}},
		{Name: "header_names", Type: model.TypeSet, Default: []any{"authorization"}, Elements: strField()},
		{Name: "realm", Type: model.TypeString},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{
		Fields: []string{"maximum_expiration", "claims_to_verify"},
		Fn: func(rec map[string]any) ([]string, map[string]any) {
			if m, _ := rec["maximum_expiration"].(float64); m <= 0 {
				return nil, nil
			}
			l, _ := rec["claims_to_verify"].([]any)
			for _, c := range l {
				if c == "exp" {
					return nil, nil
				}
			}
			return []string{"failed conditional validation given value of field 'config.maximum_expiration'"},
				map[string]any{"claims_to_verify": "expected to contain: exp"}
		},
	}}},
}
