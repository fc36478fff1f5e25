package responsetransformer

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
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
				Custom: func(v any) string { return plugin.ValidateHeaderPair(v.(string), plugin.ValidHeaderName) }}),
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
			Custom: func(v any) string { return plugin.ValidateHeaderPair(v.(string), plugin.ValidHeaderValue) }}),
	}}
}
