// Package airequesttransformer is Kong's ai-request-transformer plugin:
// before a request goes upstream, its body is sent to an LLM with the
// configured instructions, and the LLM's answer becomes the new body.
package airequesttransformer

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-request-transformer"
	Priority = 777
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}

// Schema is ai-request-transformer's config record (Kong 3.9).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields:    fields("Use this prompt to tune the LLM system/assistant message for the incoming proxy request (from the client), and what you are expecting in return."),
	Checks:    []*model.Check{{Custom: &model.CustomCheck{Fn: checks}}},
}

// fields are the config fields of Kong's AI transformer plugins (the
// response transformer adds one), prompt described by promptHelp.
func fields(promptHelp string) []*model.Field {
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
		{Name: "llm", Type: model.TypeRecord, Required: true, Fields: plugin.LLMFields(),
			Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: func(rec map[string]any) ([]string, map[string]any) {
				return plugin.LLMChecks(rec), nil
			}}}}},
	}
}

// checks are the AI transformers' entity checks, with Kong's messages.
func checks(rec map[string]any) ([]string, map[string]any) {
	var ent []string
	fields := map[string]any{}
	if llm, _ := rec["llm"].(map[string]any); llm != nil && llm["route_type"] != nil && llm["route_type"] != plugin.LLMRouteChat {
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

// Config is the decoded config record.
type Config struct {
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
		Auth    *plugin.LLMAuth   `json:"auth"`
		Model   plugin.LLMModel   `json:"model"`
		Logging plugin.LLMLogging `json:"logging"`
	} `json:"llm"`
}

// Transformer is one plugin instance.
type Transformer struct {
	conf   Config
	id     string
	client *http.Client
	tr     *http.Transport
	log    *slog.Logger
}

// New builds an instance from a processed config record.
func New(rec map[string]any, deps plugin.Deps) (any, error) {
	t := &Transformer{id: deps.PluginID, log: deps.Logger}
	if err := model.Decode(rec, &t.conf); err != nil {
		return nil, err
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.client, t.tr = newClient(t.conf)
	return t, nil
}

// newClient is the HTTP client of an AI transformer's calls: its timeout,
// TLS verification and proxies (always reached over plain HTTP, as Kong).
func newClient(c Config) (*http.Client, *http.Transport) {
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

// Close drops the instance's idle connections.
func (t *Transformer) Close() { t.tr.CloseIdleConnections() }

// Access sends the request body to the LLM and sets its answer as the
// body the upstream gets (the Content-Type is kept).
func (t *Transformer) Access(c *plugin.Ctx) {
	raw, complete := plugin.ReadBody(c.Request, plugin.LLMBodyLimit(t.conf.MaxRequestBodySize))
	if !complete {
		raw = nil // Kong's get_raw_body gives nothing for a body over the limit
	}
	pattern := ""
	if t.conf.Pattern != nil {
		pattern = *t.conf.Pattern
	}
	res, err := plugin.LLMIntrospect(c.Request.Context(), t.client, &t.conf.LLM.Model, t.conf.LLM.Auth, t.conf.Prompt, string(raw), pattern)
	if err != nil {
		t.log.Info("ai-request-transformer: " + err.Error())
		c.Terminate(plugin.LLMError(http.StatusBadRequest, err.Error()))
		return
	}
	if t.conf.LLM.Logging.LogStatistics {
		logStats(c, Name, t.id, &t.conf.LLM.Model, t.conf.LLM.Logging.LogPayloads, res)
	}
	plugin.SetRequestBody(c.Request, []byte(res.Content))
}

// logStats puts Kong's ai.<plugin> analytics of an introspection on the
// log entry and records the call for the metrics plugins.
func logStats(c *plugin.Ctx, pluginName, pluginID string, m *plugin.LLMModel, payloads bool, res *plugin.LLMIntrospection) {
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
		tpot = ms / int64(compl)
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
		"request_model": name, "response_model": respModel, "llm_latency": ms}, plugin.SerializeSet)
	c.SetSerializeValue(key+".usage", usage, plugin.SerializeSet)
	if payloads {
		c.SetSerializeValue(key+".payload", map[string]any{"request": string(res.Sent), "response": res.Content}, plugin.SerializeSet)
	}
	c.AddAIUsage(plugin.AIUsage{Provider: m.Provider, Model: name, PromptTokens: prompt, CompletionTokens: compl,
		TotalTokens: total, Cost: cost, LatencyMS: ms})
}
