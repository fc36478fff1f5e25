// Package airesponsetransformer is Kong's ai-response-transformer plugin:
// the plugin calls the upstream itself, sends the upstream's answer to an
// LLM with the configured instructions, and answers the client with the
// LLM's rewrite (optionally with the status and headers the LLM gives).
package airesponsetransformer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.9).
const (
	Name     = "ai-response-transformer"
	Priority = 768
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

// Schema is ai-response-transformer's config record (Kong 3.9).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: append(plugin.AITransformerFields("Use this prompt to tune the LLM system/assistant message for the returning proxy response (from the upstream), and what response format you are expecting."),
		&model.Field{Name: "parse_llm_response_json_instructions", Type: model.TypeBoolean, Required: true, Default: false,
			Description: "Set true to read specific response format from the LLM, and accordingly set the status code / body / headers that proxy back to the client. You need to engineer your LLM prompt to return the correct format, see plugin docs 'Overview' page for usage instructions."}),
	Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: plugin.AITransformerChecks}}},
}

// Config is the decoded config record.
type Config struct {
	plugin.AITransformerConfig
	ParseInstructions bool `json:"parse_llm_response_json_instructions"`
}

// Transformer is one plugin instance.
type Transformer struct {
	plugin.AITransformer
	conf Config
}

// New builds an instance from a processed config record.
func New(rec map[string]any, deps plugin.Deps) (any, error) {
	t := &Transformer{}
	var err error
	t.AITransformer, err = plugin.NewAITransformer(rec, deps, &t.conf, func() *plugin.AITransformerConfig { return &t.conf.AITransformerConfig })
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Access calls the upstream, has the LLM rewrite its answer and answers
// with that.
func (t *Transformer) Access(c *plugin.Ctx) {
	if c.Service == nil {
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	raw, complete := plugin.ReadBody(c.Request, plugin.LLMBodyLimit(t.conf.MaxRequestBodySize))
	if !complete {
		raw = nil
	}
	start := time.Now()
	status, header, answer, err := t.upstream(c, raw)
	c.Timing.Upstream = time.Since(start)
	if err != nil {
		t.Log.Error("ai-response-transformer: " + err.Error())
		c.Terminate(plugin.LLMError(http.StatusInternalServerError, err.Error()))
		return
	}
	pattern := ""
	if t.conf.Pattern != nil {
		pattern = *t.conf.Pattern
	}
	input := string(answer)
	res, err := plugin.LLMIntrospect(c.Request.Context(), t.Client, &t.conf.LLM.Model, t.conf.LLM.Auth, t.conf.Prompt, &input, pattern)
	if err != nil {
		t.Log.Info("ai-response-transformer: " + err.Error())
		c.Terminate(plugin.LLMError(http.StatusBadRequest, err.Error()))
		return
	}
	if t.conf.LLM.Logging.LogStatistics {
		plugin.LogAIStats(c, Name, t.ID, &t.conf.LLM.Model, t.conf.LLM.Logging.LogPayloads, res)
	}
	body := []byte(res.Content)
	if t.conf.ParseInstructions {
		st, h, b, err := instructions(res.Content)
		if errors.Is(err, errBadStatus) {
			// Kong's kong.response.exit raises on such a status.
			t.Log.Error("ai-response-transformer: the LLM's instructions give an invalid status")
			c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
			return
		}
		if err != nil {
			c.Terminate(plugin.LLMError(http.StatusInternalServerError, "failed to parse JSON response instructions from AI backend: "+err.Error()))
			return
		}
		status, body = st, b
		for k, v := range h {
			header[k] = v
		}
	}
	c.Terminate(&plugin.Exit{Status: status, Body: body, Header: header})
}

// upstream sends the request to the route's service as Kong's plugin does
// (its own HTTP call to the service's host and port, the upstream path
// and query, the client's headers and body) and returns the answer.
func (t *Transformer) upstream(c *plugin.Ctx, body []byte) (int, http.Header, []byte, error) {
	s := c.Service
	scheme := "http"
	if s.Protocol == "https" || s.Protocol == "grpcs" {
		scheme = "https"
	}
	// The upstream path is already escaped; the query goes as it came.
	path := c.UpstreamPath
	if path == "" {
		path = "/"
	}
	target := scheme + "://" + net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + path
	if q := c.Request.URL.RawQuery; q != "" || c.Request.URL.ForceQuery {
		target += "?" + q
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), c.Request.Method, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("subrequest failed: %w", err)
	}
	req.Host = s.Host // Kong's upstream_host: the port only when not the scheme's
	if !(scheme == "http" && s.Port == 80 || scheme == "https" && s.Port == 443) {
		req.Host = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	}
	plugin.CopyRequestHeaders(req.Header, c.Request.Header)
	switch {
	case c.UpstreamHost() != "":
		req.Host = c.UpstreamHost()
	case c.Route != nil && c.Route.PreserveHost:
		req.Host = c.Request.Host
	}
	res, err := t.Client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, nil, nil, fmt.Errorf("failed to connect to upstream: %w", err)
		}
		return 0, nil, nil, fmt.Errorf("subrequest failed: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, plugin.LLMMaxAnswer+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("subrequest failed: reading the answer: %w", err)
	}
	if len(b) > plugin.LLMMaxAnswer {
		return 0, nil, nil, errors.New("subrequest failed: the answer is over 16 MiB")
	}
	h := plugin.AnswerHeaders(res.Header)
	h.Del("Content-Encoding") // the transport decoded it
	return res.StatusCode, h, b, nil
}

// errBadStatus is an instructions status that is not an HTTP status.
var errBadStatus = errors.New("invalid status in the instructions")

// instructions reads the LLM's answer as Kong's parse_json_instructions
// does: a JSON object {"status", "headers", "body"} (a raw line break in a
// string is accepted, as cjson does); without "body" the whole object is
// the body, without "status" it is 200.
func instructions(s string) (int, http.Header, []byte, error) {
	var v any
	if err := json.Unmarshal(lenientJSON([]byte(s)), &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return 0, nil, nil, fmt.Errorf("Expected value but found invalid token at character %d", se.Offset) //nolint:staticcheck // cjson's message
		}
		return 0, nil, nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return 0, nil, nil, errors.New("input not table or string")
	}
	status := 200
	if v, ok := m["status"]; ok && v != nil {
		n, isNum := v.(float64)
		if !isNum || n != math.Trunc(n) || n < 100 || n > 599 {
			return 0, nil, nil, errBadStatus
		}
		status = int(n)
	}
	h := http.Header{}
	if hm, ok := m["headers"].(map[string]any); ok {
		for k, x := range hm {
			if list, ok := x.([]any); ok {
				for _, e := range list {
					h.Add(k, fmt.Sprint(e))
				}
				continue
			}
			h.Set(k, fmt.Sprint(x))
		}
	}
	var body []byte
	switch b := m["body"].(type) {
	case string:
		body = []byte(b)
	case nil:
		body, _ = json.Marshal(m)
	default:
		body, _ = json.Marshal(b)
	}
	return status, h, body, nil
}

// lenientJSON escapes raw control characters inside JSON strings, which
// Lua's cjson accepts and Go's encoding/json does not.
func lenientJSON(b []byte) []byte {
	var out []byte
	in, esc := false, false
	for i, ch := range b {
		switch {
		case esc:
			esc = false
		case in && ch == '\\':
			esc = true
		case ch == '"':
			in = !in
		case in && ch < 0x20:
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = append(out, fmt.Sprintf(`\u%04x`, ch)...)
			continue
		}
		if out != nil {
			out = append(out, ch)
		}
	}
	if out == nil {
		return b
	}
	return out
}
