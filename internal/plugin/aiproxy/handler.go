package aiproxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// maxAnswer bounds an LLM answer read into memory (a bigger one is a 502).
const maxAnswer = 16 << 20

// AIProxy is one ai-proxy plugin instance.
type AIProxy struct {
	conf   Config
	id     string
	client *http.Client
	tr     *http.Transport
	log    *slog.Logger
}

// New builds an instance from a processed config record.
func New(rec map[string]any, deps plugin.Deps) (any, error) {
	p := &AIProxy{id: deps.PluginID, log: deps.Logger}
	if err := model.Decode(rec, &p.conf); err != nil {
		return nil, err
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.tr = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true}
	p.client = &http.Client{Transport: p.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return p, nil
}

// Close drops the instance's idle connections to the provider.
func (p *AIProxy) Close() { p.tr.CloseIdleConnections() }

// llmError answers an AI error ({"error":{"message":...}}).
func llmError(c *plugin.Ctx, status int, msg string) { c.Terminate(plugin.LLMError(status, msg)) }

// Access checks the client's request, sends it to the provider in the
// provider's format and answers with the provider's answer in OpenAI's.
func (p *AIProxy) Access(c *plugin.Ctx) {
	start := time.Now()
	body, raw := p.readBody(c)
	if body == nil {
		llmError(c, http.StatusBadRequest, "content-type header does not match request body, or bad JSON formatting")
		return
	}
	o, name, err := p.resolve(c)
	if err != nil {
		llmError(c, http.StatusBadRequest, err.Error())
		return
	}
	msgs, _ := body["messages"].([]any)
	_, isPrompt := body["prompt"].(string)
	if len(msgs) == 0 && !isPrompt {
		llmError(c, http.StatusBadRequest, "request body doesn't contain valid prompts")
		return
	}
	if name == "" {
		if m, ok := body["model"].(string); ok {
			name = m
		}
	}
	if m, ok := body["model"].(string); ok && m != "" && m != name {
		llmError(c, http.StatusBadRequest, "cannot use own model - must be: "+name)
		return
	}
	if name == "" {
		llmError(c, http.StatusBadRequest, "model parameter not found in request, nor in gateway configuration")
		return
	}
	rt := p.conf.RouteType
	if rt != plugin.LLMRoutePreserve {
		format := plugin.LLMRouteChat
		if len(msgs) > 0 && isPrompt {
			llmError(c, http.StatusBadRequest, "request matches multiple LLM request formats")
			return
		}
		if isPrompt {
			format = plugin.LLMRouteCompletions
		}
		if format != rt {
			llmError(c, http.StatusBadRequest, fmt.Sprintf("[%s] message format is not compatible with [%s] route type", format, rt))
			return
		}
	}
	stream := plugin.LLMStreamFlag(body) || p.conf.ResponseStreaming == "always"
	if stream {
		body["stream"] = true
		if p.conf.ResponseStreaming == "deny" {
			llmError(c, http.StatusBadRequest, "response streaming is not enabled for this LLM")
			return
		}
	}
	provider := p.conf.Model.Provider
	wire := o.Wire(provider)
	if a := p.conf.Auth; a != nil && a.ParamLocation != nil && *a.ParamLocation == "body" && a.ParamName != nil && a.ParamValue != nil {
		if _, sent := body[*a.ParamName]; !sent || !a.AllowOverride {
			body[*a.ParamName] = *a.ParamValue
		}
	}
	out := raw
	if rt != plugin.LLMRoutePreserve {
		tb, err := plugin.LLMToFormat(wire, rt, name, body, o)
		var plain plugin.LLMPlainError
		switch {
		case errors.As(err, &plain):
			c.Terminate(&plugin.Exit{Status: http.StatusBadRequest, Body: []byte(plain),
				Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}})
			return
		case err != nil:
			llmError(c, http.StatusBadRequest, err.Error())
			return
		}
		if out, err = json.Marshal(tb); err != nil {
			llmError(c, http.StatusBadRequest, fmt.Sprintf("error transforming to %s://%s", provider, rt))
			return
		}
	}
	u, err := plugin.LLMUpstreamURL(provider, rt, o, c.Request.URL.Path, c.Query())
	if err != nil {
		p.log.Error("ai-proxy: building the upstream URL failed", "error", err)
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	q := u.Query()
	if a := p.conf.Auth; a != nil && a.ParamLocation != nil && *a.ParamLocation == "query" && a.ParamName != nil && a.ParamValue != nil {
		if !q.Has(*a.ParamName) || !a.AllowOverride {
			q.Set(*a.ParamName, *a.ParamValue)
			u.RawQuery = q.Encode()
		}
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), c.Request.Method, u.String(), bytes.NewReader(out))
	if err != nil {
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	p.upstreamHeaders(c, req, provider, o, rt != plugin.LLMRoutePreserve)
	// Kong's timeouts are the service's: connect, then read_timeout
	// between two reads (an LLM sends its headers once it has generated
	// the whole answer, unless it streams).
	connectT, readT := p.timeouts(c)
	ctx, cancel := context.WithCancel(req.Context())
	idle := time.AfterFunc(connectT+readT, cancel)
	streaming := false // the stream's reader owns ctx and idle then
	defer func() {
		if !streaming {
			idle.Stop()
			cancel()
		}
	}()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { idle.Reset(readT) },
	})
	res, err := p.client.Do(req.WithContext(ctx))
	if err != nil {
		p.log.Error("ai-proxy: calling the LLM failed", "provider", provider, "error", err)
		c.Error(http.StatusBadGateway, "An invalid response was received from the upstream server", nil)
		return
	}
	if res.StatusCode == http.StatusOK && stream {
		// Converted and sent event by event as the provider sends them
		// (a preserve route's stream as it is).
		c.Timing.Upstream = time.Since(start)
		h := plugin.AnswerHeaders(res.Header)
		h.Del("Content-Encoding")
		h.Set("Content-Type", "text/event-stream")
		p.answerHeaders(c, h, provider, name)
		st := &plugin.LLMStreamStats{KeepText: p.conf.Logging.LogPayloads}
		headersIn := c.Timing.Upstream // Kong's llm_latency: to the answer's headers
		var conv *plugin.LLMStream
		if rt != plugin.LLMRoutePreserve {
			conv = plugin.NewLLMStream(wire, rt, name, st)
		}
		streaming = true
		c.Terminate(&plugin.Exit{Status: http.StatusOK, Header: h, Stream: &sseReader{
			src:  &idleReader{r: res.Body, t: idle, d: readT},
			body: res.Body,
			conv: conv,
			end: func() {
				idle.Stop()
				cancel()
				if p.conf.Logging.LogStatistics {
					p.logStats(c, provider, name, o, headersIn, msgs, body, nil, st, true, out, nil)
				}
			},
		}})
		return
	}
	answer, rerr := io.ReadAll(io.LimitReader(&idleReader{r: res.Body, t: idle, d: readT}, maxAnswer+1))
	res.Body.Close()
	latency := time.Since(start)
	c.Timing.Upstream = latency
	if rerr != nil || len(answer) > maxAnswer {
		p.log.Error("ai-proxy: reading the LLM's answer failed", "provider", provider, "error", rerr, "bytes", len(answer))
		c.Error(http.StatusBadGateway, "An invalid response was received from the upstream server", nil)
		return
	}
	h := plugin.AnswerHeaders(res.Header)
	h.Del("Content-Encoding") // the transport decoded it
	status := res.StatusCode
	var st plugin.LLMStreamStats
	var usage map[string]any
	if status == http.StatusOK {
		if rt != plugin.LLMRoutePreserve {
			conv, err := plugin.LLMFromFormat(wire, rt, name, answer, o)
			if err != nil {
				status = http.StatusInternalServerError
				b, _ := json.Marshal(map[string]map[string]string{"error": {"message": fmt.Sprintf("transformation failed from type %s://%s: %s", provider, rt, err)}})
				conv = b
				h = http.Header{"Content-Type": {"application/json; charset=utf-8"}}
			}
			answer = conv
		}
		if status == http.StatusOK {
			p.answerHeaders(c, h, provider, name)
		}
		var m struct {
			Usage map[string]any `json:"usage"`
		}
		if json.Unmarshal(answer, &m) == nil {
			usage = m.Usage
		}
	}
	if p.conf.Logging.LogStatistics {
		p.logStats(c, provider, name, o, latency, msgs, body, usage, &st, false, out, answer)
	}
	if !stream && acceptsGzip(c.RequestHeader("Accept-Encoding")) && len(answer) > 0 {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(answer)
		_ = zw.Close()
		answer = zb.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	c.Terminate(&plugin.Exit{Status: status, Body: answer, Header: h})
}

