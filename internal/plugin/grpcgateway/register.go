// Package grpcgateway is Kong's grpc-gateway plugin: it lets REST clients
// call a gRPC service with JSON. The service's .proto file maps HTTP
// methods and paths to its methods (google.api.http rules); the plugin
// builds the gRPC request from the path, query and JSON body, sends it
// upstream as gRPC over HTTP/2, and turns the response messages back into
// JSON, with the gRPC status as an HTTP status.
package grpcgateway

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's.
const (
	Name     = "grpc-gateway"
	Priority = 998
)

// Schema is grpc-gateway's config record (Kong 3.x schema.lua): the path
// of the .proto file, relative to the working directory when not
// absolute.
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "proto", Type: model.TypeString},
	},
}

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
