package plugin

import (
	"fmt"

	"sluice/internal/model"
)

// The config of an LLM call, shared by the AI plugins that call one
// (Kong's kong/llm/schemas: route_type, auth, model and logging).

// llmProviders are Kong 3.9's; llmSupported lists those sluice can call.
var (
	llmProviders = []any{"openai", "azure", "anthropic", "cohere", "mistral", "llama2", "gemini", "bedrock"}
	llmSupported = map[string]bool{"openai": true, "azure": true, "anthropic": true, "cohere": true, "mistral": true, "llama2": true}
)

func llmStr(name string) *model.Field { return &model.Field{Name: name, Type: model.TypeString} }

func llmSecret(name string) *model.Field {
	return &model.Field{Name: name, Type: model.TypeString, Referenceable: true, Encrypted: true}
}

// LLMFields returns, new on each call, the fields of Kong's LLM record:
// route_type, auth, model and logging.
func LLMFields() []*model.Field {
	return []*model.Field{
		{Name: "route_type", Type: model.TypeString, Required: true, OneOf: []any{LLMRouteChat, LLMRouteCompletions, LLMRoutePreserve},
			Description: "The model's operation implementation, for this provider."},
		{Name: "auth", Type: model.TypeRecord, Fields: []*model.Field{
			{Name: "header_name", Type: model.TypeString, Referenceable: true},
			llmSecret("header_value"),
			{Name: "param_name", Type: model.TypeString, Referenceable: true},
			llmSecret("param_value"),
			{Name: "param_location", Type: model.TypeString, OneOf: []any{"query", "body"}},
			{Name: "gcp_use_service_account", Type: model.TypeBoolean, Default: false},
			{Name: "gcp_service_account_json", Type: model.TypeString, Referenceable: true},
			llmSecret("aws_access_key_id"),
			llmSecret("aws_secret_access_key"),
			{Name: "allow_override", Type: model.TypeBoolean, Default: false},
		}},
		{Name: "model", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			{Name: "provider", Type: model.TypeString, Required: true, OneOf: llmProviders},
			llmStr("name"),
			{Name: "options", Type: model.TypeRecord, Fields: []*model.Field{
				{Name: "max_tokens", Type: model.TypeInteger, Default: 256},
				{Name: "input_cost", Type: model.TypeNumber, Gt: model.Float(0)},
				{Name: "output_cost", Type: model.TypeNumber, Gt: model.Float(0)},
				{Name: "temperature", Type: model.TypeNumber, Between: []float64{0, 5}},
				{Name: "top_p", Type: model.TypeNumber, Between: []float64{0, 1}},
				{Name: "top_k", Type: model.TypeInteger, Between: []float64{0, 500}},
				llmStr("anthropic_version"),
				llmStr("azure_instance"),
				{Name: "azure_api_version", Type: model.TypeString, Default: "2023-05-15"},
				llmStr("azure_deployment_id"),
				{Name: "llama2_format", Type: model.TypeString, OneOf: []any{"raw", "openai", "ollama"}},
				{Name: "mistral_format", Type: model.TypeString, OneOf: []any{"openai", "ollama"}},
				model.URLField("upstream_url"),
				llmStr("upstream_path"),
				{Name: "gemini", Type: model.TypeRecord, Fields: []*model.Field{llmStr("api_endpoint"), llmStr("project_id"), llmStr("location_id")},
					Checks: []*model.Check{{MutuallyRequired: []string{"api_endpoint", "project_id", "location_id"}}}},
				{Name: "bedrock", Type: model.TypeRecord, Fields: []*model.Field{llmStr("aws_region")}},
			}},
		}},
		{Name: "logging", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
			{Name: "log_statistics", Type: model.TypeBoolean, Required: true, Default: false},
			{Name: "log_payloads", Type: model.TypeBoolean, Required: true, Default: false},
		}},
	}
}

// LLMChecks are Kong's entity checks of an LLM record (the llm schema's,
// on the record holding route_type, auth, model and logging), in Kong's
// order, with a refusal of the providers sluice cannot call.
func LLMChecks(rec map[string]any) []string {
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
	if logging["log_statistics"] == true && rec["route_type"] == LLMRouteCompletions && provider == "anthropic" {
		ent = append(ent, "anthropic does not support statistics when route_type is llm/v1/completions")
	}
	if provider != "" && !llmSupported[provider] {
		ent = append(ent, fmt.Sprintf("provider '%s' is not supported by sluice; supported: openai, azure, anthropic, cohere, mistral, llama2", provider))
	}
	return ent
}

// LLMAuth is an LLM call's credentials (the auth record).
type LLMAuth struct {
	HeaderName    *string `json:"header_name"`
	HeaderValue   *string `json:"header_value"`
	ParamName     *string `json:"param_name"`
	ParamValue    *string `json:"param_value"`
	ParamLocation *string `json:"param_location"`
	AllowOverride bool    `json:"allow_override"`
}

// LLMModelOptions is the decoded model.options record.
type LLMModelOptions struct {
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
}

// LLMModel is the decoded model record.
type LLMModel struct {
	Provider string           `json:"provider"`
	Name     *string          `json:"name"`
	Options  *LLMModelOptions `json:"options"`
}

// LLMLogging is the decoded logging record.
type LLMLogging struct {
	LogStatistics bool `json:"log_statistics"`
	LogPayloads   bool `json:"log_payloads"`
}

// Resolved returns the model options with fill applied to each string
// (nil: kept as they are).
func (m *LLMModel) Resolved(fill func(string) (string, error)) (*LLMOptions, error) {
	o := &LLMOptions{}
	mo := m.Options
	if mo == nil {
		return o, nil
	}
	o.MaxTokens, o.Temperature, o.TopP, o.TopK = mo.MaxTokens, mo.Temperature, mo.TopP, mo.TopK
	o.InputCost, o.OutputCost = mo.InputCost, mo.OutputCost
	for _, s := range []struct {
		dst *string
		src *string
	}{
		{&o.AnthropicVersion, mo.AnthropicVersion}, {&o.AzureInstance, mo.AzureInstance},
		{&o.AzureAPIVersion, mo.AzureAPIVersion}, {&o.AzureDeploymentID, mo.AzureDeploymentID},
		{&o.Llama2Format, mo.Llama2Format}, {&o.MistralFormat, mo.MistralFormat},
		{&o.UpstreamURL, mo.UpstreamURL}, {&o.UpstreamPath, mo.UpstreamPath},
	} {
		if s.src == nil {
			continue
		}
		v := *s.src
		if fill != nil {
			var err error
			if v, err = fill(v); err != nil {
				return nil, err
			}
		}
		*s.dst = v
	}
	return o, nil
}
