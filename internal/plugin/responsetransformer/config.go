package responsetransformer

import (
	"strings"

	"sluice/internal/model"
)

// Schema is the config record of response-transformer (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "remove", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			array("json", &model.Field{Type: model.TypeString}),
			array("headers", &model.Field{Type: model.TypeString}),
		}},
		{Name: "rename", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			array("json", colonString()),
			array("headers", &model.Field{Type: model.TypeString, Match: colonPattern,
				Custom: func(v any) string { return validatePair(v.(string), validHeaderName) }}),
		}},
		colonRecord("replace"),
		colonRecord("add"),
		colonRecord("append"),
	},
}

const colonPattern = `^[^:]+:[\s\S]*$`

func array(name string, elem *model.Field) *model.Field {
	return &model.Field{Name: name, Type: model.TypeArray, Required: true, Default: []any{}, Elements: elem}
}

func colonString() *model.Field {
	return &model.Field{Type: model.TypeString, Match: colonPattern}
}

func colonRecord(name string) *model.Field {
	return &model.Field{Name: name, Type: model.TypeRecord, Required: true, Fields: []*model.Field{
		array("json", colonString()),
		array("json_types", &model.Field{Type: model.TypeString, OneOf: []any{"boolean", "number", "string"}}),
		array("headers", &model.Field{Type: model.TypeString, Match: colonPattern,
			Custom: func(v any) string { return validatePair(v.(string), validHeaderValue) }}),
	}}
}

// splitPair splits "name:value" as Kong's pattern ^([^:]+):*(.-)$ does.
func splitPair(s string) (name, value string) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], ":")
}

// validatePair is Kong's validate_headers.
func validatePair(s string, check func(string) bool) string {
	name, value := splitPair(s)
	if !validHeaderName(name) {
		return "'" + name + "' is not a valid header"
	}
	if check != nil && !check(value) {
		return "'" + value + "' is not a valid header"
	}
	return ""
}

// validHeaderName is Kong's validate_header_name: ^[a-zA-Z0-9-_]+$.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validHeaderValue is Kong's validate_header_value: no control characters
// other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}
