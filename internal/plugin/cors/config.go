package cors

import (
	"regexp"

	"sluice/internal/model"
)

// Methods is Kong's list of accepted (and default) methods.
var Methods = []any{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// Schema is the config record of cors (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "origins", Type: model.TypeArray,
			Elements: &model.Field{Type: model.TypeString, Custom: validateOrigin}},
		{Name: "headers", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "exposed_headers", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "methods", Type: model.TypeArray, Default: Methods,
			Elements: &model.Field{Type: model.TypeString, OneOf: Methods}},
		{Name: "max_age", Type: model.TypeNumber},
		{Name: "credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "private_network", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "preflight_continue", Type: model.TypeBoolean, Required: true, Default: false},
		// allow_origin_absent (Kong 3.9): when false, responses to requests
		// without an Origin header get no CORS headers.
		{Name: "allow_origin_absent", Type: model.TypeBoolean, Required: true, Default: true},
	},
}

// validateOrigin is Kong's validate_asterisk_or_regex.
func validateOrigin(v any) string {
	s := v.(string)
	if s == "*" {
		return ""
	}
	if _, err := regexp.Compile(s); err != nil {
		return "'" + s + "' is not a valid regex"
	}
	return ""
}
