package aiproxy_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	_ "sluice/internal/plugin/aipromptdecorator"
	"sluice/internal/plugin/aiproxy"
	_ "sluice/internal/plugin/prometheus"
	_ "sluice/internal/plugin/udplog"
	"sluice/internal/proxytest"
)

// fakeLLM is a provider: it records each request and answers with answer.
type fakeLLM struct {
	mu      sync.Mutex
	path    string
	query   string
	header  http.Header
	body    map[string]any
	status  int
	ctype   string
	answer  string
	srv     *httptest.Server
	gzipped bool
}

func newLLM(t *testing.T, status int, ctype, answer string) *fakeLLM {
	f := &fakeLLM{status: status, ctype: ctype, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.path, f.query, f.header = r.URL.Path, r.URL.RawQuery, r.Header.Clone()
		f.body = nil
		_ = json.Unmarshal(b, &f.body)
		gz := f.gzipped
		f.mu.Unlock()
		w.Header().Set("Content-Type", f.ctype)
		w.Header().Set("Set-Cookie", "provider=1")
		if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(f.status)
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(f.answer))
			_ = zw.Close()
			return
		}
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(f.answer))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// gateway serves ai-proxy with conf (JSON) and, when port > 0, udp-log to
// that port.
func gateway(t *testing.T, conf string, port int) *proxytest.Gateway {
	plugins := map[string]string{"ai-proxy": conf}
	if port > 0 {
		plugins["udp-log"] = fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, port)
	}
	return proxytest.New(t, proxytest.EchoUpstream, plugins)
}

const openaiAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"2"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":25,"completion_tokens":12,"total_tokens":37}}`

var jsonCT = map[string]string{"Content-Type": "application/json"}

func TestOpenAIChat(t *testing.T) {
	llm := newLLM(t, 200, "application/json", openaiAnswer)
	port, logs := proxytest.UDPServer(t)
	g := gateway(t, `{"route_type":"llm/v1/chat",
	 "auth":{"header_name":"Authorization","header_value":"Bearer sk-right"},
	 "model":{"provider":"openai","name":"gpt-4o","options":{"upstream_url":"`+llm.srv.URL+`/v1/chat/completions",
	   "temperature":0.7,"input_cost":10,"output_cost":10}},
	 "logging":{"log_statistics":true,"log_payloads":true}}`, port)
	res, body := g.Do(t, "POST", "/openai?x=1", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer wrong"},
		`{"messages":[{"role":"system","content":"You are a mathematician."},{"role":"user","content":"What is 1 + 1?"}],"max_tokens":1000,"top_k":5,"n":1}`)
	if res.StatusCode != 200 || body != openaiAnswer {
		t.Fatalf("answer %d %s", res.StatusCode, body)
	}
	if got := res.Header.Get("X-Kong-LLM-Model"); got != "openai/gpt-4o" {
		t.Errorf("X-Kong-LLM-Model = %q", got)
	}
	if res.Header.Get("Set-Cookie") != "" {
		t.Error("openai's Set-Cookie reached the client")
	}
	llm.mu.Lock()
	defer llm.mu.Unlock()
	if llm.path != "/v1/chat/completions" || llm.query != "x=1" || llm.header.Get("Authorization") != "Bearer sk-right" {
		t.Errorf("upstream got %s?%s Authorization %q", llm.path, llm.query, llm.header.Get("Authorization"))
	}
	b := llm.body
	if b["model"] != "gpt-4o" || b["max_tokens"] != 256.0 || b["temperature"] != 0.7 || b["stream"] != false || b["n"] != 1.0 {
		t.Errorf("upstream body %v: want model gpt-4o, max_tokens 256 (config wins), temperature 0.7, stream false, n kept", b)
	}
	if _, ok := b["top_k"]; ok {
		t.Error("top_k reached OpenAI")
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(proxytest.Receive(t, logs)), &entry); err != nil {
		t.Fatal(err)
	}
	ai, _ := entry["ai"].(map[string]any)
	px, _ := ai["proxy"].(map[string]any)
	usage, _ := px["usage"].(map[string]any)
	meta, _ := px["meta"].(map[string]any)
	if usage["prompt_tokens"] != 25.0 || usage["completion_tokens"] != 12.0 || usage["total_tokens"] != 37.0 || usage["cost"] != 0.00037 {
		t.Errorf("ai.proxy.usage = %v; want 25/12/37, cost 0.00037", usage)
	}
	if meta["provider_name"] != "openai" || meta["request_model"] != "gpt-4o" || meta["response_model"] != "gpt-4o-2024" {
		t.Errorf("ai.proxy.meta = %v", meta)
	}
	if pl, _ := px["payload"].(map[string]any); !strings.Contains(fmt.Sprint(pl["request"]), `"max_tokens":256`) {
		t.Errorf("ai.proxy.payload = %v", pl)
	}
}

