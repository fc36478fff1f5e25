package plugin

import (
	"encoding/json"
	"net/http"
)

// Helpers shared by the AI plugins (Kong's kong/llm modules).

// LLMBodyLimit is the most of a request body an AI plugin reads, given
// its max_request_body_size: Kong reads a body up to its
// client_body_buffer_size (8 KiB) from memory whatever that setting says,
// and a larger one (spooled to a file) only up to it.
func LLMBodyLimit(v any) int64 {
	n := int64(8192)
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		n = int64(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			n = i
		}
	}
	return max(n, 8192)
}

// LLMError is the AI plugins' error answer: {"error":{"message":"..."}}.
func LLMError(status int, msg string) *Exit {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	return &Exit{Status: status, Body: b, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
}

// LLMBody reads a request body as a JSON object, its members left
// encoded; nil when it is larger than limit, not JSON or not an object.
func LLMBody(r *http.Request, limit int64) map[string]json.RawMessage {
	raw, complete := ReadBody(r, limit)
	var body map[string]json.RawMessage
	if !complete || len(raw) == 0 || json.Unmarshal(raw, &body) != nil {
		return nil
	}
	return body
}
