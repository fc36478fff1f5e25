package airesponsetransformer

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/proxytest"
)

const upstreamJSON = `{"persons":[{"name":"Kong A","age":31},{"name":"Kong B","age":42}]}`

// xml is the body the LLM's instructions carry, with raw line breaks in
// the JSON string, as Kong's spec fixture has.
const xml = "<persons>\n  <person>\n    <name>Kong A</name>\n    <age>62</age>\n  </person>\n</persons>"

func fakeLLM(t *testing.T, status int, content string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		msgs, _ := req["messages"].([]any)
		if len(msgs) != 2 || !strings.Contains(fmt.Sprint(msgs[1]), upstreamJSON) {
			http.Error(w, "the upstream's answer is not the user message", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		c, _ := json.Marshal(content)
		fmt.Fprintf(w, `{"model":"gpt-4","choices":[{"index":0,"message":{"role":"assistant","content":%s}}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}`, c)
	}))
	t.Cleanup(s.Close)
	return s
}

func gateway(t *testing.T, llmURL, extra string) *proxytest.Gateway {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "client body" || r.URL.Path != "/echo" || r.URL.RawQuery != "a=1" || r.Header.Get("X-Client") != "yes" {
			http.Error(w, fmt.Sprintf("upstream got %s %s?%s %q", r.Method, r.URL.Path, r.URL.RawQuery, b), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "1")
		_, _ = io.WriteString(w, upstreamJSON)
	}))
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{"ai-response-transformer": `{"prompt":"Convert to XML.",` + extra + `
	  "llm":{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4","options":{"upstream_url":"` + llmURL + `"}},"logging":{}}}`})
	return proxytest.Serve(t, cfg)
}

var hdr = map[string]string{"X-Client": "yes"}

func TestParseInstructions(t *testing.T) {
	instr := "{\"status\":209,\"headers\":{\"content-type\":\"application/xml\"},\"body\":\"" + xml + "\"}"
	g := gateway(t, fakeLLM(t, 200, instr).URL, `"parse_llm_response_json_instructions":true,`)
	res, body := g.Do(t, "POST", "/echo?a=1", hdr, "client body")
	if res.StatusCode != 209 || body != xml || res.Header.Get("Content-Type") != "application/xml" || res.Header.Get("X-Upstream") != "1" {
		t.Errorf("%d %q %v", res.StatusCode, body, res.Header)
	}
}

func TestFlat(t *testing.T) {
	g := gateway(t, fakeLLM(t, 200, "<persons/>").URL, "")
	res, body := g.Do(t, "POST", "/echo?a=1", hdr, "client body")
	if res.StatusCode != 200 || body != "<persons/>" {
		t.Errorf("%d %q", res.StatusCode, body)
	}
}

func TestBadInstructions(t *testing.T) {
	answer := "Sure! Here's your response: {\"status\":209,\"headers\":{\"content-type\":\"application/xml\"},\"body\":\"" + xml + "\"}.\nCan I help with anything else?"
	llm := fakeLLM(t, 200, answer)
	res, body := gateway(t, llm.URL, `"parse_llm_response_json_instructions":true,`).Do(t, "POST", "/echo?a=1", hdr, "client body")
	want := `{"error":{"message":"failed to parse JSON response instructions from AI backend: Expected value but found invalid token at character 1"}}`
	if res.StatusCode != 500 || body != want {
		t.Errorf("%d %s; want 500 %s", res.StatusCode, body, want)
	}
	// Kong's spec pattern picks the JSON out of the prose.
	res, body = gateway(t, llm.URL, `"parse_llm_response_json_instructions":true,"transformation_extract_pattern":"\\{((.|\\n)*)\\}",`).
		Do(t, "POST", "/echo?a=1", hdr, "client body")
	if res.StatusCode != 209 || body != xml {
		t.Errorf("parse-out: %d %q", res.StatusCode, body)
	}
}

func TestLLMError(t *testing.T) {
	res, body := gateway(t, fakeLLM(t, 500, "x").URL, "").Do(t, "POST", "/echo?a=1", hdr, "client body")
	if res.StatusCode != 400 || body != `{"error":{"message":"failed to introspect request with AI service: status code 500"}}` {
		t.Errorf("%d %s", res.StatusCode, body)
	}
}

// FuzzInstructions: no panic on any LLM answer, and lenientJSON leaves
// valid JSON valid.
func FuzzInstructions(f *testing.F) {
	f.Add(`{"status":201,"headers":{"a":"b"},"body":"x` + "\n" + `y"}`)
	f.Add(`Sure! {"body":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _, _ = instructions(s)
		if json.Valid([]byte(s)) && !json.Valid(lenientJSON([]byte(s))) {
			t.Fatalf("%q made invalid", s)
		}
	})
}

// TestUpstreamCall: the plugin's own call keeps the escaped path and the
// query as they came, and sends the service's host without its default
// port.
func TestUpstreamCall(t *testing.T) {
	var path, query, host string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, query, host = r.URL.EscapedPath(), r.URL.RawQuery, r.Host
		_, _ = io.WriteString(w, upstreamJSON)
	}))
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{"ai-response-transformer": `{"prompt":"p",
	  "llm":{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4","options":{"upstream_url":"` + fakeLLM(t, 200, "ok").URL + `"}},"logging":{}}}`})
	g := proxytest.Serve(t, cfg)
	if res, body := g.Do(t, "GET", "/a%20b/c%2Fd?x=%20y", nil, ""); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if path != "/a%20b/c%2Fd" || query != "x=%20y" || !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("upstream got path %q query %q host %q", path, query, host)
	}
}

// TestInvalidInstructionStatus: a status that is not an HTTP status is a
// 500, not a broken answer.
func TestInvalidInstructionStatus(t *testing.T) {
	for _, st := range []string{"42", "1e300", `"209"`, "150.5"} {
		g := gateway(t, fakeLLM(t, 200, `{"status":`+st+`,"body":"x"}`).URL, `"parse_llm_response_json_instructions":true,`)
		if res, body := g.Do(t, "POST", "/echo?a=1", hdr, "client body"); res.StatusCode != 500 {
			t.Errorf("status %s: %d %s; want 500", st, res.StatusCode, body)
		}
	}
}