func TestRequestErrors(t *testing.T) {
	llm := newLLM(t, 200, "application/json", openaiAnswer)
	g := gateway(t, `{"route_type":"llm/v1/chat","response_streaming":"deny",
	 "model":{"provider":"openai","name":"gpt-4o","options":{"upstream_url":"`+llm.srv.URL+`"}},"logging":{}}`, 0)
	for _, tc := range []struct{ body, msg string }{
		{`not json`, "content-type header does not match request body, or bad JSON formatting"},
		{`{"anything":1}`, "request body doesn't contain valid prompts"},
		{`{"messages":[]}`, "request body doesn't contain valid prompts"},
		{`{"model":"gpt-3.5","messages":[{"role":"user","content":"x"}]}`, "cannot use own model - must be: gpt-4o"},
		{`{"prompt":"x"}`, "[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type"},
		{`{"prompt":"x","messages":[{"role":"user","content":"x"}]}`, "request matches multiple LLM request formats"},
		{`{"stream":true,"messages":[{"role":"user","content":"x"}]}`, "response streaming is not enabled for this LLM"},
	} {
		res, body := g.Do(t, "POST", "/", jsonCT, tc.body)
		want, _ := json.Marshal(map[string]map[string]string{"error": {"message": tc.msg}})
		if res.StatusCode != 400 || body != string(want) {
			t.Errorf("%s: %d %s; want 400 %s", tc.body, res.StatusCode, body, want)
		}
	}
	// "model": null is ignored.
	if res, body := g.Do(t, "POST", "/", jsonCT, `{"model":null,"messages":[{"role":"user","content":"x"}]}`); res.StatusCode != 200 {
		t.Errorf("model null: %d %s", res.StatusCode, body)
	}
}

func TestUpstreamErrorsAndBadAnswers(t *testing.T) {
	llm := newLLM(t, 401, "application/json", `{"error":{"code":"invalid_api_key"}}`)
	conf := `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4o","options":{"upstream_url":"` + llm.srv.URL + `"}},"logging":{}}`
	g := gateway(t, conf, 0)
	msg := `{"messages":[{"role":"user","content":"x"}]}`
	res, body := g.Do(t, "POST", "/", jsonCT, msg)
	if res.StatusCode != 401 || body != `{"error":{"code":"invalid_api_key"}}` || res.Header.Get("X-Kong-LLM-Model") != "" {
		t.Errorf("upstream 401: %d %s (model header %q); want it passed through", res.StatusCode, body, res.Header.Get("X-Kong-LLM-Model"))
	}
	llm.mu.Lock()
	llm.status, llm.answer = 200, `{"no":"choices"}`
	llm.mu.Unlock()
	res, body = g.Do(t, "POST", "/", jsonCT, msg)
	if res.StatusCode != 500 || body != `{"error":{"message":"transformation failed from type openai://llm/v1/chat: 'choices' not in llm/v1/chat response"}}` {
		t.Errorf("answer without choices: %d %s", res.StatusCode, body)
	}
}

