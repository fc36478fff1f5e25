package plugin

// The LLM providers' wire formats (Kong's kong/llm drivers), shared by
// the AI plugins.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The route types of an LLM plugin (Kong's llm route_type).
const (
	LLMRouteChat        = "llm/v1/chat"
	LLMRouteCompletions = "llm/v1/completions"
	LLMRoutePreserve    = "preserve"
)

// LLMOptions are an LLM call's model options (Kong's model.options),
// templates resolved.
type LLMOptions struct {
	MaxTokens, Temperature, TopP, TopK *float64
	InputCost, OutputCost              *float64
	AnthropicVersion                   string
	AzureInstance, AzureAPIVersion     string
	AzureDeploymentID                  string
	Llama2Format, MistralFormat        string
	UpstreamURL, UpstreamPath          string
}

// Wire is the wire format a provider is spoken in with these options:
// openai, anthropic, cohere, ollama or llama2-raw.
func (o *LLMOptions) Wire(provider string) string {
	switch provider {
	case "openai", "azure":
		return "openai"
	case "mistral":
		return o.MistralFormat
	case "llama2":
		if o.Llama2Format == "raw" {
			return "llama2-raw"
		}
		return o.Llama2Format
	}
	return provider // anthropic, cohere
}

// defaultBase and opPath are Kong's upstream_url_format and operation_map.
var defaultBase = map[string]string{
	"openai":    "https://api.openai.com",
	"anthropic": "https://api.anthropic.com",
	"cohere":    "https://api.cohere.com",
	"mistral":   "https://api.mistral.ai",
}

var opPath = map[string]map[string]string{
	"openai":    {LLMRouteChat: "/v1/chat/completions", LLMRouteCompletions: "/v1/completions"},
	"anthropic": {LLMRouteChat: "/v1/messages", LLMRouteCompletions: "/v1/complete"},
	"cohere":    {LLMRouteChat: "/v1/chat", LLMRouteCompletions: "/v1/generate"},
	"azure":     {LLMRouteChat: "/chat/completions", LLMRouteCompletions: "/completions"},
}

// errNoPath is a provider without a default path for the route type and
// none configured (Kong fails such a request with a Lua error: 500).
var errNoPath = errors.New("no upstream path for this provider; set model.options.upstream_url or upstream_path")