// answerHeaders adjusts the headers of a provider's 200 answer as Kong
// does: OpenAI-style providers' cookies dropped, the model named.
func (p *AIProxy) answerHeaders(c *plugin.Ctx, h http.Header, provider, name string) {
	if provider == "openai" || provider == "azure" || provider == "mistral" {
		h.Del("Set-Cookie")
	}
	if p.conf.ModelNameHeader || c.RequestHeader("Kong-Debug") != "" {
		h.Set("X-Kong-LLM-Model", provider+"/"+name)
	}
}

// sseReader reads a provider's stream, converted (plugin.LLMStream); end runs
// once, when the stream is over or closed.
type sseReader struct {
	src  io.Reader
	body io.Closer
	conv *plugin.LLMStream
	buf  []byte
	out  []byte
	done bool
	end  func()
	once sync.Once
}

func (r *sseReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.done {
			r.once.Do(r.end)
			return 0, io.EOF
		}
		if r.buf == nil {
			r.buf = make([]byte, 16<<10)
		}
		n, err := r.src.Read(r.buf)
		last := err != nil // EOF, or the provider went away or was cut
		if r.conv == nil {
			r.out, r.done = r.buf[:n], last
			continue
		}
		r.out = r.conv.Feed(r.buf[:n], last)
		r.done = last || r.conv.Ended()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// Close closes the provider's answer and ends the stream.
func (r *sseReader) Close() error {
	err := r.body.Close()
	r.once.Do(r.end)
	return err
}

// readBody reads the client's body as Kong's get_body does, by its
// Content-Type (JSON when there is none): nil when it does not parse.
func (p *AIProxy) readBody(c *plugin.Ctx) (map[string]any, []byte) {
	ct := strings.ToLower(c.Request.Header.Get("Content-Type"))
	raw, complete := plugin.ReadBody(c.Request, plugin.LLMBodyLimit(p.conf.MaxRequestBodySize))
	if !complete {
		return nil, nil
	}
	switch {
	case ct == "" || strings.Contains(ct, "application/json"):
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil || m == nil {
			return nil, nil
		}
		return m, raw
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		return plugin.QueryTable(string(raw)), raw
	}
	return nil, nil
}

// timeouts are the route's service's connect and read timeouts (Kong
// proxies to the LLM with them), 60 s each without a service.
func (p *AIProxy) timeouts(c *plugin.Ctx) (connect, read time.Duration) {
	connect, read = 60*time.Second, 60*time.Second
	if s := c.Service; s != nil {
		if s.ConnectTimeout > 0 {
			connect = time.Duration(s.ConnectTimeout) * time.Millisecond
		}
		if s.ReadTimeout > 0 {
			read = time.Duration(s.ReadTimeout) * time.Millisecond
		}
	}
	return connect, read
}

// idleReader restarts t for d before each read: a body that sends nothing
// for d is cut.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (ir *idleReader) Read(b []byte) (int, error) {
	ir.t.Reset(ir.d)
	n, err := ir.r.Read(b)
	// Not while the answer is being written to a slow client.
	ir.t.Stop()
	return n, err
}

