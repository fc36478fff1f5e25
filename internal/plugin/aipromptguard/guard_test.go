package aipromptguard

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func chat(msgs ...string) string {
	var b strings.Builder
	b.WriteString(`{"messages":[{"role":"system","content":"You run a cheese shop."}`)
	for i, m := range msgs {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		b.WriteString(`,{"role":"` + role + `","content":` + quote(m) + `}`)
	}
	b.WriteString("]}")
	return b.String()
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestCheeseShop: Kong's spec routes, through the proxy.
func TestCheeseShop(t *testing.T) {
	both := `"allow_patterns":[".*cheddar.*",".*brie.*"],"deny_patterns":[".*leicester.*",".*edam.*"]`
	deny := `"deny_patterns":[".*leicester.*",".*edam.*"]`
	for _, c := range []struct {
		name, conf, body string
		want             int
	}{
		{"permit history: last user message allowed", `{` + both + `,"allow_all_conversation_history":true}`,
			chat("I think that cheddar is the best cheese.", "No, brie is the best cheese.", "Why brie?"), 200},
		{"permit history: last user message matches nothing", `{` + both + `,"allow_all_conversation_history":true}`,
			chat("I think that cheddar or edam are the best cheeses.", "No, brie is the best cheese.", "Why?"), 400},
		{"block history: allowed words in user messages", `{` + both + `}`,
			chat("I think that cheddar is the best cheese.", "No, brie is the best cheese.", "Why brie?"), 200},
		{"deny only, history permitted: bad word only earlier", `{` + deny + `,"allow_all_conversation_history":true}`,
			chat("I think that leicester is the best cheese.", "No, cheddar is the best cheese.", "Why cheddar?"), 200},
		{"deny only, history permitted: bad word last", `{` + deny + `,"allow_all_conversation_history":true}`,
			chat("I think that leicester is the best cheese.", "No, cheddar is the best cheese.", "Why edam?"), 400},
		{"deny only, history blocked: bad word earlier", `{` + deny + `}`,
			chat("I think that leicester is the best cheese.", "No, cheddar is the best cheese.", "Why cheddar?"), 400},
		{"assistant content is not checked", `{` + deny + `}`,
			chat("Which cheese?", "No, edam is the best cheese.", "Why?"), 200},
		{"assistant content checked with match_all_roles", `{` + deny + `,"match_all_roles":true}`,
			chat("Which cheese?", "No, edam is the best cheese.", "Why?"), 400},
		{"completions prompt", `{` + deny + `}`, `{"prompt":"tell me about edam"}`, 400},
		{"deny wins over allow", `{` + both + `}`, chat("cheddar and edam"), 400},
		{"not a prompt", `{` + deny + `}`, `{"input":"x"}`, 400},
		{"multimodal user content", `{` + deny + `}`, `{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`, 400},
		{"not JSON", `{` + deny + `}`, `hello`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ai-prompt-guard": c.conf})
			res, body := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, c.body)
			if res.StatusCode != c.want {
				t.Fatalf("status %d; want %d (%s)", res.StatusCode, c.want, body)
			}
			if c.want == 400 && body != `{"error":{"message":"bad request"}}` {
				t.Errorf("body %s", body)
			}
			if c.want == 200 && proxytest.DecodeEcho(t, body).Body != c.body {
				t.Errorf("the body reached the upstream changed")
			}
		})
	}
}

// TestBadPatternIs500: a pattern that does not compile fails the requests
// whose check reaches it, not those decided before it.
func TestBadPatternIs500(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ai-prompt-guard": `{"deny_patterns":["edam","(?<=x)y"]}`})
	res, _ := g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, chat("hi"))
	if res.StatusCode != 500 {
		t.Errorf("a pattern that does not compile: %d; want 500", res.StatusCode)
	}
	res, _ = g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "application/json"}, chat("edam"))
	if res.StatusCode != 400 {
		t.Errorf("denied by the pattern before it: %d; want 400", res.StatusCode)
	}
	res, _ = g.Do(t, "POST", "/chat", map[string]string{"Content-Type": "text/plain"}, chat("hi"))
	if res.StatusCode != 400 {
		t.Errorf("a JSON body sent as text/plain (not parsed, so not a prompt): %d; want 400", res.StatusCode)
	}
}

func TestSchema(t *testing.T) {
	for _, c := range []struct {
		conf map[string]any
		want string
	}{
		{map[string]any{}, "at least one of these fields must be non-empty: 'config.allow_patterns', 'config.deny_patterns'"},
		{map[string]any{"allow_patterns": []any{strings.Repeat("a", 501)}}, "length must be at most 500"},
		{map[string]any{"deny_patterns": []any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}}, "length must be at most 10"},
		{map[string]any{"deny_patterns": []any{"a"}, "match_all_roles": true, "allow_all_conversation_history": true}, "value must be false"},
		{map[string]any{"deny_patterns": []any{"a"}, "match_all_roles": true}, ""},
	} {
		_, err := Schema.Process(c.conf, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: error %q; want %q", c.conf, got, c.want)
		}
	}
}

func FuzzPrompt(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`), false, true)
	f.Add([]byte(`{"messages":{"role":"user"}}`), true, false)
	f.Add([]byte(`{"prompt":null}`), false, false)
	f.Fuzz(func(t *testing.T, body []byte, latest, all bool) {
		var m map[string]json.RawMessage
		_ = json.Unmarshal(body, &m)
		g := &Guard{latestOnly: latest, allRoles: all}
		p, err := g.prompt(m)
		if err != nil && p != "" {
			t.Fatalf("prompt %q with an error", p)
		}
	})
}

// BenchmarkGuard is a chat request of three turns checked against two
// deny and two allow patterns (body read included).
func BenchmarkGuard(b *testing.B) {
	inst, _ := New(map[string]any{"allow_patterns": []any{".*cheddar.*", ".*brie.*"}, "deny_patterns": []any{".*leicester.*", ".*edam.*"}},
		plugin.Deps{})
	g := inst.(*Guard)
	body := chat("I think that cheddar is the best cheese.", "No, brie is the best cheese.", "Why brie?")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/chat", strings.NewReader(body))
		c := &plugin.Ctx{Request: r}
		g.Access(c)
		if c.Exited() != nil {
			b.Fatal("refused")
		}
	}
}
