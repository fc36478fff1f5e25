package requesttransformer

import (
	"net/url"
	"strings"

	"sluice/internal/plugin"
)

// A template is a config value with Kong's $(...) placeholders. The
// supported expressions are the documented ones: headers.<name>,
// headers["<name>"], query_params.<name>, query_params["<name>"],
// uri_captures.<name or index>, uri_captures["<name>"] and shared.<name>,
// each optionally followed by `or "<default>"`. Other expressions are kept
// as literal text.
type template struct {
	parts []tmplPart
	// static is the value when there are no placeholders.
	static string
	dyn    bool
}

type tmplPart struct {
	lit    string
	source string // "" for a literal part
	key    string
	def    string
	hasDef bool
}

func parseTemplate(s string) template {
	if !strings.Contains(s, "$(") {
		return template{static: s}
	}
	var t template
	for s != "" {
		i := strings.Index(s, "$(")
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: s})
			break
		}
		end := closing(s, i+2)
		if end < 0 {
			t.parts = append(t.parts, tmplPart{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: s[:i]})
		}
		if p, ok := parseExpr(strings.TrimSpace(s[i+2 : end])); ok {
			t.parts = append(t.parts, p)
			t.dyn = true
		} else {
			t.parts = append(t.parts, tmplPart{lit: s[i : end+1]})
		}
		s = s[end+1:]
	}
	if !t.dyn {
		var b strings.Builder
		for _, p := range t.parts {
			b.WriteString(p.lit)
		}
		return template{static: b.String()}
	}
	return t
}

// closing finds the ')' closing a "$(" whose content starts at i.
func closing(s string, i int) int {
	depth := 1
	var quote byte
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func parseExpr(e string) (tmplPart, bool) {
	var p tmplPart
	if i := strings.Index(e, " or "); i >= 0 {
		lit, ok := luaString(strings.TrimSpace(e[i+4:]))
		if !ok {
			return p, false
		}
		p.def, p.hasDef = lit, true
		e = strings.TrimSpace(e[:i])
	}
	for _, src := range []string{"headers", "query_params", "uri_captures", "shared"} {
		if !strings.HasPrefix(e, src) {
			continue
		}
		rest := e[len(src):]
		switch {
		case strings.HasPrefix(rest, "."):
			key := rest[1:]
			if key == "" || strings.ContainsAny(key, ".[]() \"'") {
				return p, false
			}
			p.source, p.key = src, key
			return p, true
		case strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]"):
			inner := strings.TrimSpace(rest[1 : len(rest)-1])
			if key, ok := luaString(inner); ok {
				p.source, p.key = src, key
				return p, true
			}
			if inner != "" && strings.Trim(inner, "0123456789") == "" {
				p.source, p.key = src, inner // numeric capture index
				return p, true
			}
		}
		return p, false
	}
	return p, false
}

func luaString(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return "", false
}

// env is what templates read: the request as received, before any change.
type env struct {
	c      *plugin.Ctx
	header map[string][]string
	query  url.Values
}

func (t *template) render(e *env) (string, bool) {
	if !t.dyn {
		return t.static, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.source == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := e.lookup(p.source, p.key)
		if !ok {
			if !p.hasDef {
				continue // Lua nil renders as ""
			}
			v = p.def
		}
		b.WriteString(v)
	}
	return b.String(), true
}

func (e *env) lookup(source, key string) (string, bool) {
	switch source {
	case "headers":
		// Kong's header table is case-insensitive and maps '_' to '-'.
		k := strings.ReplaceAll(key, "_", "-")
		for name, v := range e.header {
			if strings.EqualFold(name, k) && len(v) > 0 {
				return strings.Join(v, ", "), true
			}
		}
	case "query_params":
		if e.query == nil {
			e.query, _ = url.ParseQuery(e.c.Request.URL.RawQuery)
		}
		if v, ok := e.query[key]; ok && len(v) > 0 {
			return v[0], true
		}
	case "uri_captures":
		if v, ok := e.c.Captures[key]; ok {
			return v, true
		}
	case "shared":
		if v, ok := e.c.Get(key); ok {
			if s, ok := v.(string); ok {
				return s, true
			}
		}
	}
	return "", false
}
