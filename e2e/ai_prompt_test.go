package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAIPromptChain runs the binary with a kong.yml that puts the three AI
// prompt plugins on one route: a templated request is rendered (template,
// 773), decorated (decorator, 772), then checked (guard, 771) before it
// reaches the upstream.
func TestAIPromptChain(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "llm")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: llm
  url: ${UPSTREAM}
  routes:
  - name: chat
    paths: [/chat]
    plugins:
    - name: ai-prompt-template
      config:
        templates:
        - name: dev
          template: '{"messages":[{"role":"user","content":"Write {{thing}}"}]}'
    - name: ai-prompt-decorator
      config:
        prompts:
          prepend:
          - content: Be brief.
    - name: ai-prompt-guard
      config:
        deny_patterns: [".*forbidden.*"]
`, map[string]string{"UPSTREAM": b.url()}))
	send := func(body string) response {
		t.Helper()
		r, err := g.do(request{method: "POST", path: "/chat", headers: map[string]string{"Content-Type": "application/json"}, body: body})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := send(`{"messages":"{template://dev}","properties":{"thing":"a poem"}}`)
	if r.status != 200 {
		t.Fatalf("templated request: %d %s", r.status, r.body)
	}
	var e echo
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if want := `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write a poem"}]}`; e.Body != want {
		t.Errorf("upstream body %s; want %s", e.Body, want)
	}
	r = send(`{"messages":"{template://dev}","properties":{"thing":"forbidden words"}}`)
	if r.status != 400 || string(r.body) != `{"error":{"message":"bad request"}}` {
		t.Errorf("a rendered prompt the guard denies: %d %s", r.status, r.body)
	}
	r = send(`{"messages":"{template://nope}"}`)
	if r.status != 400 || string(r.body) != `{"error":{"message":"could not find template name [nope]"}}` {
		t.Errorf("unknown template: %d %s", r.status, r.body)
	}
}

// TestAIProxy runs the binary with ai-proxy in front of a fake OpenAI:
// the route answers in OpenAI's shape with the configured model, the
// configured key replaces the client's, and the prompt plugins run first.
func TestAIProxy(t *testing.T) {
	t.Parallel()
	var got struct {
		auth string
		body map[string]any
	}
	done := make(chan struct{}, 1)
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.auth = r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Deux."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`))
		done <- struct{}{}
	}))
	t.Cleanup(llm.Close)
	b := newBackend(t, "unused")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: ai
  url: ${UPSTREAM}
  routes:
  - name: chat
    paths: [/chat]
    plugins:
    - name: ai-prompt-decorator
      config:
        prompts:
          prepend:
          - content: Answer in French.
    - name: ai-proxy
      config:
        route_type: llm/v1/chat
        auth:
          header_name: Authorization
          header_value: Bearer sk-configured
        model:
          provider: openai
          name: gpt-4o
          options:
            upstream_url: ${LLM}/v1/chat/completions
            max_tokens: 64
`, map[string]string{"UPSTREAM": b.url(), "LLM": llm.URL}))
	r, err := g.do(request{method: "POST", path: "/chat", headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer client"},
		body: `{"messages":[{"role":"user","content":"1+1?"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || !strings.Contains(string(r.body), `"content":"Deux."`) || r.header.Get("X-Kong-LLM-Model") != "openai/gpt-4o" {
		t.Fatalf("answer %d %s (%v)", r.status, r.body, r.header)
	}
	<-done
	if got.auth != "Bearer sk-configured" || got.body["model"] != "gpt-4o" || got.body["max_tokens"] != 64.0 ||
		!strings.Contains(fmt.Sprint(got.body["messages"]), "Answer in French.") {
		t.Errorf("provider got Authorization %q, body %v", got.auth, got.body)
	}
}
