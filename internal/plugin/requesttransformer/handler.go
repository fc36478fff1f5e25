package requesttransformer

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// BodyCap is the largest request body the plugin transforms. A larger body
// (by Content-Length, or found larger while reading) is forwarded untouched
// and the skip is logged; at most BodyCap+1 bytes are ever held.
const BodyCap = 1 << 20

type entry struct {
	name  string
	value template
}

// section is one operation's lists.
type section struct {
	headers, query, body []entry
}

// Transformer is one configured instance.
type Transformer struct {
	method                              string
	remove, rename, replace, add, apend section
	uri                                 *template
	// needHeaders: a template reads request headers, so a copy of the
	// incoming headers is kept before they are changed.
	needHeaders bool
	log         *slog.Logger
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	t := &Transformer{log: deps.Logger}
	if t.log == nil {
		t.log = slog.Default()
	}
	if m, ok := cfg["http_method"].(string); ok {
		t.method = strings.ToUpper(m)
	}
	t.remove = t.section(cfg["remove"], false)
	t.rename = t.section(cfg["rename"], true)
	t.replace = t.section(cfg["replace"], true)
	t.add = t.section(cfg["add"], true)
	t.apend = t.section(cfg["append"], true)
	if rec, ok := cfg["replace"].(map[string]any); ok {
		if u, ok := rec["uri"].(string); ok {
			tp := parseTemplate(u)
			t.uri = &tp
			t.noteHeaders(tp)
		}
	}
	return t, nil
}

func (t *Transformer) section(v any, pairs bool) section {
	rec, _ := v.(map[string]any)
	list := func(key string) []entry {
		l, _ := rec[key].([]any)
		out := make([]entry, 0, len(l))
		for _, e := range l {
			s, _ := e.(string)
			name, value, ok := plugin.SplitHeaderPair(s)
			if !ok {
				continue
			}
			en := entry{name: name}
			if pairs {
				en.value = parseTemplate(value)
				t.noteHeaders(en.value)
			}
			out = append(out, en)
		}
		return out
	}
	return section{headers: list("headers"), query: list("querystring"), body: list("body")}
}

func (t *Transformer) noteHeaders(tp template) {
	for _, p := range tp.parts {
		if p.source == "headers" {
			t.needHeaders = true
		}
	}
}

// Access transforms the request sent upstream: URI, method, headers,
// body, query string.
func (t *Transformer) Access(c *plugin.Ctx) {
	e := &env{c: c, header: c.Request.Header}
	if t.needHeaders {
		e.header = c.Request.Header.Clone()
	}
	if t.uri != nil {
		if u, ok := t.uri.render(e); ok {
			// Kong sets ngx.var.upstream_uri to the rendered value with
			// "?" escaped; the request's own path is unchanged.
			c.UpstreamPath = strings.ReplaceAll(u, "?", "%3F")
		}
	}
	var formQuery url.Values
	if t.method != "" {
		formQuery = t.transformMethod(c)
	}
	t.transformHeaders(c, e)
	t.transformBody(c, e)
	t.transformQuery(c, e, formQuery)
}

