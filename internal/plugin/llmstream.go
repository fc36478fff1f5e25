package plugin

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
)

// sseEvent is one server-sent event (or one line of a JSON-lines stream).
type sseEvent struct{ event, data string }

// jsonLinesStream reports whether a stream whose first bytes are b is
// JSON lines (Cohere, Ollama: the first non-space byte is '{'), not
// server-sent events, as Kong's frame_to_events decides.
func jsonLinesStream(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// splitEvents parses complete stream text: JSON lines give one event a
// line; server-sent events end at a blank line.
func splitEvents(body []byte, jsonLines bool) []sseEvent {
	var out []sseEvent
	if jsonLines {
		for _, line := range strings.Split(string(body), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, sseEvent{data: line})
			}
		}
		return out
	}
	var cur sseEvent
	have := false
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			if have {
				out = append(out, cur)
			}
			cur, have = sseEvent{}, false
			continue
		}
		// Any field (a comment, an id) makes an event, as in Kong's
		// frame_to_events; one without data converts to nothing.
		have = true
		name, val, _ := strings.Cut(line, ":")
		val = strings.TrimLeft(val, " ")
		switch name {
		case "event":
			cur.event = val
		case "data":
			cur.data = val
		}
	}
	if have {
		out = append(out, cur)
	}
	return out
}

// LLMStreamStats is what a converted stream says for the log: the text,
// the last finish reason, and the token counts the provider sent (or an
// estimate of the completion's).
type LLMStreamStats struct {
	Text                           strings.Builder
	Finish                         any
	PromptTokens, CompletionTokens float64
	Estimated                      float64 // completion tokens estimated from the text
	ProviderCounts                 bool    // the provider sent its counts
	KeepText                       bool    // collect Text (at most maxStreamText bytes)
}

// maxStreamText bounds the text of a stream kept for the log.
const maxStreamText = 1 << 20

// maxPending bounds the bytes of an unfinished event kept between reads
// of a stream.
const maxPending = 1 << 20

// LLMStream turns a provider's streamed answer into OpenAI chunks as it
// arrives, framed as Kong frames them ("data: <json>\n\n", and a final
// "data: [DONE]" without the blank line). An event cut between two reads
// waits for the rest.
type LLMStream struct {
	fmtName, routeType, modelName string
	st                            *LLMStreamStats
	id                            any
	pending                       []byte
	started, jsonLines, done      bool
}

// NewLLMStream returns a converter of a provider's stream (wire format
// fmtName, see LLMOptions.Wire) into OpenAI chunks, counting into st.
func NewLLMStream(fmtName, routeType, modelName string, st *LLMStreamStats) *LLMStream {
	return &LLMStream{fmtName: fmtName, routeType: routeType, modelName: modelName, st: st}
}

// Ended reports whether the stream was cut short (a frame that cannot be
// converted): later input is ignored.
func (sc *LLMStream) Ended() bool { return sc.done }

// convertStream converts a whole streamed answer.
func convertStream(fmtName, routeType, modelName string, body []byte, st *LLMStreamStats) []byte {
	sc := &LLMStream{fmtName: fmtName, routeType: routeType, modelName: modelName, st: st}
	return sc.Feed(body, true)
}

// feed takes the next bytes of the stream (last: there are no more) and
// returns the converted events they complete.
func (sc *LLMStream) Feed(chunk []byte, last bool) []byte {
	if sc.done {
		return nil
	}
	sc.pending = append(sc.pending, chunk...)
	if !sc.started && len(bytes.TrimSpace(sc.pending)) > 0 {
		sc.started, sc.jsonLines = true, jsonLinesStream(sc.pending)
	}
	var complete []byte
	if last {
		complete, sc.pending = sc.pending, nil
	} else {
		// Events end at a blank line, written \n\n or \r\n\r\n (JSON
		// lines at a line end).
		sep := []byte("\n\n")
		i := bytes.LastIndex(sc.pending, sep)
		if j := bytes.LastIndex(sc.pending, []byte("\r\n\r\n")); j >= 0 && j+4 > i+len(sep) {
			i, sep = j, []byte("\r\n\r\n")
		}
		if sc.jsonLines {
			i, sep = bytes.LastIndexByte(sc.pending, '\n'), []byte("\n")
		}
		if i < 0 {
			if len(sc.pending) > maxPending {
				sc.done = true
				return []byte(`data: {"error": true, "message": "empty or unsupported transformer response"}`)
			}
			return nil
		}
		complete = sc.pending[:i+len(sep)]
		sc.pending = append([]byte(nil), sc.pending[i+len(sep):]...)
	}
	events := splitEvents(complete, sc.jsonLines)
	if len(events) == 0 {
		if len(bytes.TrimSpace(complete)) > 0 {
			sc.done = true
			return []byte(`data: {"error": true, "message": "empty or unsupported transformer response"}`)
		}
		return nil
	}
	return sc.convert(events)
}

