package aiproxy

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Schema is ai-proxy's config record (Kong 3.9: kong/llm/schemas and the
// plugin's own fields).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: append(plugin.LLMFields(),
		&model.Field{Name: "response_streaming", Type: model.TypeString, Default: "allow", OneOf: []any{"allow", "deny", "always"}},
		&model.Field{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
		&model.Field{Name: "model_name_header", Type: model.TypeBoolean, Default: true},
	),
	Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: func(rec map[string]any) ([]string, map[string]any) {
		return plugin.LLMChecks(rec), nil
	}}}},
}

// Config is the decoded config record.
type Config struct {
	RouteType          string            `json:"route_type"`
	Auth               *plugin.LLMAuth   `json:"auth"`
	Model              plugin.LLMModel   `json:"model"`
	Logging            plugin.LLMLogging `json:"logging"`
	ResponseStreaming  string            `json:"response_streaming"`
	MaxRequestBodySize float64           `json:"max_request_body_size"`
	ModelNameHeader    bool              `json:"model_name_header"`
}