func TestAnthropicChat(t *testing.T) {
	llm := newLLM(t, 200, "application/json", `{"id":"msg_1","type":"message","role":"assistant","model":"claude-2.1",`+
		`"content":[{"type":"text","text":"The sum is"},{"type":"text","text":"2."}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":4}}`)
	g := gateway(t, `{"route_type":"llm/v1/chat","auth":{"header_name":"x-api-key","header_value":"ak"},
	 "model":{"provider":"anthropic","name":"claude-2.1","options":{"anthropic_version":"2023-06-01","max_tokens":512,
	   "upstream_url":"`+llm.srv.URL+`/v1/messages"}},"logging":{}}`, 0)
	res, body := g.Do(t, "POST", "/", jsonCT, `{"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"1+1?"}],"top_p":0.5}`)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(body), &got)
	want := map[string]any{"id": "msg_1", "object": "chat.completion", "model": "claude-2.1",
		"choices": []any{map[string]any{"index": 0.0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": "The sum is\n2."}}},
		"usage":   map[string]any{"prompt_tokens": 10.0, "completion_tokens": 4.0, "total_tokens": 14.0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answer\n%v\nwant\n%v", got, want)
	}
	llm.mu.Lock()
	defer llm.mu.Unlock()
	if llm.header.Get("anthropic-version") != "2023-06-01" || llm.header.Get("x-api-key") != "ak" || llm.path != "/v1/messages" {
		t.Errorf("upstream %s headers %v", llm.path, llm.header)
	}
	b := llm.body
	if b["system"] != "Be terse." || b["max_tokens"] != 512.0 || b["model"] != "claude-2.1" || b["top_p"] != nil ||
		fmt.Sprint(b["messages"]) != "[map[content:1+1? role:user]]" {
		t.Errorf("upstream body %v", b)
	}
}

func TestAnthropicStream(t *testing.T) {
	events := []string{
		`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1","role":"assistant","usage":{"input_tokens":8,"output_tokens":1}}}`,
		`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`event: ping` + "\n" + `data: {"type":"ping"}`,
		`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"1 + 1"}}`,
		`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" = 2"}}`,
		`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
		`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":6}}`,
		`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
	}
	llm := newLLM(t, 200, "text/event-stream", strings.Join(events, "\n\n")+"\n\n")
	g := gateway(t, `{"route_type":"llm/v1/chat","model":{"provider":"anthropic","name":"claude-2.1",
	 "options":{"anthropic_version":"2023-06-01","upstream_url":"`+llm.srv.URL+`/v1/messages"}},"logging":{}}`, 0)
	res, body := g.Do(t, "POST", "/", jsonCT, `{"stream":true,"messages":[{"role":"user","content":"1+1?"}]}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if !strings.HasSuffix(body, "\n\ndata: [DONE]") {
		t.Errorf("stream does not end with data: [DONE]: %q", body)
	}
	frames := strings.Split(strings.TrimSuffix(body, "data: [DONE]"), "\n\n")
	var content strings.Builder
	n := 0
	for _, f := range frames {
		if f == "" {
			continue
		}
		n++
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(f, "data: ")), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("frame %q: %v", f, err)
		}
		content.WriteString(c.Choices[0].Delta.Content)
	}
	if n != 4 || content.String() != "1 + 1 = 2" {
		t.Errorf("%d chunks, content %q; want 4 chunks (start, block start, 2 deltas) and \"1 + 1 = 2\"", n, content.String())
	}
	llm.mu.Lock()
	defer llm.mu.Unlock()
	if llm.body["stream"] != true {
		t.Errorf("upstream body %v: want stream true", llm.body)
	}
}

