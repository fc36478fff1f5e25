package correlationid

import "sluice/internal/model"

// Schema is the config record of correlation-id (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "header_name", Type: model.TypeString, Default: "Kong-Request-ID"},
		{Name: "generator", Type: model.TypeString, Required: true, Default: "uuid#counter",
			OneOf: []any{"uuid", "uuid#counter", "tracker"}},
		{Name: "echo_downstream", Type: model.TypeBoolean, Required: true, Default: false},
	},
}
