package airequesttransformer_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sluice/internal/plugin/airequesttransformer"
	_ "sluice/internal/plugin/udplog"
	"sluice/internal/proxytest"
)

// llm is a fake OpenAI: it records the last request and answers with the
// content set.
type llm struct {
	mu      sync.Mutex
	status  int
	content string
	got     map[string]any
	auth    string
	srv     *httptest.Server
}

func newLLM(t *testing.T, status int, content string) *llm {
	l := &llm{status: status, content: content}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.got, l.auth = nil, r.Header.Get("Authorization")
		_ = json.Unmarshal(b, &l.got)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(l.status)
		c, _ := json.Marshal(l.content)
		fmt.Fprintf(w, `{"id":"c","object":"chat.completion","model":"gpt-4-0613","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":12,"total_tokens":37}}`, c)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func conf(l *llm, extra string) string {
	return `{"prompt":"You are a mathematician. Multiply all numbers in my JSON request, by 2.",` + extra + `
	 "llm":{"route_type":"llm/v1/chat","auth":{"header_name":"Authorization","header_value":"Bearer openai-key"},
	  "model":{"provider":"openai","name":"gpt-4","options":{"max_tokens":512,"temperature":0.5,"input_cost":10,"output_cost":10,
	   "upstream_url":"` + l.srv.URL + `/v1/chat/completions"}},"logging":{"log_statistics":true}}}`
}

const body = `{"persons":[{"name":"Kong A","age":31},{"name":"Kong B","age":42}]}`
const doubled = `{"persons":[{"name":"Kong A","age":62},{"name":"Kong B","age":84}]}`

// TestTransformsBody: the LLM gets the prompt and the body, the upstream
// gets the LLM's answer with the client's Content-Type, and the log has
// the call's statistics (Kong's 02-integration spec).
func TestTransformsBody(t *testing.T) {
	l := newLLM(t, 200, doubled)
	port, logs := proxytest.UDPServer(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"ai-request-transformer": conf(l, ""),
		"udp-log":                fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, port),
	})
	res, out := g.Do(t, "POST", "/echo", map[string]string{"Content-Type": "application/json"}, body)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, out)
	}
	e := proxytest.DecodeEcho(t, out)
	if e.Body != doubled || e.Headers.Get("Content-Type") != "application/json" {
		t.Errorf("upstream got %q (%s); want the LLM's answer as JSON", e.Body, e.Headers.Get("Content-Type"))
	}
	// The client's Content-Type is kept, whatever it is.
	_, out = g.Do(t, "POST", "/echo", map[string]string{"Content-Type": "text/plain"}, body)
	if e := proxytest.DecodeEcho(t, out); e.Headers.Get("Content-Type") != "text/plain" || e.Body != doubled {
		t.Errorf("text/plain request: upstream got %q (%s)", e.Body, e.Headers.Get("Content-Type"))
	}
	proxytest.Receive(t, logs) // that request's log entry
	l.mu.Lock()
	msgs := fmt.Sprint(l.got["messages"])
	model, maxTokens, auth := l.got["model"], l.got["max_tokens"], l.auth
	l.mu.Unlock()
	if msgs != "[map[content:You are a mathematician. Multiply all numbers in my JSON request, by 2. role:system] map[content:"+body+" role:user]]" ||
		model != "gpt-4" || maxTokens != 512.0 || auth != "Bearer openai-key" {
		t.Errorf("LLM got messages %s, model %v, max_tokens %v, auth %q", msgs, model, maxTokens, auth)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(proxytest.Receive(t, logs)), &entry); err != nil {
		t.Fatal(err)
	}
	stats, _ := entry["ai"].(map[string]any)["ai-request-transformer"].(map[string]any)
	usage, _ := stats["usage"].(map[string]any)
	meta, _ := stats["meta"].(map[string]any)
	if usage["prompt_tokens"] != 25.0 || usage["completion_tokens"] != 12.0 || usage["cost"] != 0.00037 ||
		meta["request_model"] != "gpt-4" || meta["response_model"] != "gpt-4-0613" || meta["provider_name"] != "openai" {
		t.Errorf("ai.ai-request-transformer = %v", stats)
	}
}

// TestExtractPattern: with transformation_extract_pattern the whole match
// is the body (case-insensitive, multi-line); no match is a 400.
func TestExtractPattern(t *testing.T) {
	l := newLLM(t, 200, "Sure! Here is your JSON: "+doubled+".\n Can I do anything else for you?")
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"ai-request-transformer": conf(l, `"transformation_extract_pattern":"\\{((.|\\n)*)\\}",`)})
	res, out := g.Do(t, "POST", "/echo", map[string]string{"Content-Type": "application/json"}, body)
	if res.StatusCode != 200 || proxytest.DecodeEcho(t, out).Body != doubled {
		t.Errorf("%d %s", res.StatusCode, out)
	}
	g = proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"ai-request-transformer": conf(l, `"transformation_extract_pattern":"\\#*\\=",`)})
	res, out = g.Do(t, "POST", "/echo", nil, body)
	if res.StatusCode != 400 || out != `{"error":{"message":"AI response did not match specified regular expression"}}` {
		t.Errorf("no match: %d %s", res.StatusCode, out)
	}
}

// TestLLMErrors: an LLM error status is a 400 naming it, as in Kong.
func TestLLMErrors(t *testing.T) {
	for _, status := range []int{400, 500} {
		l := newLLM(t, status, "x")
		g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"ai-request-transformer": conf(l, "")})
		res, out := g.Do(t, "POST", "/echo", nil, body)
		want := fmt.Sprintf(`{"error":{"message":"failed to introspect request with AI service: status code %d"}}`, status)
		if res.StatusCode != 400 || out != want {
			t.Errorf("LLM %d: %d %s; want 400 %s", status, res.StatusCode, out, want)
		}
	}
}

func TestSchemaChecks(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{`{"llm":{"route_type":"llm/v1/completions","model":{"provider":"llama2","options":{"llama2_format":"raw","upstream_url":"http://kong"}},"logging":{}}}`,
			"'config.llm.route_type' must be 'llm/v1/chat' for AI transformer plugins"},
		{`{"prompt":"p","https_proxy_host":"proxy.test","llm":{"route_type":"llm/v1/chat","model":{"provider":"openai"},"logging":{}}}`,
			"all or none of these fields must be set: 'config.https_proxy_host', 'config.https_proxy_port'"},
		{`{"prompt":"p","llm":{"route_type":"llm/v1/chat","model":{"provider":"anthropic"},"logging":{}}}`,
			"must set 'model.options.anthropic_version' for anthropic provider"},
	} {
		var in map[string]any
		_ = json.Unmarshal([]byte(tc.conf), &in)
		_, err := airequesttransformer.Schema.Process(in, nil)
		if err == nil || !strings.Contains(fmt.Sprint(err.Fields), tc.want) {
			t.Errorf("%s: %v; want %q", tc.conf, err, tc.want)
		}
	}
}