// transformMethod changes the method; for GET, HEAD and TRACE a form body's
// arguments are also merged into the query string (returned, already set).
func (t *Transformer) transformMethod(c *plugin.Ctx) url.Values {
	r := c.Request
	r.Method = t.method
	if t.method != "GET" && t.method != "HEAD" && t.method != "TRACE" {
		return nil
	}
	if contentKind(r.Header.Get("Content-Type")) != kindForm {
		return nil
	}
	raw, ok := t.readBody(r)
	if !ok || len(raw) == 0 {
		return nil
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil || len(form) == 0 {
		return nil
	}
	q := cloneValues(c.Query())
	for k, vs := range form {
		q[k] = append(q[k], vs...)
	}
	c.SetQuery(q)
	return q
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (t *Transformer) transformHeaders(c *plugin.Ctx, e *env) {
	h := c.Request.Header
	for _, en := range t.remove.headers {
		h.Del(en.name)
	}
	for _, en := range t.rename.headers {
		old := http.CanonicalHeaderKey(en.name)
		if v, ok := h[old]; ok {
			nv, _ := en.value.render(e)
			delete(h, old)
			if strings.EqualFold(nv, "host") {
				// Kong sets headers.host: the upstream Host.
				c.SetUpstreamHost(v[0])
				continue
			}
			h[http.CanonicalHeaderKey(nv)] = v
		}
	}
	for _, en := range t.replace.headers {
		v, _ := en.value.render(e)
		if strings.EqualFold(en.name, "host") {
			// Kong (request-transformer/access.lua) replaces host even
			// when the client sent none, through set_headers: the
			// upstream Host.
			c.SetUpstreamHost(v)
			continue
		}
		if _, ok := h[http.CanonicalHeaderKey(en.name)]; ok {
			setOrClear(h, en.name, v)
		}
	}
	for _, en := range t.add.headers {
		if strings.EqualFold(en.name, "host") {
			continue
		}
		if _, ok := h[http.CanonicalHeaderKey(en.name)]; !ok {
			v, _ := en.value.render(e)
			setOrClear(h, en.name, v)
		}
	}
	for _, en := range t.apend.headers {
		if strings.EqualFold(en.name, "host") {
			continue
		}
		if v, _ := en.value.render(e); v != "" {
			h.Add(en.name, v)
		}
	}
}

// setOrClear sets a header; an empty value removes it (Kong sets nil).
func setOrClear(h http.Header, name, v string) {
	if v == "" {
		h.Del(name)
		return
	}
	h.Set(name, v)
}

// transformValues applies remove, rename, replace, add and append, in that
// order, to query or form values; of picks the section's entries. It
// reports whether anything was done.
func (t *Transformer) transformValues(e *env, vals url.Values, of func(*section) []entry) bool {
	changed := false
	for _, en := range of(&t.remove) {
		if _, ok := vals[en.name]; ok {
			delete(vals, en.name)
			changed = true
		}
	}
	for _, en := range of(&t.rename) {
		if v, ok := vals[en.name]; ok {
			nv, _ := en.value.render(e)
			delete(vals, en.name)
			vals[nv] = v
			changed = true
		}
	}
	for _, en := range of(&t.replace) {
		if _, ok := vals[en.name]; ok {
			v, _ := en.value.render(e)
			vals[en.name] = []string{v}
			changed = true
		}
	}
	for _, en := range of(&t.add) {
		if _, ok := vals[en.name]; !ok {
			v, _ := en.value.render(e)
			vals[en.name] = []string{v}
			changed = true
		}
	}
	for _, en := range of(&t.apend) {
		v, _ := en.value.render(e)
		vals[en.name] = append(vals[en.name], v)
		changed = true
	}
	return changed
}

func (t *Transformer) transformQuery(c *plugin.Ctx, e *env, q url.Values) {
	if len(t.remove.query)+len(t.rename.query)+len(t.replace.query)+len(t.add.query)+len(t.apend.query) == 0 {
		return
	}
	if q == nil {
		q = cloneValues(c.Query())
	}
	changed := t.transformValues(e, q, func(sec *section) []entry { return sec.query })
	if changed {
		c.SetQuery(q)
	}
}

const (
	kindNone = iota
	kindJSON
	kindForm
	kindMultipart
)

func contentKind(ct string) int {
	ct = strings.ToLower(ct)
	switch {
	case strings.Contains(ct, "application/json"):
		return kindJSON
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		return kindForm
	case strings.Contains(ct, "multipart/form-data"):
		return kindMultipart
	}
	return kindNone
}

// readBody reads the whole body when it fits in BodyCap; the request keeps
// a body that replays what was read. ok is false when the body is too large
// (then it is left to stream untouched) or broken.
func (t *Transformer) readBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if r.ContentLength > BodyCap {
		t.log.Info("request-transformer: body over the cap left untouched", "content_length", r.ContentLength, "cap", BodyCap)
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, BodyCap+1))
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), errReader{err}))
		return nil, false
	}
	if len(buf) > BodyCap {
		t.log.Info("request-transformer: body over the cap left untouched", "cap", BodyCap)
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		return nil, false
	}
	r.Body.Close()
	setBody(r, buf)
	return buf, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	if r.Header.Get("Content-Length") != "" || len(b) > 0 {
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	}
	r.TransferEncoding = nil
}

func (t *Transformer) transformBody(c *plugin.Ctx, e *env) {
	if len(t.remove.body)+len(t.rename.body)+len(t.replace.body)+len(t.add.body)+len(t.apend.body) == 0 {
		return
	}
	r := c.Request
	kind := contentKind(r.Header.Get("Content-Type"))
	if kind != kindJSON && kind != kindForm {
		if kind == kindMultipart {
			t.log.Debug("request-transformer: multipart bodies are not transformed")
		}
		return
	}
	raw, ok := t.readBody(r)
	if !ok {
		return
	}
	var out []byte
	if kind == kindJSON {
		out, ok = t.jsonBody(raw, e)
	} else {
		out, ok = t.formBody(raw, e)
	}
	if ok {
		setBody(r, out)
	}
}

func (t *Transformer) jsonBody(raw []byte, e *env) ([]byte, bool) {
	var obj map[string]any
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, false // not a JSON object: left as is
		}
	}
	changed := false
	if obj != nil {
		for _, en := range t.remove.body {
			if _, ok := obj[en.name]; ok {
				delete(obj, en.name)
				changed = true
			}
		}
		for _, en := range t.rename.body {
			if v, ok := obj[en.name]; ok {
				nv, _ := en.value.render(e)
				delete(obj, en.name)
				obj[nv] = v
				changed = true
			}
		}
		for _, en := range t.replace.body {
			if truthy(obj, en.name) {
				obj[en.name], _ = en.value.render(e)
				changed = true
			}
		}
	}
	if len(t.add.body) > 0 || len(t.apend.body) > 0 {
		if obj == nil {
			obj = map[string]any{}
		}
		for _, en := range t.add.body {
			if !truthy(obj, en.name) {
				obj[en.name], _ = en.value.render(e)
				changed = true
			}
		}
		for _, en := range t.apend.body {
			v, _ := en.value.render(e)
			obj[en.name] = appendValue(obj[en.name], v)
			changed = true
		}
	}
	if !changed {
		return nil, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// appendValue is Kong's append_value: a string becomes a two-element
// list, a list grows, anything else (absent, number, boolean, object) is
// replaced by a one-element list.
func appendValue(cur any, v string) any {
	switch c := cur.(type) {
	case []any:
		return append(c, v)
	case string:
		return []any{c, v}
	}
	return []any{v}
}

// truthy is Lua's truth of json[name]: absent and false are false (JSON
// null decodes to cjson.null, which is true).
func truthy(obj map[string]any, name string) bool {
	v, ok := obj[name]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	return !isBool || b
}

func (t *Transformer) formBody(raw []byte, e *env) ([]byte, bool) {
	form := url.Values{}
	if len(raw) > 0 {
		var err error
		if form, err = url.ParseQuery(string(raw)); err != nil {
			return nil, false
		}
	}
	changed := t.transformValues(e, form, func(sec *section) []entry { return sec.body })
	if !changed {
		return nil, false
	}
	return []byte(form.Encode()), true
}

var _ plugin.Accessor = (*Transformer)(nil)
