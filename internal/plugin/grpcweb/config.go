package grpcweb

import "sluice/internal/model"

// Schema is grpc-web's config record (Kong 3.x schema.lua): proto is only
// needed for the JSON content types.
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "proto", Type: model.TypeString},
		{Name: "pass_stripped_path", Type: model.TypeBoolean},
		{Name: "allow_origin_header", Type: model.TypeString, Default: "*"},
	},
}
