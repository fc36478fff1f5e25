package e2e

import (
	"encoding/json"
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