// upstreamHeaders copies the client's headers to the provider's request
// and sets the configured credential (the client's one stays only with
// allow_override) and Anthropic's version header.
func (p *AIProxy) upstreamHeaders(c *plugin.Ctx, req *http.Request, provider string, o *plugin.LLMOptions, transformed bool) {
	plugin.CopyRequestHeaders(req.Header, c.Request.Header)
	if transformed {
		req.Header.Set("Content-Type", "application/json")
	}
	if a := p.conf.Auth; a != nil && a.HeaderName != nil && a.HeaderValue != nil {
		if c.Request.Header.Get(*a.HeaderName) == "" || !a.AllowOverride {
			req.Header.Set(*a.HeaderName, *a.HeaderValue)
		}
	}
	if provider == "anthropic" && o.AnthropicVersion != "" {
		req.Header.Set("anthropic-version", o.AnthropicVersion)
	}
}

func acceptsGzip(v string) bool {
	for _, part := range strings.Split(v, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return true
		}
	}
	return false
}

// logStats puts Kong's ai.proxy analytics on the log entry.
func (p *AIProxy) logStats(c *plugin.Ctx, provider, name string, o *plugin.LLMOptions, latency time.Duration, msgs []any, body, usage map[string]any,
	st *plugin.LLMStreamStats, stream bool, sent, answer []byte) {
	prompt, _ := model.Number(usage["prompt_tokens"])
	compl, _ := model.Number(usage["completion_tokens"])
	if stream {
		prompt, compl = st.PromptTokens, st.CompletionTokens
		if !st.ProviderCounts {
			compl = st.Estimated
		}
	}
	if prompt == 0 && (provider == "openai" || provider == "azure" || provider == "mistral") {
		factor := 1.0
		if stream {
			factor = 1.8
		}
		prompt = math.Round(float64(countWords(msgs, body)) * factor)
	}
	total := prompt + compl
	if t, ok := model.Number(usage["total_tokens"]); ok && !stream {
		total = t
	}
	ms := latency.Milliseconds()
	tpot := int64(0)
	if compl > 0 {
		tpot = int64(math.Floor(float64(ms) / compl))
	}
	cost := 0.0
	if o.InputCost != nil && o.OutputCost != nil {
		cost = (prompt**o.InputCost + compl**o.OutputCost) / 1e6
	}
	respModel := name
	var rm struct {
		Model string `json:"model"`
	}
	if !stream && json.Unmarshal(answer, &rm) == nil && rm.Model != "" {
		respModel = rm.Model
	}
	c.AddAIUsage(plugin.AIUsage{Provider: provider, Model: name, PromptTokens: prompt, CompletionTokens: compl,
		TotalTokens: total, Cost: cost, LatencyMS: ms})
	c.SetSerializeValue("ai.proxy.meta", map[string]any{"plugin_id": p.id, "provider_name": provider,
		"request_model": name, "response_model": respModel, "llm_latency": ms}, plugin.SerializeSet)
	c.SetSerializeValue("ai.proxy.usage", map[string]any{"time_per_token": tpot, "prompt_tokens": prompt,
		"completion_tokens": compl, "total_tokens": total, "cost": cost}, plugin.SerializeSet)
	if p.conf.Logging.LogPayloads {
		resp := string(answer)
		if stream {
			b, _ := json.Marshal(map[string]any{"object": "chat.completion", "choices": []any{map[string]any{"index": 0,
				"finish_reason": st.Finish, "logprobs": nil, "message": map[string]any{"role": "assistant", "content": st.Text.String()}}},
				"usage": map[string]any{"prompt_tokens": prompt, "completion_tokens": compl, "total_tokens": prompt + compl}})
			resp = string(b)
		}
		c.SetSerializeValue("ai.proxy.payload", map[string]any{"request": string(sent), "response": resp}, plugin.SerializeSet)
	}
}

// countWords counts the whitespace-separated words of the prompt (Kong's
// token estimate for providers that send no usage).
func countWords(msgs []any, body map[string]any) int {
	n := 0
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		switch ct := mm["content"].(type) {
		case string:
			n += len(strings.Fields(ct))
		case []any:
			for _, part := range ct {
				if pm, ok := part.(map[string]any); ok {
					if t, ok := pm["text"].(string); ok {
						n += len(strings.Fields(t))
					}
				}
			}
		}
	}
	if p, ok := body["prompt"].(string); ok {
		n += len(strings.Fields(p))
	}
	return n
}
