package aiproxy

import (
	"fmt"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// providers are Kong 3.9's; supported lists those sluice can call.
var (
	providers = []any{"openai", "azure", "anthropic", "cohere", "mistral", "llama2", "gemini", "bedrock"}
	supported = map[string]bool{"openai": true, "azure": true, "anthropic": true, "cohere": true, "mistral": true, "llama2": true}
)

func str(name string) *model.Field { return &model.Field{Name: name, Type: model.TypeString} }

func secret(name string) *model.Field {
	return &model.Field{Name: name, Type: model.TypeString, Referenceable: true, Encrypted: true}
}

// Schema is ai-proxy's config record (Kong 3.9: kong/llm/schemas and the
// plugin's own fields).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "route_type", Type: model.TypeString, Required: true, OneOf: []any{plugin.LLMRouteChat, plugin.LLMRouteCompletions, plugin.LLMRoutePreserve},
			Description: "The model's operation implementation, for this provider."},
		{Name: "auth", Type: model.TypeRecord, Fields: []*model.Field{
			{Name: "header_name", Type: model.TypeString, Referenceable: true},
			secret("header_value"),
			{Name: "param_name", Type: model.TypeString, Referenceable: true},
			secret("param_value"),
			{Name: "param_location", Type: model.TypeString, OneOf: []any{"query", "body"}},
			{Name: "gcp_use_service_account", Type: model.TypeBoolean, Default: false},
			{Name: "gcp_service_account_json", Type: model.TypeString, Referenceable: true},
			secret("aws_access_key_id"),
			secret("aws_secret_access_key"),
			{Name: "allow_override", Type: model.TypeBoolean, Default: false},
		}},
		{Name: "model", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			{Name: "provider", Type: model.TypeString, Required: true, OneOf: providers},
			str("name"),
			{Name: "options", Type: model.TypeRecord, Fields: []*model.Field{
				{Name: "max_tokens", Type: model.TypeInteger, Default: 256},
				{Name: "input_cost", Type: model.TypeNumber, Gt: model.Float(0)},
				{Name: "output_cost", Type: model.TypeNumber, Gt: model.Float(0)},
				{Name: "temperature", Type: model.TypeNumber, Between: []float64{0, 5}},
				{Name: "top_p", Type: model.TypeNumber, Between: []float64{0, 1}},
				{Name: "top_k", Type: model.TypeInteger, Between: []float64{0, 500}},
				str("anthropic_version"),
				str("azure_instance"),
				{Name: "azure_api_version", Type: model.TypeString, Default: "2023-05-15"},
				str("azure_deployment_id"),
				{Name: "llama2_format", Type: model.TypeString, OneOf: []any{"raw", "openai", "ollama"}},
				{Name: "mistral_format", Type: model.TypeString, OneOf: []any{"openai", "ollama"}},
				model.URLField("upstream_url"),
				str("upstream_path"),
				{Name: "gemini", Type: model.TypeRecord, Fields: []*model.Field{str("api_endpoint"), str("project_id"), str("location_id")},
					Checks: []*model.Check{{MutuallyRequired: []string{"api_endpoint", "project_id", "location_id"}}}},
				{Name: "bedrock", Type: model.TypeRecord, Fields: []*model.Field{str("aws_region")}},
			}},
		}},
		{Name: "logging", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			{Name: "log_statistics", Type: model.TypeBoolean, Required: true, Default: false},
			{Name: "log_payloads", Type: model.TypeBoolean, Required: true, Default: false},
		}},
		{Name: "response_streaming", Type: model.TypeString, Default: "allow", OneOf: []any{"allow", "deny", "always"}},
		{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
		{Name: "model_name_header", Type: model.TypeBoolean, Default: true},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: checks}}},
}

