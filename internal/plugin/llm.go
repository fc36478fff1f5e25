package plugin

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
)

// Helpers shared by the AI plugins (Kong's kong/llm modules).

// LLMBodyLimit is the most of a request body an AI plugin reads, given
// its max_request_body_size: Kong reads a body up to its
// client_body_buffer_size from memory whatever that setting says, and a
// larger one (spooled to a file) only up to it. Read it per request: the
// buffer size is set at start.
func LLMBodyLimit(v any) int64 {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		n = int64(min(x, math.MaxInt64/2))
	case json.Number:
		if i, err := x.Int64(); err == nil {
			n = i
		}
	}
	return min(max(n, ClientBodyBufferSize()), math.MaxInt64/2)
}

// LLMError is the AI plugins' error answer: {"error":{"message":"..."}}.
func LLMError(status int, msg string) *Exit {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	return &Exit{Status: status, Body: b, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
}

// LLMBody reads a request body as a JSON object, its members left
// encoded, as Kong's shared parse-request filter does: by the request's
// Content-Type (application/json when there is none), so that a JSON body
// sent as another type is not parsed; nil when it is larger than limit,
// not JSON or not an object. A urlencoded form gives its fields as JSON
// strings.
func LLMBody(r *http.Request, limit int64) map[string]json.RawMessage {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	form := strings.Contains(ct, "application/x-www-form-urlencoded")
	if ct != "" && !strings.Contains(ct, "application/json") && !form {
		return nil
	}
	raw, complete := ReadBody(r, limit)
	if !complete || len(raw) == 0 {
		return nil
	}
	var body map[string]json.RawMessage
	if form {
		body = map[string]json.RawMessage{}
		for k, v := range QueryTable(string(raw)) {
			if b, err := json.Marshal(v); err == nil {
				body[k] = b
			}
		}
		return body
	}
	if json.Unmarshal(raw, &body) != nil {
		return nil
	}
	return body
}

// AIUsage is what an AI plugin that called an LLM records for the
// metrics plugins (Kong's ai.<plugin> log data read by prometheus's
// ai_metrics): one entry per call.
type AIUsage struct {
	Provider, Model                             string
	PromptTokens, CompletionTokens, TotalTokens float64
	Cost                                        float64
	LatencyMS                                   int64
}

const ctxAIUsage = "plugin.ai_usage"

// AddAIUsage records an LLM call of this request.
func (c *Ctx) AddAIUsage(u AIUsage) {
	list, _ := c.Get(ctxAIUsage)
	l, _ := list.([]AIUsage)
	c.Set(ctxAIUsage, append(l, u))
}

// AIUsages returns the LLM calls recorded for this request.
func (c *Ctx) AIUsages() []AIUsage {
	list, _ := c.Get(ctxAIUsage)
	l, _ := list.([]AIUsage)
	return l
}
