package responsetransformer

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// BodyCap is the largest response body the plugin transforms. A larger
// body streams to the client untouched (the skip is logged); at most
// BodyCap bytes are buffered.
const BodyCap = 1 << 20

// stateKey holds the per-request body buffer in the Ctx shared map.
const stateKey = "response-transformer.body"

type pair struct {
	name, value string
	hasValue    bool
	typ         string // json_types entry: "", "string", "number", "boolean"
}

type ops struct {
	headers, json []pair
}

// Transformer is one configured instance.
type Transformer struct {
	remove, rename, replace, add, apend ops
	bodySet                             bool
	log                                 *slog.Logger
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	t := &Transformer{log: deps.Logger}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.remove = parseOps(cfg["remove"])
	t.rename = parseOps(cfg["rename"])
	t.replace = parseOps(cfg["replace"])
	t.add = parseOps(cfg["add"])
	t.apend = parseOps(cfg["append"])
	t.bodySet = len(t.remove.json)+len(t.rename.json)+len(t.replace.json)+len(t.add.json)+len(t.apend.json) > 0
	return t, nil
}

func parseOps(v any) ops {
	rec, _ := v.(map[string]any)
	types, _ := rec["json_types"].([]any)
	list := func(key string, typed bool) []pair {
		l, _ := rec[key].([]any)
		out := make([]pair, 0, len(l))
		for i, e := range l {
			s, _ := e.(string)
			name, value, _ := plugin.SplitHeaderPair(s)
			p := pair{name: name, value: value, hasValue: value != ""}
			if typed && i < len(types) {
				p.typ, _ = types[i].(string)
			}
			out = append(out, p)
		}
		return out
	}
	return ops{headers: list("headers", false), json: list("json", true)}
}

func isJSON(ct string) bool {
	return strings.Contains(strings.ToLower(ct), "application/json")
}

// HeaderFilter transforms the response headers.
func (t *Transformer) HeaderFilter(c *plugin.Ctx) {
	h := c.Header
	if h == nil {
		return
	}
	for _, p := range t.remove.headers {
		h.Del(p.name)
	}
	for _, p := range t.rename.headers {
		old := http.CanonicalHeaderKey(p.name)
		if v, ok := h[old]; ok && p.hasValue {
			delete(h, old)
			h[http.CanonicalHeaderKey(p.value)] = v
		}
	}
	for _, p := range t.replace.headers {
		if _, ok := h[http.CanonicalHeaderKey(p.name)]; ok && p.hasValue {
			h.Set(p.name, p.value)
		}
	}
	for _, p := range t.add.headers {
		if _, ok := h[http.CanonicalHeaderKey(p.name)]; !ok && p.hasValue {
			h.Set(p.name, p.value)
		}
	}
	for _, p := range t.apend.headers {
		if p.hasValue {
			h.Add(p.name, p.value)
		}
	}
	if t.bodySet && isJSON(h.Get("Content-Type")) {
		// The body is going to change.
		h.Del("Content-Length")
	}
}

type bodyState struct {
	buf         []byte
	passthrough bool
}

// BodyFilter buffers a JSON body (up to BodyCap) and transforms it at the
// end of the response.
func (t *Transformer) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	if !t.bodySet || c.Header == nil || !isJSON(c.Header.Get("Content-Type")) {
		return chunk
	}
	if ce := c.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return chunk // compressed bodies are not transformed
	}
	var st *bodyState
	if v, ok := c.Get(stateKey); ok {
		st, _ = v.(*bodyState)
	}
	if st == nil {
		st = &bodyState{}
		c.Set(stateKey, st)
	}
	if st.passthrough {
		return chunk
	}
	if len(st.buf)+len(chunk) > BodyCap {
		t.log.Info("response-transformer: body over the cap left untouched", "cap", BodyCap)
		st.passthrough = true
		out := append(st.buf, chunk...)
		st.buf = nil
		return out
	}
	st.buf = append(st.buf, chunk...)
	if !last {
		return nil
	}
	body := st.buf
	st.buf = nil
	if out, ok := t.transformJSON(body); ok {
		return out
	}
	return body
}

// transformJSON applies remove, rename, replace, add and append to the
// top-level fields of a JSON object.
func (t *Transformer) transformJSON(body []byte) ([]byte, bool) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	for _, p := range t.remove.json {
		delete(obj, p.name)
	}
	for _, p := range t.rename.json {
		if v, ok := obj[p.name]; ok && p.hasValue {
			delete(obj, p.name)
			obj[p.value] = v
		}
	}
	for _, p := range t.replace.json {
		v, ok := cast(p)
		if ok && truthy(obj, p.name) {
			obj[p.name] = v
		}
	}
	for _, p := range t.add.json {
		v, ok := cast(p)
		if ok && !truthy(obj, p.name) {
			obj[p.name] = v
		}
	}
	for _, p := range t.apend.json {
		if v, ok := cast(p); ok {
			obj[p.name] = appendValue(obj[p.name], v)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// truthy is Lua's truth of json[name]: absent and false are false (JSON
// null is cjson.null, which is true).
func truthy(obj map[string]any, name string) bool {
	v, ok := obj[name]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	return !isBool || b
}

// cast converts a value by its json_types entry; ok is false when a
// number does not parse (Kong then leaves the field). An empty value is the
// string "null", as Kong's cjson.encode(nil) makes it.
func cast(p pair) (any, bool) {
	v := p.value
	if !p.hasValue {
		v = "null"
	}
	switch p.typ {
	case "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, false
		}
		return f, true
	case "boolean":
		return v == "true", true
	}
	return v, true
}

// appendValue is Kong's append_value for response bodies: a string
// becomes a two-element list, a list grows, anything else is replaced by a
// one-element list.
func appendValue(cur, v any) any {
	switch c := cur.(type) {
	case string:
		return []any{c, v}
	case []any:
		return append(c, v)
	}
	return []any{v}
}

var (
	_ plugin.HeaderFilterer = (*Transformer)(nil)
	_ plugin.BodyFilterer   = (*Transformer)(nil)
)
