// Package aiprompttemplate is Kong's ai-prompt-template plugin: an LLM
// request names one of the route's templates ({"messages":
// "{template://name}", "properties": {...}}, or the same in "prompt"), and
// the template, with its {{placeholders}} filled from the properties
// (escaped as JSON string content), becomes the body sent upstream.
package aiprompttemplate

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-prompt-template"
	Priority = 773
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

// Schema is ai-prompt-template's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "templates", Type: model.TypeArray, Required: true, Elements: &model.Field{Type: model.TypeRecord, Required: true,
			Fields: []*model.Field{
				{Name: "name", Type: model.TypeString, Required: true},
				{Name: "template", Type: model.TypeString, Required: true},
			}}},
		{Name: "allow_untemplated_requests", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "log_original_request", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
	},
}

// Templater is one configured instance.
type Templater struct {
	templates   map[string]string // the first of a name wins
	untemplated bool
	logOriginal bool
	maxBody     any // max_request_body_size
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	t := &Templater{templates: map[string]string{}, maxBody: cfg["max_request_body_size"]}
	t.untemplated, _ = cfg["allow_untemplated_requests"].(bool)
	t.logOriginal, _ = cfg["log_original_request"].(bool)
	list, _ := cfg["templates"].([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		name, _ := m["name"].(string)
		tmpl, _ := m["template"].(string)
		if _, dup := t.templates[name]; !dup {
			t.templates[name] = tmpl
		}
	}
	return t, nil
}

func fail(c *plugin.Ctx, msg string) { c.Terminate(plugin.LLMError(http.StatusBadRequest, msg)) }

// present is Lua's truthiness of a decoded JSON member: absent and false
// are not, null is.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "false"
}

// Access replaces a templated request's body with its rendered template.
func (t *Templater) Access(c *plugin.Ctx) {
	raw, complete := plugin.ReadBody(c.Request, plugin.LLMBodyLimit(t.maxBody))
	if t.logOriginal && complete {
		c.SetSerializeValue("ai.payload.original_request", string(raw), plugin.SerializeSet)
	}
	var body map[string]json.RawMessage
	if !complete || len(raw) == 0 || json.Unmarshal(raw, &body) != nil || body == nil {
		var arr []json.RawMessage
		if complete && json.Unmarshal(raw, &arr) == nil && arr != nil {
			fail(c, "only 'llm/v1/chat' and 'llm/v1/completions' formats are supported for templating")
			return
		}
		fail(c, "this LLM route only supports application/json requests")
		return
	}
	msgs, prompt := body["messages"], body["prompt"]
	switch {
	case present(msgs) && present(prompt):
		fail(c, "cannot run 'messages' and 'prompt' templates at the same time")
		return
	case !present(msgs) && !present(prompt):
		fail(c, "only 'llm/v1/chat' and 'llm/v1/completions' formats are supported for templating")
		return
	}
	ref := msgs
	if !present(ref) {
		ref = prompt
	}
	var s string
	name, isRef := "", false
	if len(ref) > 0 && ref[0] == '"' && json.Unmarshal(ref, &s) == nil {
		if rest, ok := strings.CutPrefix(s, "{template://"); ok && strings.HasSuffix(rest, "}") {
			name, isRef = strings.TrimSuffix(rest, "}"), true
		}
	}
	if !isRef {
		if !t.untemplated {
			fail(c, "this LLM route only supports templated requests")
		}
		return
	}
	tmpl, ok := t.templates[name]
	if !ok {
		fail(c, "could not find template name ["+name+"]")
		return
	}
	out, msg := Render(tmpl, body["properties"])
	if msg != "" {
		fail(c, msg)
		return
	}
	plugin.SetRequestBody(c.Request, []byte(out))
}

var placeholder = regexp.MustCompile(`\{\{([A-Za-z0-9_]+)\}\}`)

// Render fills tmpl's {{name}} placeholders from props (a JSON object of
// strings; absent or false: none, as Kong's "properties or {}") with each
// value escaped as the inside of a JSON string. It returns Kong's message
// when props is not an object (null included), a value is not a string,
// or placeholders are left unfilled.
func Render(tmpl string, props json.RawMessage) (string, string) {
	values := map[string]json.RawMessage{}
	if present(props) {
		if string(bytes.TrimSpace(props)) == "null" {
			return "", "properties must be an object"
		}
		if json.Unmarshal(props, &values) != nil {
			var arr []json.RawMessage
			if json.Unmarshal(props, &arr) != nil || len(arr) > 0 {
				return "", "properties must be an object"
			}
		}
	}
	escaped := make(map[string]string, len(values))
	for k, v := range values {
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return "", "property values must be a string, got " + luaType(v)
		}
		escaped[k] = escape(s)
	}
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		if v, ok := escaped[m[2:len(m)-2]]; ok {
			return v
		}
		return m
	})
	var missing []string
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(out, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			missing = append(missing, "["+m[1]+"]")
		}
	}
	if len(missing) > 0 {
		return "", "missing template parameters: " + strings.Join(missing, ", ")
	}
	return out, ""
}

// luaType names a JSON value's type as Lua's type() does after cjson.
func luaType(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "nil"
	case v[0] == '{' || v[0] == '[':
		return "table"
	case v[0] == 't' || v[0] == 'f':
		return "boolean"
	case v[0] == 'n':
		return "userdata"
	default:
		return "number"
	}
}

// escape is a string as cjson writes it inside quotes (no HTML escaping,
// "/" as "\/").
func escape(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	q := strings.TrimSuffix(b.String(), "\n")
	return strings.ReplaceAll(q[1:len(q)-1], "/", `\/`)
}

var _ plugin.Accessor = (*Templater)(nil)
