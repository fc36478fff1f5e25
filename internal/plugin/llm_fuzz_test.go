package plugin

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzConvertStream feeds arbitrary provider streams to every stream
// converter: no panic, and every frame written is "data: " and JSON or
// [DONE] (or Kong's error frame).
func FuzzConvertStream(f *testing.F) {
	f.Add("anthropic", "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n")
	f.Add("openai", "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n")
	f.Add("cohere", "{\"event_type\":\"text-generation\",\"text\":\"a\"}\n{\"event_type\":\"stream-end\",\"response\":{}}\n")
	f.Add("ollama", "{\"message\":{\"content\":\"a\"}}\n{\"done\":true}\n")
	f.Add("openai", ": keep-alive\r\n\r\ndata: {\"choices\":[]}\r\n\r\nid: 5\n\ndata: [DONE]\r\n\r\n")
	f.Fuzz(func(t *testing.T, format, body string) {
		var st LLMStreamStats
		check := func(out []byte) {
			for _, fr := range strings.Split(string(out), "\n\n") {
				if fr == "" {
					continue
				}
				if !strings.HasPrefix(fr, "data: ") {
					t.Fatalf("frame %q", fr)
				}
				d := strings.TrimPrefix(fr, "data: ")
				if d != "[DONE]" && format != "openai" && !json.Valid([]byte(d)) {
					t.Fatalf("frame %q is not JSON", fr)
				}
			}
		}
		whole := convertStream(format, LLMRouteChat, "m", []byte(body), &st)
		check(whole)
		// The same stream in two reads, cut anywhere, gives the same.
		cut := len(body) / 3
		sc := &LLMStream{fmtName: format, routeType: LLMRouteChat, modelName: "m", st: &LLMStreamStats{}}
		first := sc.Feed([]byte(body[:cut]), false)
		check(first)
		second := sc.Feed([]byte(body[cut:]), true)
		check(second)
		if got := string(first) + string(second); got != string(whole) {
			t.Fatalf("%s %q: in two reads %q; whole %q", format, body, got, whole)
		}
	})
}

// FuzzFromFormat feeds arbitrary provider answers to every translator: no
// panic, and a translation is JSON.
func FuzzFromFormat(f *testing.F) {
	f.Add("anthropic", LLMRouteChat, `{"content":[{"text":"a"}],"usage":{"input_tokens":1,"output_tokens":2}}`)
	f.Add("cohere", LLMRouteChat, `{"text":"a","meta":{"billed_units":{}}}`)
	f.Add("cohere", LLMRouteCompletions, `{"generations":[{"text":"a"}]}`)
	f.Add("ollama", LLMRouteChat, `{"message":{"role":"assistant","content":"a"},"eval_count":3}`)
	f.Add("llama2-raw", LLMRouteChat, `{"data":[{"generated_text":"[INST] q [/INST] a"}]}`)
	f.Add("openai", LLMRouteCompletions, `{"choices":[]}`)
	f.Fuzz(func(t *testing.T, format, rt, body string) {
		o := &LLMOptions{}
		out, err := LLMFromFormat(format, rt, "m", []byte(body), o)
		if err == nil && !json.Valid(out) {
			t.Fatalf("%s %s: %q gave %q", format, rt, body, out)
		}
	})
}

// BenchmarkAnthropicTranslate measures the plugin's own work per
// Anthropic chat request: the request translated, the answer translated
// back.
func BenchmarkAnthropicTranslate(b *testing.B) {
	reqBody := []byte(`{"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"What is 1 + 1?"},` +
		`{"role":"assistant","content":"2"},{"role":"user","content":"And 2 + 2?"}],"temperature":0.2}`)
	answer := []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-2.1","content":[{"type":"text","text":"4."}],` +
		`"stop_reason":"end_turn","usage":{"input_tokens":30,"output_tokens":2}}`)
	mt := 256.0
	o := &LLMOptions{MaxTokens: &mt, AnthropicVersion: "2023-06-01"}
	b.ReportAllocs()
	for b.Loop() {
		var body map[string]any
		if err := json.Unmarshal(reqBody, &body); err != nil {
			b.Fatal(err)
		}
		tb, err := LLMToFormat("anthropic", LLMRouteChat, "claude-2.1", body, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(tb); err != nil {
			b.Fatal(err)
		}
		if _, err := LLMFromFormat("anthropic", LLMRouteChat, "claude-2.1", answer, o); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStreamFraming: events end at \n\n or \r\n\r\n; a comment or id
// alone converts to nothing rather than ending the stream.
func TestStreamFraming(t *testing.T) {
	sc := NewLLMStream("openai", LLMRouteChat, "m", &LLMStreamStats{})
	got := string(sc.Feed([]byte("data: {\"a\":1}\r\n\r\ndata: {\"b\""), false))
	if got != "data: {\"a\":1}\n\n" {
		t.Errorf("CRLF-framed event: %q", got)
	}
	if got := string(sc.Feed([]byte(":2}\r\n\r\n: keep-alive\n\nid: 7\n\n"), false)); got != "data: {\"b\":2}\n\n" || sc.Ended() {
		t.Errorf("rest of the event, a comment, an id: %q (ended %v)", got, sc.Ended())
	}
	if got := string(sc.Feed([]byte("data: [DONE]\n\n"), true)); got != "data: [DONE]" {
		t.Errorf("end: %q", got)
	}
}
