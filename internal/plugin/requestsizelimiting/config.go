package requestsizelimiting

import "sluice/internal/model"

// Schema is the config record of request-size-limiting (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "allowed_payload_size", Type: model.TypeInteger, Default: 128},
		{Name: "size_unit", Type: model.TypeString, Required: true, Default: "megabytes",
			OneOf: []any{"megabytes", "kilobytes", "bytes"}},
		{Name: "require_content_length", Type: model.TypeBoolean, Required: true, Default: false},
	},
}

// unitFactor is Kong's unit_multiplication_factor (binary multiples).
var unitFactor = map[string]int64{
	"bytes":     1,
	"kilobytes": 1 << 10,
	"megabytes": 1 << 20,
}
