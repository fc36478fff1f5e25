package botdetection

import (
	"regexp"

	"sluice/internal/model"
)

// Schema is the config record of bot-detection (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "allow", Type: model.TypeArray, Default: []any{},
			Elements: &model.Field{Type: model.TypeString, Custom: validateRegex}},
		{Name: "deny", Type: model.TypeArray, Default: []any{},
			Elements: &model.Field{Type: model.TypeString, Custom: validateRegex}},
	},
}

// validateRegex is Kong's is_regex validator.
func validateRegex(v any) string {
	if _, err := regexp.Compile(v.(string)); err != nil {
		return "not a valid regex: " + v.(string)
	}
	return ""
}