func TestCohereAndGzip(t *testing.T) {
	llm := newLLM(t, 200, "application/json", `{"text":"Four.","generation_id":"g1","meta":{"billed_units":{"input_tokens":5,"output_tokens":2}}}`)
	llm.gzipped = true
	g := gateway(t, `{"route_type":"llm/v1/chat","model":{"provider":"cohere","name":"command",
	 "options":{"upstream_url":"`+llm.srv.URL+`/v1/chat","top_p":0.5}},"logging":{}}`, 0)
	res, body := g.Do(t, "POST", "/", map[string]string{"Content-Type": "application/json", "Accept-Encoding": "gzip"},
		`{"messages":[{"role":"system","content":"S"},{"role":"assistant","content":"A"},{"role":"user","content":"2+2?"}]}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	var got map[string]any
	_ = json.Unmarshal(plain, &got)
	if got["object"] != "chat.completion" || got["id"] != "g1" || fmt.Sprint(got["usage"]) != "map[completion_tokens:2 prompt_tokens:5 total_tokens:7]" ||
		!strings.Contains(string(plain), `"content":"Four."`) {
		t.Errorf("answer %s", plain)
	}
	llm.mu.Lock()
	defer llm.mu.Unlock()
	b := llm.body
	if b["message"] != "2+2?" || b["p"] != 0.5 || b["messages"] != nil ||
		fmt.Sprint(b["chat_history"]) != "[map[message:S role:USER] map[message:A role:CHATBOT]]" {
		t.Errorf("upstream body %v", b)
	}
}

func TestModelFromHeaderTemplate(t *testing.T) {
	llm := newLLM(t, 200, "application/json", openaiAnswer)
	g := gateway(t, `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"$(headers.x-model)",
	 "options":{"upstream_url":"`+llm.srv.URL+`"}},"logging":{}}`, 0)
	res, _ := g.Do(t, "POST", "/", map[string]string{"Content-Type": "application/json", "X-Model": "gpt-4o-mini"}, `{"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 200 || res.Header.Get("X-Kong-LLM-Model") != "openai/gpt-4o-mini" {
		t.Errorf("%d model %q", res.StatusCode, res.Header.Get("X-Kong-LLM-Model"))
	}
	res, body := g.Do(t, "POST", "/", jsonCT, `{"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 400 || body != `{"error":{"message":"'headers', key 'x-model' was not provided"}}` {
		t.Errorf("no header: %d %s", res.StatusCode, body)
	}
}

func TestSchemaChecks(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{`{"route_type":"llm/v1/chat","model":{"provider":"anthropic"},"logging":{}}`, "must set 'model.options.anthropic_version' for anthropic provider"},
		{`{"route_type":"llm/v1/chat","model":{"provider":"azure","options":{"azure_instance":"i"}},"logging":{}}`, "must set 'model.options.azure_deployment_id' for azure provider"},
		{`{"route_type":"llm/v1/chat","model":{"provider":"llama2","options":{"llama2_format":"raw"}},"logging":{}}`, "must set 'model.options.upstream_url' for self-hosted providers/models"},
		{`{"route_type":"llm/v1/chat","auth":{"header_name":"a"},"model":{"provider":"openai"},"logging":{}}`, "all or none of these fields must be set: 'auth.header_name', 'auth.header_value'"},
		{`{"route_type":"llm/v1/completions","model":{"provider":"anthropic","options":{"anthropic_version":"v"}},"logging":{"log_statistics":true}}`, "anthropic does not support statistics when route_type is llm/v1/completions"},
		{`{"route_type":"llm/v1/chat","model":{"provider":"gemini"},"logging":{}}`, "provider 'gemini' is not supported by sluice"},
	} {
		var in map[string]any
		_ = json.Unmarshal([]byte(tc.conf), &in)
		_, err := aiproxy.Schema.Process(in, nil)
		if err == nil || !strings.Contains(fmt.Sprint(err.Fields), tc.want) {
			t.Errorf("%s: %v; want %q", tc.conf, err, tc.want)
		}
	}
	var in map[string]any
	_ = json.Unmarshal([]byte(`{"route_type":"llm/v1/chat","model":{"provider":"openai"},"logging":{}}`), &in)
	rec, err := aiproxy.Schema.Process(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := rec["model"].(map[string]any)
	if rec["response_streaming"] != "allow" || rec["max_request_body_size"] != 8192 || rec["model_name_header"] != true || opts["provider"] != "openai" {
		t.Errorf("defaults: %v", rec)
	}
	_ = model.Float
}

// TestWithPromptDecorator: ai-prompt-decorator (priority 772) runs before
// ai-proxy (770), and the provider gets the decorated messages.
func TestWithPromptDecorator(t *testing.T) {
	llm := newLLM(t, 200, "application/json", openaiAnswer)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"ai-proxy":            `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-4o","options":{"upstream_url":"` + llm.srv.URL + `"}},"logging":{}}`,
		"ai-prompt-decorator": `{"prompts":{"prepend":[{"role":"system","content":"Answer in French."}]}}`,
	})
	if res, body := g.Do(t, "POST", "/", jsonCT, `{"messages":[{"role":"user","content":"1+1?"}]}`); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	llm.mu.Lock()
	defer llm.mu.Unlock()
	if got := fmt.Sprint(llm.body["messages"]); got != "[map[content:Answer in French. role:system] map[content:1+1? role:user]]" {
		t.Errorf("messages upstream: %s", got)
	}
}

