package plugin

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"sluice/internal/model"
)

// What Kong's AI transformer plugins (ai-request-transformer,
// ai-response-transformer) share: their config, checks, HTTP client and
// log statistics.

// AITransformerFields are the config fields of Kong's AI transformer
// plugins (the response transformer adds one), prompt described by
// promptHelp.
func AITransformerFields(promptHelp string) []*model.Field {
	port := func(name string) *model.Field {
		return &model.Field{Name: name, Type: model.TypeInteger, Between: []float64{0, 65535}}
	}
	return []*model.Field{
		{Name: "prompt", Type: model.TypeString, Required: true, Description: promptHelp},
		{Name: "transformation_extract_pattern", Type: model.TypeString,
			Description: "Defines the regular expression that must match to indicate a successful AI transformation at the request phase. The first match will be set as the outgoing body. If the AI service's response doesn't match this pattern, it is marked as a failure."},
		{Name: "http_timeout", Type: model.TypeInteger, Required: true, Default: 60000},
		{Name: "https_verify", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
		model.HostField("http_proxy_host"), port("http_proxy_port"),
		model.HostField("https_proxy_host"), port("https_proxy_port"),
		{Name: "llm", Type: model.TypeRecord, Required: true, Fields: LLMFields(),
			Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: func(rec map[string]any) ([]string, map[string]any) {
				return LLMChecks(rec), nil
			}}}}},
	}
}

// AITransformerChecks are the AI transformers' entity checks, with
// Kong's messages.
func AITransformerChecks(rec map[string]any) ([]string, map[string]any) {
	var ent []string
	fields := map[string]any{}
	if llm, _ := rec["llm"].(map[string]any); llm != nil && llm["route_type"] != nil && llm["route_type"] != LLMRouteChat {
		ent = append(ent, "'config.llm.route_type' must be 'llm/v1/chat' for AI transformer plugins")
		fields["llm"] = map[string]any{"route_type": "value must be llm/v1/chat"}
	}
	for _, pair := range [][2]string{{"http_proxy_host", "http_proxy_port"}, {"https_proxy_host", "https_proxy_port"}} {
		if (rec[pair[0]] == nil) != (rec[pair[1]] == nil) {
			ent = append(ent, fmt.Sprintf("all or none of these fields must be set: 'config.%s', 'config.%s'", pair[0], pair[1]))
		}
	}
	if len(fields) == 0 {
		fields = nil
	}
	return ent, fields
}

// AITransformerConfig is an AI transformer's decoded config record.
type AITransformerConfig struct {
	Prompt             string   `json:"prompt"`
	Pattern            *string  `json:"transformation_extract_pattern"`
	HTTPTimeout        float64  `json:"http_timeout"`
	HTTPSVerify        bool     `json:"https_verify"`
	MaxRequestBodySize float64  `json:"max_request_body_size"`
	HTTPProxyHost      *string  `json:"http_proxy_host"`
	HTTPProxyPort      *float64 `json:"http_proxy_port"`
	HTTPSProxyHost     *string  `json:"https_proxy_host"`
	HTTPSProxyPort     *float64 `json:"https_proxy_port"`
	LLM                struct {
		Auth    *LLMAuth   `json:"auth"`
		Model   LLMModel   `json:"model"`
		Logging LLMLogging `json:"logging"`
	} `json:"llm"`
}

// AITransformer is what an AI transformer instance holds besides its
// config: its id, its HTTP client and its logger.
type AITransformer struct {
	ID     string
	Client *http.Client
	Log    *slog.Logger
	tr     *http.Transport
}

// NewAITransformer decodes rec into conf (a struct holding an
// AITransformerConfig, reached by base) and returns the instance's id,
// client and logger.
func NewAITransformer(rec map[string]any, deps Deps, conf any, base func() *AITransformerConfig) (AITransformer, error) {
	if err := model.Decode(rec, conf); err != nil {
		return AITransformer{}, err
	}
	t := AITransformer{ID: deps.PluginID, Log: deps.Logger}
	if t.Log == nil {
		t.Log = slog.Default()
	}
	t.Client, t.tr = newAITransformerClient(base())
	return t, nil
}

// Close drops the instance's idle connections.
func (t *AITransformer) Close() { t.tr.CloseIdleConnections() }

// newAITransformerClient is the HTTP client of an AI transformer's calls: its timeout,
// TLS verification and proxies (always reached over plain HTTP, as Kong).
func newAITransformerClient(c *AITransformerConfig) (*http.Client, *http.Transport) {
	proxy := func(host *string, port *float64) *url.URL {
		if host == nil || port == nil {
			return nil
		}
		return &url.URL{Scheme: "http", Host: *host + ":" + strconv.Itoa(int(*port))}
	}
	httpProxy, httpsProxy := proxy(c.HTTPProxyHost, c.HTTPProxyPort), proxy(c.HTTPSProxyHost, c.HTTPSProxyPort)
	tr := &http.Transport{
		MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: !c.HTTPSVerify}, //nolint:gosec // Kong's https_verify = false
		Proxy: func(r *http.Request) (*url.URL, error) {
			if r.URL.Scheme == "https" {
				return httpsProxy, nil
			}
			return httpProxy, nil
		},
	}
	return &http.Client{Transport: tr, Timeout: time.Duration(c.HTTPTimeout) * time.Millisecond,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, tr
}

// LogAIStats puts Kong's ai.<plugin> analytics of an introspection on the
// log entry and records the call for the metrics plugins.
func LogAIStats(c *Ctx, pluginName, pluginID string, m *LLMModel, payloads bool, res *LLMIntrospection) {
	name := ""
	if m.Name != nil {
		name = *m.Name
	}
	prompt, _ := model.Number(res.Usage["prompt_tokens"])
	compl, _ := model.Number(res.Usage["completion_tokens"])
	total, ok := model.Number(res.Usage["total_tokens"])
	if !ok {
		total = prompt + compl
	}
	ms := res.Latency.Milliseconds()
	tpot := int64(0)
	if compl > 0 {
		tpot = int64(math.Floor(float64(ms) / compl))
	}
	usage := map[string]any{"prompt_tokens": prompt, "completion_tokens": compl, "total_tokens": total, "time_per_token": tpot}
	cost := 0.0
	if o := m.Options; o != nil && o.InputCost != nil && o.OutputCost != nil {
		cost = (prompt**o.InputCost + compl**o.OutputCost) / 1e6
		usage["cost"] = cost
	}
	respModel := res.Model
	if respModel == "" {
		respModel = name
	}
	key := "ai." + pluginName
	c.SetSerializeValue(key+".meta", map[string]any{"plugin_id": pluginID, "provider_name": m.Provider,
		"request_model": name, "response_model": respModel, "llm_latency": ms}, SerializeSet)
	c.SetSerializeValue(key+".usage", usage, SerializeSet)
	if payloads {
		c.SetSerializeValue(key+".payload", map[string]any{"request": string(res.Sent), "response": res.Content}, SerializeSet)
	}
	c.AddAIUsage(AIUsage{Provider: m.Provider, Model: name, PromptTokens: prompt, CompletionTokens: compl,
		TotalTokens: total, Cost: cost, LatencyMS: ms})
}
