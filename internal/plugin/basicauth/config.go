package basicauth

import "sluice/internal/model"

// Schema is basic-auth's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "anonymous", Type: model.TypeString},
		{Name: "hide_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "realm", Type: model.TypeString, Required: true, Default: "service"},
	},
}
