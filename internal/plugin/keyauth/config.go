package keyauth

import "sluice/internal/model"

// Schema is key-auth's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "key_names", Type: model.TypeArray, Required: true, Default: []any{"apikey"},
			Elements: model.HeaderNameField("")},
		{Name: "hide_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "anonymous", Type: model.TypeString},
		{Name: "key_in_header", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "key_in_query", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "key_in_body", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "run_on_preflight", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "realm", Type: model.TypeString},
	},
}