// upstreamURL is where a request goes (Kong's configure_request): the
// configured upstream_url as it is, else the provider's host with
// upstream_path or the operation's path; a preserve route keeps the
// client's path unless upstream_path is set. The client's query string is
// kept; azure's api-version is added unless the client sent one.
func LLMUpstreamURL(provider, routeType string, o *LLMOptions, clientPath string, query url.Values) (*url.URL, error) {
	var u *url.URL
	var err error
	switch {
	case o.UpstreamURL != "":
		u, err = url.Parse(o.UpstreamURL)
	case provider == "azure":
		base := fmt.Sprintf("https://%s.openai.azure.com/openai/deployments/%s", o.AzureInstance, o.AzureDeploymentID)
		p := o.UpstreamPath
		if p == "" {
			p = opPath["azure"][routeType]
		}
		if p == "" {
			p = "/"
		}
		u, err = url.Parse(base + p)
	default:
		base, ok := defaultBase[provider]
		if !ok {
			return nil, errNoPath
		}
		u, err = url.Parse(base)
		if err == nil {
			u.Path = o.UpstreamPath
			if u.Path == "" {
				u.Path = opPath[provider][routeType]
			}
			if u.Path == "" {
				if routeType != LLMRoutePreserve {
					return nil, errNoPath
				}
				u.Path = "/"
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if routeType == LLMRoutePreserve {
		u.Path = o.UpstreamPath
		if u.Path == "" {
			u.Path = clientPath
		}
	}
	u.Path = "/" + strings.TrimLeft(u.Path, "/")
	u.RawPath = ""
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if provider == "azure" && q.Get("api-version") == "" {
		q.Set("api-version", o.AzureAPIVersion)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// mergeDefaults is Kong's merge_config_defaults: the configured options
// replace the client's.
func mergeDefaults(body map[string]any, o *LLMOptions) { setOptions(body, o, "max_tokens") }

// setOptions sets the configured sampling options in dst, max_tokens
// under maxTokensKey.
func setOptions(dst map[string]any, o *LLMOptions, maxTokensKey string) {
	for _, kv := range []struct {
		k string
		v *float64
	}{{"temperature", o.Temperature}, {maxTokensKey, o.MaxTokens}, {"top_p", o.TopP}, {"top_k", o.TopK}} {
		if kv.v != nil {
			dst[kv.k] = *kv.v
		}
	}
}

// LLMStreamFlag reports whether a request body asks for a stream.
func LLMStreamFlag(body map[string]any) bool { b, _ := body["stream"].(bool); return b }

// toFormat translates a checked OpenAI-style request body into the
// provider's (Kong's driver to_format); it may change body. errBadRequest
// errors are the client's fault (400); the message is Kong's.
func LLMToFormat(fmtName, routeType, modelName string, body map[string]any, o *LLMOptions) (map[string]any, error) {
	switch fmtName {
	case "openai":
		mergeDefaults(body, o)
		body["model"] = modelName
		body["stream"] = LLMStreamFlag(body)
		delete(body, "top_k")
		return body, nil
	case "anthropic":
		return toAnthropic(routeType, modelName, body, o), nil
	case "cohere":
		return toCohere(modelName, body, o)
	case "ollama":
		return toOllama(modelName, body, o), nil
	case "llama2-raw":
		return toLlama2Raw(routeType, body, o)
	}
	return nil, fmt.Errorf("no transformer for %s://%s", fmtName, routeType)
}

func toAnthropic(routeType, modelName string, body map[string]any, o *LLMOptions) map[string]any {
	opt := func(v *float64, k string) any {
		if v != nil {
			return *v
		}
		return body[k]
	}
	out := map[string]any{"temperature": opt(o.Temperature, "temperature"), "model": modelName, "stream": LLMStreamFlag(body)}
	msgs, _ := body["messages"].([]any)
	if routeType == LLMRouteChat {
		kept := []any{}
		var system any
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			switch mm["role"] {
			case "user", "assistant":
				kept = append(kept, m)
			default:
				system = mm["content"]
			}
		}
		out["messages"] = kept
		if system != nil {
			out["system"] = system
		}
		out["max_tokens"] = opt(o.MaxTokens, "max_tokens")
		return out
	}
	var prompt string
	if p, ok := body["prompt"].(string); ok {
		prompt = "Human: " + p + "\n\nAssistant:"
	} else {
		var b strings.Builder
		for _, m := range msgs {
			mm, _ := m.(map[string]any)
			switch mm["role"] {
			case "assistant":
				b.WriteString("Assistant: ")
			case "user":
				b.WriteString("Human: ")
			}
			fmt.Fprint(&b, mm["content"])
			b.WriteString("\n\n")
		}
		b.WriteString("Assistant:")
		prompt = b.String()
	}
	out["prompt"] = prompt
	out["max_tokens_to_sample"] = opt(o.MaxTokens, "max_tokens")
	return out
}

// LLMPlainError is a 400 whose body is Kong's plain string (kong.response.exit
// with a string), not the {"error":{"message"}} object.
type LLMPlainError string

func (e LLMPlainError) Error() string { return string(e) }

func toCohere(modelName string, body map[string]any, o *LLMOptions) (map[string]any, error) {
	mergeDefaults(body, o)
	if _, hasPrompt := body["prompt"]; hasPrompt && body["messages"] != nil {
		return nil, LLMPlainError("cannot run a 'prompt' and a history of 'messages' at the same time - refer to schema")
	}
	if v, ok := body["top_p"]; ok {
		body["p"] = v
		delete(body, "top_p")
	}
	if v, ok := body["top_k"]; ok {
		body["k"] = v
		delete(body, "top_k")
	}
	body["model"] = modelName
	body["stream"] = LLMStreamFlag(body)
	if msgs, ok := body["messages"].([]any); ok && len(msgs) > 0 {
		history := []any{}
		for _, m := range msgs[:len(msgs)-1] {
			mm, _ := m.(map[string]any)
			role := "USER"
			if mm["role"] == "assistant" || mm["role"] == "CHATBOT" {
				role = "CHATBOT"
			}
			history = append(history, map[string]any{"role": role, "message": mm["content"]})
		}
		last, _ := msgs[len(msgs)-1].(map[string]any)
		body["chat_history"] = history
		body["message"] = last["content"]
		delete(body, "messages")
	}
	return body, nil
}

func toOllama(modelName string, body map[string]any, o *LLMOptions) map[string]any {
	out := map[string]any{"stream": LLMStreamFlag(body), "model": modelName}
	if m, ok := body["messages"]; ok {
		out["messages"] = m
	} else {
		out["prompt"] = body["prompt"]
	}
	opts := map[string]any{}
	setOptions(opts, o, "num_predict")
	if len(opts) > 0 {
		out["options"] = opts
	}
	return out
}

func toLlama2Raw(routeType string, body map[string]any, o *LLMOptions) (map[string]any, error) {
	mergeDefaults(body, o)
	if _, hasPrompt := body["prompt"]; hasPrompt && body["messages"] != nil {
		return nil, LLMPlainError("cannot run raw 'prompt' and chat history 'messages' requests at the same time - refer to schema")
	}
	var inputs string
	if routeType == LLMRouteChat {
		msgs, _ := body["messages"].([]any)
		var b strings.Builder
		for i, m := range msgs {
			mm, _ := m.(map[string]any)
			content := fmt.Sprint(mm["content"])
			switch {
			case i == 0:
				fmt.Fprintf(&b, "<s>[INST] <<SYS>> %s <</SYS>>", content)
			case i == 1:
				fmt.Fprintf(&b, " %s [/INST]", content)
			case mm["role"] == "system":
				fmt.Fprintf(&b, " %s </s>", content)
			case mm["role"] == "user":
				fmt.Fprintf(&b, " <s>[INST] %s [/INST]", content)
			}
		}
		inputs = b.String()
	} else {
		inputs = fmt.Sprintf("<s> [INST] <<SYS>> You are a helpful assistant. <<SYS>> %v [/INST]", body["prompt"])
	}
	params := map[string]any{"stream": LLMStreamFlag(body)}
	for _, k := range []string{"top_p", "top_k", "temperature"} {
		if v, ok := body[k]; ok {
			params[k] = v
		}
	}
	if v, ok := body["max_tokens"]; ok {
		params["max_new_tokens"] = v
	}
	return map[string]any{"inputs": inputs, "parameters": params}, nil
}

// fromFormat translates a provider's 200 answer into OpenAI's (Kong's
// driver from_format); the error text is Kong's inner message.
func LLMFromFormat(fmtName, routeType, modelName string, raw []byte, o *LLMOptions) ([]byte, error) {
	switch fmtName {
	case "openai":
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil, fmt.Errorf("failed to decode %s response", routeType)
		}
		if _, ok := m["choices"]; !ok {
			return nil, fmt.Errorf("'choices' not in %s response", routeType)
		}
		return raw, nil
	case "anthropic":
		return fromAnthropic(routeType, raw)
	case "cohere":
		return fromCohere(routeType, modelName, raw)
	case "ollama":
		return fromOllama(routeType, raw, o)
	case "llama2-raw":
		return fromLlama2Raw(routeType, raw)
	}
	return nil, fmt.Errorf("no transformer from %s://%s", fmtName, routeType)
}

// anthropicStop maps Anthropic's stop_reason to OpenAI's finish_reason.
var anthropicStop = map[string]string{"max_tokens": "length", "end_turn": "stop", "tool_use": "tool_calls", "stop_sequence": "stop"}

func fromAnthropic(routeType string, raw []byte) ([]byte, error) {
	var r map[string]any
	if json.Unmarshal(raw, &r) != nil {
		return nil, errors.New("failed to decode anthropic response")
	}
	if routeType == LLMRouteCompletions {
		text, ok := r["completion"]
		if !ok {
			return nil, errors.New("'completion' not in anthropic://llm/v1/chat response")
		}
		return json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "text": text, "finish_reason": r["stop_reason"]}},
			"model": r["model"], "object": "text_completion"})
	}
	content, ok := r["content"].([]any)
	if !ok {
		return nil, errors.New("'content' not in anthropic://llm/v1/chat response")
	}
	var texts []string
	for _, c := range content {
		if cm, ok := c.(map[string]any); ok {
			if t, ok := cm["text"].(string); ok {
				texts = append(texts, t)
			}
		}
	}
	reason, _ := r["stop_reason"].(string)
	finish := any(reason)
	if f, ok := anthropicStop[reason]; ok {
		finish = f
	}
	var usage any = "no usage data returned from upstream"
	if u, ok := r["usage"].(map[string]any); ok {
		in, okIn := u["input_tokens"].(float64)
		out, okOut := u["output_tokens"].(float64)
		if okIn && okOut {
			usage = map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
		} else {
			usage = map[string]any{}
		}
	}
	res := map[string]any{
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Join(texts, "\n")},
			"finish_reason": finish}},
		"usage": usage, "model": r["model"], "object": "chat.completion",
	}
	if id, ok := r["id"]; ok {
		res["id"] = id
	}
	return json.Marshal(res)
}