// convert converts complete events.
func (sc *LLMStream) convert(events []sseEvent) []byte {
	fmtName, routeType, modelName, st := sc.fmtName, sc.routeType, sc.modelName, sc.st
	var out bytes.Buffer
	emit := func(s string) {
		out.WriteString("data: ")
		out.WriteString(s)
		if s != "[DONE]" {
			out.WriteString("\n\n")
		}
	}
	chunk := func(v any) {
		b, err := json.Marshal(v)
		if err == nil {
			emit(string(b))
		}
	}
	delta := func(text string) {
		if st.KeepText && st.Text.Len() < maxStreamText {
			st.Text.WriteString(text[:min(len(text), maxStreamText-st.Text.Len())])
		}
		st.Estimated += math.Ceil(float64(len(strings.TrimSpace(text))) / 4)
	}
	id := sc.id
	defer func() { sc.id = id }()
	for _, ev := range events {
		switch fmtName {
		case "openai":
			if ev.data == "" {
				continue
			}
			if ev.data != "[DONE]" {
				var c struct {
					Choices []struct {
						Delta struct {
							Content string `json:"content"`
						} `json:"delta"`
						Text         string `json:"text"`
						FinishReason any    `json:"finish_reason"`
					} `json:"choices"`
					Usage *struct {
						PromptTokens     float64 `json:"prompt_tokens"`
						CompletionTokens float64 `json:"completion_tokens"`
					} `json:"usage"`
				}
				if json.Unmarshal([]byte(ev.data), &c) == nil {
					for _, ch := range c.Choices {
						delta(ch.Delta.Content + ch.Text)
						if ch.FinishReason != nil {
							st.Finish = ch.FinishReason
						}
					}
					if c.Usage != nil {
						st.PromptTokens, st.CompletionTokens, st.ProviderCounts = c.Usage.PromptTokens, c.Usage.CompletionTokens, true
					}
				}
			}
			emit(ev.data)
		case "anthropic":
			var m map[string]any
			if json.Unmarshal([]byte(ev.data), &m) != nil || routeType != LLMRouteChat {
				continue
			}
			typ, _ := m["type"].(string)
			if typ == "" {
				typ = ev.event
			}
			switch typ {
			case "message_start":
				msg, _ := m["message"].(map[string]any)
				id = msg["id"]
				if u, ok := msg["usage"].(map[string]any); ok {
					st.PromptTokens, _ = u["input_tokens"].(float64)
					st.CompletionTokens, _ = u["output_tokens"].(float64)
					st.ProviderCounts = true
				}
				chunk(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": "", "role": msg["role"]}, "index": 0, "logprobs": nil}},
					"id": id, "model": modelName, "object": "chat.completion.chunk", "system_fingerprint": nil})
			case "content_block_start", "content_block_delta":
				text := ""
				if d, ok := m["delta"].(map[string]any); ok {
					text, _ = d["text"].(string)
				}
				delta(text)
				chunk(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": text}, "index": 0, "finish_reason": nil, "logprobs": nil}},
					"id": id, "model": modelName, "object": "chat.completion.chunk"})
			case "message_delta":
				if u, ok := m["usage"].(map[string]any); ok {
					st.CompletionTokens, _ = u["output_tokens"].(float64)
				}
				if d, ok := m["delta"].(map[string]any); ok && d["stop_reason"] != nil {
					st.Finish = d["stop_reason"]
					if r, ok := d["stop_reason"].(string); ok && anthropicStop[r] != "" {
						st.Finish = anthropicStop[r]
					}
				}
			case "message_stop":
				emit("[DONE]")
			}
		case "cohere":
			var m map[string]any
			if json.Unmarshal([]byte(ev.data), &m) != nil {
				continue
			}
			switch m["event_type"] {
			case "stream-start":
				id = m["generation_id"]
				chunk(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": "", "role": "assistant"}, "index": 0}},
					"id": id, "model": modelName, "object": "chat.completion.chunk"})
			case "text-generation":
				text, _ := m["text"].(string)
				delta(text)
				if routeType == LLMRouteChat {
					chunk(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": text}, "index": 0, "finish_reason": nil, "logprobs": nil}},
						"id": id, "model": modelName, "object": "chat.completion.chunk"})
				} else {
					chunk(map[string]any{"choices": []any{map[string]any{"text": text, "index": 0, "finish_reason": nil, "logprobs": nil}},
						"id": id, "model": modelName, "object": "text_completion"})
				}
			case "stream-end":
				if r, ok := m["response"].(map[string]any); ok {
					u := cohereUsage(r)
					st.PromptTokens, st.CompletionTokens, st.ProviderCounts = u["prompt_tokens"].(float64), u["completion_tokens"].(float64), true
				}
				st.Finish = "stop"
				emit("[DONE]")
			}
		case "ollama":
			var m map[string]any
			if json.Unmarshal([]byte(ev.data), &m) != nil {
				continue
			}
			if m["done"] == true {
				st.PromptTokens, _ = m["prompt_eval_count"].(float64)
				st.CompletionTokens, _ = m["eval_count"].(float64)
				st.ProviderCounts = true
				emit("[DONE]")
				continue
			}
			if routeType == LLMRouteChat {
				msg, _ := m["message"].(map[string]any)
				text, _ := msg["content"].(string)
				delta(text)
				chunk(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": text}, "index": 0}},
					"model": modelName, "object": "chat.completion.chunk"})
			} else {
				text, _ := m["response"].(string)
				delta(text)
				chunk(map[string]any{"choices": []any{map[string]any{"text": text, "index": 0}}, "model": modelName, "object": "text_completion"})
			}
		}
	}
	return out.Bytes()
}
