package aipromptdecorator_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sluice/internal/plugin/aipromptdecorator"
	"sluice/internal/proxytest"
)

const conf = `{"prompts":{
 "prepend":[{"role":"system","content":"Give me answers in French language."},{"role":"user","content":"Consider you are a mathematician."}],
 "append":[{"content":"Give me the answer in JSON format."}]}}`

// TestDecorates: configured messages go before and after the request's,
// which are kept byte for byte with every other member of the body.
func TestDecorates(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ai-prompt-decorator": conf})
	in := `{"model":"gpt-4o","temperature":0.5,"tools":[],"messages":[{"role":"system","content":"You are a mathematician."},` +
		`{"role":"user","content":[{"type":"text","text":"What is 1 + 1?"}]}]}`
	res, body := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, in)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	e := proxytest.DecodeEcho(t, body)
	var got struct {
		Model       string            `json:"model"`
		Temperature float64           `json:"temperature"`
		Tools       json.RawMessage   `json:"tools"`
		Messages    []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(e.Body), &got); err != nil {
		t.Fatalf("upstream body %q: %v", e.Body, err)
	}
	want := []string{
		`{"role":"system","content":"Give me answers in French language."}`,
		`{"role":"user","content":"Consider you are a mathematician."}`,
		`{"role":"system","content":"You are a mathematician."}`,
		`{"role":"user","content":[{"type":"text","text":"What is 1 + 1?"}]}`,
		`{"role":"system","content":"Give me the answer in JSON format."}`,
	}
	if len(got.Messages) != len(want) {
		t.Fatalf("%d messages upstream; want %d: %s", len(got.Messages), len(want), e.Body)
	}
	for i := range want {
		if string(got.Messages[i]) != want[i] {
			t.Errorf("message %d = %s; want %s", i, got.Messages[i], want[i])
		}
	}
	if got.Model != "gpt-4o" || got.Temperature != 0.5 || string(got.Tools) != "[]" {
		t.Errorf("other members changed: %s", e.Body)
	}
	if cl := e.Headers.Get("Content-Length"); cl != "" && cl != itoa(len(e.Body)) {
		t.Errorf("Content-Length %s for a %d-byte body", cl, len(e.Body))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRefusesNonChat(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ai-prompt-decorator": conf})
	for _, in := range []string{`{"anything":[{"random":"data"}]}`, `{"messages":[]}`, `not json`, `{"prompt":"hi"}`} {
		res, body := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, in)
		if res.StatusCode != 400 || body != `{"error":{"message":"this LLM route only supports llm/chat type requests"}}` {
			t.Errorf("%s: %d %s", in, res.StatusCode, body)
		}
	}
	res, body := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "text/plain"}, `{"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 400 || !strings.Contains(body, "llm/chat type requests") {
		t.Errorf("a JSON body sent as text/plain: %d %s; want 400 (Kong parses by Content-Type)", res.StatusCode, body)
	}
	res, body = g.Do(t, "POST", "/chat", nil, `{"messages":[{"role":"user","content":"<x> & y"}]}`)
	if res.StatusCode != 200 || !strings.Contains(proxytest.DecodeEcho(t, body).Body, `"<x> & y"`) {
		t.Errorf("no Content-Type (JSON assumed), HTML characters kept: %d %s", res.StatusCode, body)
	}
	big := `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 9000) + `"}]}`
	if res, _ := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, big); res.StatusCode != 400 {
		t.Errorf("a 9 KB body over max_request_body_size 8192: %d; want 400", res.StatusCode)
	}
}

func TestSchema(t *testing.T) {
	for _, c := range []struct {
		conf string
		want string
	}{
		{`{}`, "at least one of these fields must be non-empty: 'config.prompts.prepend', 'config.prompts.append'"},
		{`{"prompts":{"prepend":[],"append":[]}}`, "at least one of these fields must be non-empty"},
		{`{"prompts":{"prepend":[{"role":"tool","content":"x"}]}}`, "expected one of: system, assistant, user"},
		{`{"prompts":{"append":[{"content":""}]}}`, "length must be at least 1"},
		{`{"prompts":{"append":[{"content":"` + strings.Repeat("x", 501) + `"}]}}`, "length must be at most 500"},
		{`{"prompts":{"prepend":[{"content":"a"}]},"max_request_body_size":0}`, "value must be greater than 0"},
		{`{"prompts":{"append":[{"content":"a"}]}}`, ""},
	} {
		var in map[string]any
		if err := json.Unmarshal([]byte(c.conf), &in); err != nil {
			t.Fatal(err)
		}
		_, err := aipromptdecorator.Schema.Process(in, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: error %q; want %q", c.conf, got, c.want)
		}
	}
}
