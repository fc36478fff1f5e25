package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// LLMMaxAnswer bounds an LLM answer read into memory.
const LLMMaxAnswer = 16 << 20

// LLMIntrospection is the result of LLMIntrospect.
type LLMIntrospection struct {
	Content string         // the answer's text, or its pattern match
	Model   string         // the model that answered, when it says
	Usage   map[string]any // OpenAI-shaped usage, when there is one
	Latency time.Duration
	Sent    []byte // the request body sent to the LLM
}

// LLMIntrospect asks an LLM, in one chat request (not streamed), to treat
// input under the instructions of system, as Kong's ai_introspect_body
// does for the AI transformer plugins: the configured options and header
// credential are used, the answer's first choice's content is returned,
// narrowed to the first match of pattern (a case-insensitive, multi-line
// regular expression) when one is given. A nil input is a user message
// without content, as Kong sends for a body it could not read. Errors
// carry Kong's messages.
func LLMIntrospect(ctx context.Context, client *http.Client, m *LLMModel, auth *LLMAuth, system string, input *string, pattern string) (*LLMIntrospection, error) {
	o, err := m.Resolved(nil)
	if err != nil {
		return nil, err
	}
	name := ""
	if m.Name != nil {
		name = *m.Name
	}
	wire := o.Wire(m.Provider)
	user := map[string]any{"role": "user"}
	if input != nil {
		user["content"] = *input
	}
	body := map[string]any{"messages": []any{
		map[string]any{"role": "system", "content": system},
		user,
	}, "stream": false}
	tb, err := LLMToFormat(wire, LLMRouteChat, name, body, o)
	if err != nil {
		return nil, err
	}
	if auth != nil && auth.ParamLocation != nil && *auth.ParamLocation == "body" && auth.ParamName != nil && auth.ParamValue != nil {
		tb[*auth.ParamName] = *auth.ParamValue
	}
	sent, err := json.Marshal(tb)
	if err != nil {
		return nil, err
	}
	// The transformers' call uses upstream_url as it is, query included.
	u, err := url.Parse(o.UpstreamURL)
	if o.UpstreamURL == "" {
		u, err = LLMUpstreamURL(m.Provider, LLMRouteChat, o, "/", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to introspect request with AI service: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(sent))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if auth != nil && auth.HeaderName != nil && auth.HeaderValue != nil {
		req.Header.Set(*auth.HeaderName, *auth.HeaderValue)
	}
	if m.Provider == "anthropic" && o.AnthropicVersion != "" {
		req.Header.Set("anthropic-version", o.AnthropicVersion)
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to introspect request with AI service: request to ai service failed: request failed: %w", err)
	}
	raw, rerr := io.ReadAll(io.LimitReader(res.Body, LLMMaxAnswer+1))
	res.Body.Close()
	out := &LLMIntrospection{Latency: time.Since(start), Sent: sent}
	switch {
	case rerr != nil:
		return nil, fmt.Errorf("failed to introspect request with AI service: request to ai service failed: request failed: %w", rerr)
	case len(raw) > LLMMaxAnswer:
		return nil, errors.New("failed to introspect request with AI service: request to ai service failed: answer too large")
	case res.StatusCode > 299:
		return nil, fmt.Errorf("failed to introspect request with AI service: status code %d", res.StatusCode)
	}
	conv, err := LLMFromFormat(wire, LLMRouteChat, name, raw, o)
	if err != nil {
		return nil, fmt.Errorf("failed to convert AI response to Kong format: transformation failed from type %s://%s: %w", m.Provider, LLMRouteChat, err)
	}
	var answer struct {
		Model   string         `json:"model"`
		Usage   map[string]any `json:"usage"`
		Choices []struct {
			Message *struct {
				Content *string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(conv, &answer); err != nil {
		return nil, fmt.Errorf("failed to convert AI response to JSON: %w", err)
	}
	out.Model, out.Usage = answer.Model, answer.Usage
	if len(answer.Choices) == 0 || answer.Choices[0].Message == nil || answer.Choices[0].Message.Content == nil {
		return nil, errors.New("no 'choices' in upstream AI service response")
	}
	out.Content = *answer.Choices[0].Message.Content
	if pattern != "" {
		re, err := regexp.Compile("(?im)" + pattern)
		if err != nil {
			return nil, fmt.Errorf("failed regex matching ai response: %w", err)
		}
		m := re.FindString(out.Content)
		if m == "" && !re.MatchString(out.Content) {
			return nil, errors.New("AI response did not match specified regular expression")
		}
		out.Content = m
	}
	return out, nil
}