// TestPrometheusAIMetrics: with prometheus's ai_metrics, an ai-proxy call
// with log_statistics counts the request, its tokens and its cost.
func TestPrometheusAIMetrics(t *testing.T) {
	llm := newLLM(t, 200, "application/json", openaiAnswer)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"ai-proxy": `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"gpt-prom","options":{"upstream_url":"` + llm.srv.URL + `",
		  "input_cost":10,"output_cost":10}},"logging":{"log_statistics":true}}`,
		"prometheus": `{"ai_metrics":true}`,
	})
	if res, body := g.Do(t, "POST", "/", jsonCT, `{"messages":[{"role":"user","content":"1+1?"}]}`); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	labels := `ai_provider="openai",ai_model="gpt-prom",cache_status="",vector_db="",embeddings_provider="",embeddings_model=""`
	for name, want := range map[string]float64{
		`kong_ai_llm_requests_total{` + labels + `,workspace="default"}`:                              1,
		`kong_ai_llm_cost_total{` + labels + `,workspace="default"}`:                                  0.00037,
		`kong_ai_llm_tokens_total{` + labels + `,token_type="prompt_tokens",workspace="default"}`:     25,
		`kong_ai_llm_tokens_total{` + labels + `,token_type="completion_tokens",workspace="default"}`: 12,
		`kong_ai_llm_tokens_total{` + labels + `,token_type="total_tokens",workspace="default"}`:      37,
	} {
		if got := proxytest.Gauge(t, name); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
}

// TestTimeouts: the service's read_timeout is the longest silence allowed
// from the provider, not a bound on the whole answer.
func TestTimeouts(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/silent" {
			time.Sleep(800 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i := 0; i < 6; i++ { // 600 ms in all, never 300 ms silent
			_, _ = fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"%d\"}}]}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = w.Write([]byte("data: [DONE]\n\n"))
	}))
	t.Cleanup(slow.Close)
	serve := func(path string) *proxytest.Gateway {
		echo := httptest.NewServer(proxytest.EchoUpstream)
		t.Cleanup(echo.Close)
		cfg := proxytest.Config(t, echo.URL, map[string]string{"ai-proxy": `{"route_type":"llm/v1/chat",
		  "model":{"provider":"openai","name":"m","options":{"upstream_url":"` + slow.URL + path + `"}},"logging":{}}`})
		cfg.Services[0].ReadTimeout = 300
		return proxytest.Serve(t, cfg)
	}
	res, body := serve("/talkative").Do(t, "POST", "/", jsonCT, `{"stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 200 || !strings.Contains(body, `"content":"5"`) || !strings.HasSuffix(body, "data: [DONE]") {
		t.Errorf("a 600 ms stream with read_timeout 300 ms: %d %q", res.StatusCode, body)
	}
	res, body = serve("/silent").Do(t, "POST", "/", jsonCT, `{"messages":[{"role":"user","content":"x"}]}`)
	if res.StatusCode != 502 {
		t.Errorf("800 ms of silence with read_timeout 300 ms: %d %s; want 502", res.StatusCode, body)
	}
}

// TestStreamsAsItComes: the client gets the first converted event while
// the provider is still generating (the provider sends the rest only once
// the client has the first), and the log has the stream's statistics.
func TestStreamsAsItComes(t *testing.T) {
	firstSeen := make(chan struct{})
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		// The first event arrives in two pieces.
		_, _ = io.WriteString(w, `data: {"choices":[{"delta":{"content":"Hel`)
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(w, `lo"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
		case <-time.After(5 * time.Second):
			return // the client never saw it: the answer was buffered
		}
		_, _ = io.WriteString(w, `data: {"choices":[{"delta":{"content":" world"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`+"\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(llm.Close)
	port, logs := proxytest.UDPServer(t)
	g := gateway(t, `{"route_type":"llm/v1/chat","model":{"provider":"openai","name":"m","options":{"upstream_url":"`+llm.URL+`"}},
	  "logging":{"log_statistics":true}}`, port)
	req, _ := http.NewRequest("POST", g.URL+"/", strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Content-Length") != "" {
		t.Errorf("headers %v", res.Header)
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "Hello") {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before the first event: %q, %v", got.String(), err)
		}
	}
	close(firstSeen)
	rest, _ := io.ReadAll(res.Body)
	got.Write(rest)
	if !strings.HasSuffix(got.String(), "data: [DONE]") || !strings.Contains(got.String(), `" world"`) {
		t.Errorf("stream %q", got.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(proxytest.Receive(t, logs)), &entry); err != nil {
		t.Fatal(err)
	}
	usage := entry["ai"].(map[string]any)["proxy"].(map[string]any)["usage"].(map[string]any)
	if usage["prompt_tokens"] != 3.0 || usage["completion_tokens"] != 2.0 {
		t.Errorf("ai.proxy.usage %v; want the provider's 3 and 2", usage)
	}
}
