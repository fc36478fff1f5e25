package hmacauth

import "sluice/internal/model"

// Algorithms are the signature algorithms Kong accepts, in its order.
var Algorithms = []any{"hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"}

// Schema is hmac-auth's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "hide_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "clock_skew", Type: model.TypeNumber, Default: 300, Gt: model.Float(0)},
		{Name: "anonymous", Type: model.TypeString},
		{Name: "validate_request_body", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "enforce_headers", Type: model.TypeArray, Default: []any{}, Elements: &model.Field{Type: model.TypeString}},
		{Name: "algorithms", Type: model.TypeArray, Default: Algorithms,
			Elements: &model.Field{Type: model.TypeString, OneOf: Algorithms}},
		{Name: "realm", Type: model.TypeString},
	},
}

// Config is the decoded config record.
type Config struct {
	HideCredentials     bool     `json:"hide_credentials"`
	ClockSkew           float64  `json:"clock_skew"` // seconds
	Anonymous           *string  `json:"anonymous"`
	ValidateRequestBody bool     `json:"validate_request_body"`
	EnforceHeaders      []string `json:"enforce_headers"`
	Algorithms          []string `json:"algorithms"`
	Realm               *string  `json:"realm"`
}
