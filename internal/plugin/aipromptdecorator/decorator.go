// Package aipromptdecorator is Kong's ai-prompt-decorator plugin: it adds
// configured messages before and after the messages of an LLM chat
// request (llm/v1/chat: a JSON object with a "messages" array) on its way
// upstream, such as a system prompt every request of a route must carry.
package aipromptdecorator

import (
	"bytes"
	"encoding/json"
	"net/http"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-prompt-decorator"
	Priority = 772
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}

func promptList() *model.Field {
	return &model.Field{Type: model.TypeArray, LenMax: 15, Elements: &model.Field{Type: model.TypeRecord, Required: true,
		Fields: []*model.Field{
			{Name: "role", Type: model.TypeString, Required: true, Default: "system", OneOf: []any{"system", "assistant", "user"}},
			{Name: "content", Type: model.TypeString, Required: true, LenMin: 1, LenMax: 500},
		}}}
}

func named(name string, f *model.Field) *model.Field { f.Name = name; return f }

// Schema is ai-prompt-decorator's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "prompts", Type: model.TypeRecord, Fields: []*model.Field{
			named("prepend", promptList()),
			named("append", promptList()),
		}},
		{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{
		Fields: []string{"prompts"},
		Fn: func(rec map[string]any) ([]string, map[string]any) {
			p, _ := rec["prompts"].(map[string]any)
			if nonEmpty(p["prepend"]) || nonEmpty(p["append"]) {
				return nil, nil
			}
			// Kong declares it on the plugin entity: "config." names
			return []string{"at least one of these fields must be non-empty: 'config.prompts.prepend', 'config.prompts.append'"}, nil
		},
	}}},
}

func nonEmpty(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) > 0
}

// message is one chat message as the decorator writes it.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Decorator is one configured instance.
type Decorator struct {
	prepend, append []json.RawMessage // encoded once
	maxBody         any               // max_request_body_size
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	d := &Decorator{maxBody: cfg["max_request_body_size"]}
	p, _ := cfg["prompts"].(map[string]any)
	enc := func(list any) []json.RawMessage {
		var out []json.RawMessage
		items, _ := list.([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			role, _ := m["role"].(string)
			content, _ := m["content"].(string)
			b, err := json.Marshal(message{role, content})
			if err == nil {
				out = append(out, b)
			}
		}
		return out
	}
	d.prepend, d.append = enc(p["prepend"]), enc(p["append"])
	return d, nil
}

// Access rewrites the request's messages.
func (d *Decorator) Access(c *plugin.Ctx) {
	body := plugin.LLMBody(c.Request, plugin.LLMBodyLimit(d.maxBody))
	var msgs []json.RawMessage
	if body != nil {
		_ = json.Unmarshal(body["messages"], &msgs)
	}
	if len(msgs) == 0 {
		// a body that is not JSON reads as an empty request (Kong 3.9's
		// shared parse-request filter), so every failure says this
		c.Terminate(plugin.LLMError(http.StatusBadRequest, "this LLM route only supports llm/chat type requests"))
		return
	}
	out := make([]json.RawMessage, 0, len(d.prepend)+len(msgs)+len(d.append))
	out = append(append(append(out, d.prepend...), msgs...), d.append...)
	b, err := marshal(out)
	if err != nil {
		c.Terminate(plugin.LLMError(http.StatusInternalServerError, "An unexpected error occurred"))
		return
	}
	body["messages"] = b
	enc, err := marshal(body) // other members' values kept as written
	if err != nil {
		c.Terminate(plugin.LLMError(http.StatusInternalServerError, "An unexpected error occurred"))
		return
	}
	plugin.SetRequestBody(c.Request, enc)
	c.Request.Header.Set("Content-Type", "application/json")
}

// marshal is json.Marshal without HTML escaping (cjson does none).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

var _ plugin.Accessor = (*Decorator)(nil)