func cohereUsage(r map[string]any) map[string]any {
	meta, _ := r["meta"].(map[string]any)
	bu, _ := meta["billed_units"].(map[string]any)
	in, _ := bu["input_tokens"].(float64)
	out, _ := bu["output_tokens"].(float64)
	return map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out}
}

func fromCohere(routeType, modelName string, raw []byte) ([]byte, error) {
	var r map[string]any
	if json.Unmarshal(raw, &r) != nil {
		return nil, errors.New("failed to decode cohere response")
	}
	if gens, ok := r["generations"].([]any); ok {
		choices := []any{}
		for i, g := range gens {
			gm, _ := g.(map[string]any)
			choices = append(choices, map[string]any{"index": i, "text": gm["text"], "finish_reason": "stop"})
		}
		return json.Marshal(map[string]any{"choices": choices, "object": "text_completion", "model": modelName, "id": r["id"], "usage": cohereUsage(r)})
	}
	if text, ok := r["text"]; ok {
		return json.Marshal(map[string]any{
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"object":  "chat.completion", "model": modelName, "id": r["generation_id"], "usage": cohereUsage(r)})
	}
	return nil, errors.New("'text' or 'generations' missing from cohere response body")
}

func fromOllama(routeType string, raw []byte, o *LLMOptions) ([]byte, error) {
	var r map[string]any
	if json.Unmarshal(raw, &r) != nil {
		return nil, errors.New("failed to decode ollama response")
	}
	ev, _ := r["eval_count"].(float64)
	pev, _ := r["prompt_eval_count"].(float64)
	out := map[string]any{"model": r["model"], "created": r["created_at"],
		"usage": map[string]any{"completion_tokens": ev, "prompt_tokens": pev, "total_tokens": ev + pev}}
	if routeType == LLMRouteChat {
		finish := "stop"
		if o.MaxTokens != nil && ev == *o.MaxTokens {
			finish = "length"
		}
		out["object"] = "chat.completion"
		out["choices"] = []any{map[string]any{"finish_reason": finish, "index": 0, "message": r["message"]}}
	} else {
		out["object"] = "text_completion"
		out["choices"] = []any{map[string]any{"index": 0, "text": r["response"]}}
	}
	return json.Marshal(out)
}

func fromLlama2Raw(routeType string, raw []byte) ([]byte, error) {
	var r map[string]any
	if json.Unmarshal(raw, &r) != nil {
		return nil, errors.New("failed to decode llama2 response")
	}
	data, ok := r["data"].([]any)
	if !ok {
		return nil, errors.New("cannot parse response from llama2 endpoint")
	}
	if len(data) != 1 {
		return nil, errors.New("response data is empty from llama2 endpoint")
	}
	d, _ := data[0].(map[string]any)
	text, _ := d["generated_text"].(string)
	parts := strings.Split(text, "[/INST]")
	text = strings.TrimSpace(parts[len(parts)-1])
	var out map[string]any
	if routeType == LLMRouteChat {
		out = map[string]any{"choices": []any{map[string]any{"message": map[string]any{"content": text, "role": "assistant"}, "index": 0}}, "object": "chat.completion"}
	} else {
		out = map[string]any{"choices": []any{map[string]any{"index": 0, "text": text}}, "object": "text_completion"}
	}
	if u, ok := r["usage"]; ok {
		out["usage"] = u
	}
	return json.Marshal(out)
}
