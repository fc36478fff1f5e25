package requesttransformer

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
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
		return plugin.ValidateHeaderPair(v.(string), nil)
	}})
}

func colonStrings(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Custom: checkForValue})
}

func colonHeaderValues(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Match: `^[^:]+:[\s\S]*$`,
		Custom: func(v any) string { return plugin.ValidateHeaderPair(v.(string), plugin.ValidHeaderValue) }})
}

func colonHeaderNames(name string) *model.Field {
	return array(name, &model.Field{Type: model.TypeString, Match: `^[^:]+:[\s\S]*$`,
		Custom: func(v any) string { return plugin.ValidateHeaderPair(v.(string), plugin.ValidHeaderName) }})
}

// checkForValue is Kong's check_for_value: the entry needs a value.
func checkForValue(v any) string {
	name, value, ok := plugin.SplitHeaderPair(v.(string))
	if !ok || value == "" {
		return "key '" + name + "' has no value"
	}
	return ""
}