// checks are Kong's entity checks of the config record, in its order.
func checks(rec map[string]any) ([]string, map[string]any) {
	var ent []string
	auth, _ := rec["auth"].(map[string]any)
	mod, _ := rec["model"].(map[string]any)
	opts, _ := mod["options"].(map[string]any)
	logging, _ := rec["logging"].(map[string]any)
	provider, _ := mod["provider"].(string)
	if (provider == "bedrock" || provider == "gemini") && auth["allow_override"] == true {
		ent = append(ent, "bedrock and gemini only support auth.allow_override = false")
	}
	allOrNone := func(names ...string) {
		set := 0
		for _, n := range names {
			if auth[n] != nil {
				set++
			}
		}
		if set > 0 && set < len(names) {
			q := ""
			for i, n := range names {
				if i > 0 {
					q += ", "
				}
				q += "'auth." + n + "'"
			}
			ent = append(ent, "all or none of these fields must be set: "+q)
		}
	}
	allOrNone("header_name", "header_value")
	allOrNone("param_name", "param_value", "param_location")
	need := func(p, opt, msg string) {
		if provider == p && opts[opt] == nil {
			ent = append(ent, msg)
		}
	}
	need("llama2", "llama2_format", "must set 'model.options.llama2_format' for llama2 provider")
	need("mistral", "mistral_format", "must set 'model.options.mistral_format' for mistral provider")
	need("anthropic", "anthropic_version", "must set 'model.options.anthropic_version' for anthropic provider")
	need("azure", "azure_instance", "must set 'model.options.azure_instance' for azure provider")
	need("azure", "azure_api_version", "must set 'model.options.azure_api_version' for azure provider")
	need("azure", "azure_deployment_id", "must set 'model.options.azure_deployment_id' for azure provider")
	need("llama2", "upstream_url", "must set 'model.options.upstream_url' for self-hosted providers/models")
	if logging["log_statistics"] == true && rec["route_type"] == plugin.LLMRouteCompletions && provider == "anthropic" {
		ent = append(ent, "anthropic does not support statistics when route_type is llm/v1/completions")
	}
	if provider != "" && !supported[provider] {
		ent = append(ent, fmt.Sprintf("provider '%s' is not supported by sluice; supported: openai, azure, anthropic, cohere, mistral, llama2", provider))
	}
	return ent, nil
}

// Config is the decoded config record.
type Config struct {
	RouteType string `json:"route_type"`
	Auth      *struct {
		HeaderName    *string `json:"header_name"`
		HeaderValue   *string `json:"header_value"`
		ParamName     *string `json:"param_name"`
		ParamValue    *string `json:"param_value"`
		ParamLocation *string `json:"param_location"`
		AllowOverride bool    `json:"allow_override"`
	} `json:"auth"`
	Model struct {
		Provider string  `json:"provider"`
		Name     *string `json:"name"`
		Options  *struct {
			MaxTokens         *float64 `json:"max_tokens"`
			InputCost         *float64 `json:"input_cost"`
			OutputCost        *float64 `json:"output_cost"`
			Temperature       *float64 `json:"temperature"`
			TopP              *float64 `json:"top_p"`
			TopK              *float64 `json:"top_k"`
			AnthropicVersion  *string  `json:"anthropic_version"`
			AzureInstance     *string  `json:"azure_instance"`
			AzureAPIVersion   *string  `json:"azure_api_version"`
			AzureDeploymentID *string  `json:"azure_deployment_id"`
			Llama2Format      *string  `json:"llama2_format"`
			MistralFormat     *string  `json:"mistral_format"`
			UpstreamURL       *string  `json:"upstream_url"`
			UpstreamPath      *string  `json:"upstream_path"`
		} `json:"options"`
	} `json:"model"`
	Logging struct {
		LogStatistics bool `json:"log_statistics"`
		LogPayloads   bool `json:"log_payloads"`
	} `json:"logging"`
	ResponseStreaming  string  `json:"response_streaming"`
	MaxRequestBodySize float64 `json:"max_request_body_size"`
	ModelNameHeader    bool    `json:"model_name_header"`
}
