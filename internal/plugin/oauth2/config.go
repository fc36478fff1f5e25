package oauth2

import "sluice/internal/model"

// Schema is oauth2's config record (Kong 3.x kong/plugins/oauth2/schema.lua;
// realm from 3.8). provision_key is generated when absent, as Kong's auto
// field is; a declarative file should set it, or each load makes a new one.
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "scopes", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "mandatory_scope", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "provision_key", Type: model.TypeString, Unique: true, Auto: true, Required: true, Encrypted: true},
		{Name: "token_expiration", Type: model.TypeNumber, Required: true, Default: 7200},
		{Name: "enable_authorization_code", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "enable_implicit_grant", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "enable_client_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "enable_password_grant", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "hide_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "accept_http_if_already_terminated", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "anonymous", Type: model.TypeString},
		{Name: "global_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "auth_header_name", Type: model.TypeString, Default: "authorization"},
		{Name: "refresh_token_ttl", Type: model.TypeNumber, Required: true, Default: 1209600, Between: []float64{0, 100000000}},
		{Name: "reuse_refresh_token", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "pkce", Type: model.TypeString, Default: "lax", OneOf: []any{"none", "lax", "strict"}},
		{Name: "realm", Type: model.TypeString},
	},
	Checks: []*model.Check{{Conditional: &model.Conditional{
		IfField: "mandatory_scope", IfMatch: &model.Field{Eq: true},
		ThenField: "scopes", ThenMatch: &model.Field{Required: true},
	}}},
	ConfigValidator: func(cfg map[string]any) string {
		for _, f := range []string{"enable_authorization_code", "enable_implicit_grant", "enable_client_credentials", "enable_password_grant"} {
			if cfg[f] == true {
				return ""
			}
		}
		return "at least one of these fields must be true: enable_authorization_code, enable_implicit_grant, enable_client_credentials, enable_password_grant"
	},
}
