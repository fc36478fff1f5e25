package requesttransformer

import (
	"strings"

	"sluice/internal/model"
)

// Schema is the config record of request-transformer (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name: Name,
	Fields: []*model.Field{
		{Name: "http_method", Type: model.TypeString, Match: `^[A-Z]+$`},
		{Name: "remove", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			stringsArray("body"), headersArray("headers"), stringsArray("querystring"),
		}},
		{Name: "rename", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			colonStrings("body"), colonHeaderNames("headers"), colonStrings("querystring"),
		}},
		{Name: "replace", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			colonStrings("body"), colonHeaderValues("headers"), colonStrings("querystring"),
			{Name: "uri", Type: model.TypeString},
		}},
		{Name: "add", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			colonStrings("body"), colonHeaderValues("headers"), colonStrings("querystring"),
		}},
		{Name: "append", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			colonStrings("body"), colonHeaderValues("headers"), colonStrings("querystring"),
		}},
	},
}

func array(name string, elem *model.Field) *model.Field {
	return &model.Field{Name: name, Type: model.TypeArray, Required: true, Default: []any{}, Elements: elem}
}

func stringsArray(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString})
}

func headersArray(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Custom: func(v any) string {
		return validatePair(v.(string), nil)
	}})
}

func colonStrings(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Custom: checkForValue})
}

func colonHeaderValues(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Match: `^[^:]+:[\s\S]*$`,
		Custom: func(v any) string { return validatePair(v.(string), validHeaderValue) }})
}

func colonHeaderNames(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Match: `^[^:]+:[\s\S]*$`,
		Custom: func(v any) string { return validatePair(v.(string), validHeaderName) }})
}

// splitPair splits "name:value" as Kong's pattern ^([^:]+):*(.-)$ does:
// the name runs to the first colon, further colons are skipped.
func splitPair(s string) (name, value string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i == 0 || s == "" {
		return "", "", false
	}
	if i < 0 {
		return s, "", true
	}
	return s[:i], strings.TrimLeft(s[i:], ":"), true
}

// checkForValue is Kong's check_for_value: the entry needs a value.
func checkForValue(v any) string {
	name, value, ok := splitPair(v.(string))
	if !ok || value == "" {
		return "key '" + name + "' has no value"
	}
	return ""
}

// validatePair is Kong's validate_headers: a valid header name and,
// with check, a valid value.
func validatePair(s string, check func(string) bool) string {
	name, value, _ := splitPair(s)
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

// validHeaderValue is Kong's validate_header_value: printable ASCII,
// space and tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}
