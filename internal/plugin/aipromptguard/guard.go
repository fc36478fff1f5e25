// Package aipromptguard is Kong's ai-prompt-guard plugin: it checks the
// prompt of an LLM request (the user messages of llm/v1/chat, or the
// prompt of llm/v1/completions) against allow and deny regular
// expressions, and refuses what a deny pattern matches or no allow
// pattern does, with 400 "bad request".
package aipromptguard

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Name and Priority are Kong's (3.6+).
const (
	Name     = "ai-prompt-guard"
	Priority = 771
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

func patterns(name string) *model.Field {
	return &model.Field{Name: name, Type: model.TypeArray, LenMax: 10,
		Elements: &model.Field{Type: model.TypeString, LenMin: 1, LenMax: 500}}
}

// Schema is ai-prompt-guard's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		patterns("allow_patterns"),
		patterns("deny_patterns"),
		{Name: "allow_all_conversation_history", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "max_request_body_size", Type: model.TypeInteger, Default: 8192, Gt: model.Float(0)},
		{Name: "match_all_roles", Type: model.TypeBoolean, Required: true, Default: false},
	},
	Checks: []*model.Check{
		{Custom: &model.CustomCheck{
			Fields: []string{"allow_patterns", "deny_patterns"},
			Fn: func(rec map[string]any) ([]string, map[string]any) {
				if nonEmpty(rec["allow_patterns"]) || nonEmpty(rec["deny_patterns"]) {
					return nil, nil
				}
				return []string{"at least one of these fields must be non-empty: 'config.allow_patterns', 'config.deny_patterns'"}, nil
			},
		}},
		{Custom: &model.CustomCheck{
			Fields: []string{"match_all_roles", "allow_all_conversation_history"},
			Fn: func(rec map[string]any) ([]string, map[string]any) {
				if rec["match_all_roles"] == true && rec["allow_all_conversation_history"] == true {
					return []string{"failed conditional validation given value of field 'config.match_all_roles'"},
						map[string]any{"allow_all_conversation_history": "value must be false"}
				}
				return nil, nil
			},
		}},
	},
}

func nonEmpty(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) > 0
}

// Guard is one configured instance.
type Guard struct {
	allow, deny []pattern
	latestOnly  bool
	allRoles    bool
	maxBody     any // max_request_body_size
	log         *slog.Logger
}

// pattern is a compiled pattern, or why it did not compile.
type pattern struct {
	re  *regexp.Regexp
	err error
}

// New builds an instance from a validated config. Patterns are compiled
// here; one that does not compile (Go's RE2 syntax: no lookaround or
// backreferences) fails with 500 the requests whose check reaches it, as a
// pattern PCRE cannot run does in Kong.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	g := &Guard{maxBody: cfg["max_request_body_size"], log: deps.Logger}
	if g.log == nil {
		g.log = slog.Default()
	}
	g.latestOnly, _ = cfg["allow_all_conversation_history"].(bool)
	g.allRoles, _ = cfg["match_all_roles"].(bool)
	compile := func(v any) []pattern {
		var out []pattern
		list, _ := v.([]any)
		for _, p := range list {
			s, _ := p.(string)
			re, err := regexp.Compile(s)
			if err != nil {
				err = errors.New("bad regex pattern '" + s + "', failed to execute: " + err.Error())
			}
			out = append(out, pattern{re, err})
		}
		return out
	}
	g.allow, g.deny = compile(cfg["allow_patterns"]), compile(cfg["deny_patterns"])
	return g, nil
}

var errFormat = errors.New("ai-prompt-guard only supports llm/v1/chat or llm/v1/completions prompts")

// prompt is the text the patterns are matched against.
func (g *Guard) prompt(body map[string]json.RawMessage) (string, error) {
	if raw, ok := body["messages"]; ok && len(raw) > 0 && (raw[0] == '[' || raw[0] == '{') {
		var msgs []json.RawMessage
		if raw[0] == '{' || json.Unmarshal(raw, &msgs) != nil {
			return "", nil // an object has no length: nothing is checked
		}
		var b strings.Builder
		for i := len(msgs) - 1; i >= 0; i-- {
			var m map[string]json.RawMessage
			if json.Unmarshal(msgs[i], &m) != nil {
				return "", errFormat
			}
			role, ok := jsonString(m["role"])
			if !ok {
				return "", errFormat
			}
			if role != "user" && !g.allRoles {
				continue
			}
			content, ok := jsonString(m["content"])
			if !ok {
				return "", errFormat
			}
			if g.latestOnly {
				return content, nil
			}
			b.WriteString(content)
			b.WriteByte(' ')
		}
		return b.String(), nil
	}
	if p, ok := jsonString(body["prompt"]); ok {
		return p, nil
	}
	return "", errFormat
}

// jsonString decodes a JSON string (not null or another type).
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Access checks the request's prompt.
func (g *Guard) Access(c *plugin.Ctx) {
	body := plugin.LLMBody(c.Request, plugin.LLMBodyLimit(g.maxBody))
	p, err := g.prompt(body)
	if err == nil {
		err = g.check(p)
	}
	var bad badPatternError
	switch {
	case err == nil:
		return
	case errors.As(err, &bad):
		g.log.Error(bad.err.Error())
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	// the reason goes to the log only, as in Kong
	g.log.Debug("ai-prompt-guard refused a request", "reason", err.Error())
	c.Terminate(plugin.LLMError(http.StatusBadRequest, "bad request"))
}

// badPatternError is a pattern that did not compile, reached by a check.
type badPatternError struct{ err error }

func (e badPatternError) Error() string { return e.err.Error() }

// check matches the deny patterns, then the allow ones, in order; a
// pattern that did not compile stops the check when it is reached.
func (g *Guard) check(p string) error {
	for _, pt := range g.deny {
		if pt.err != nil {
			return badPatternError{pt.err}
		}
		if pt.re.MatchString(p) {
			return errors.New("prompt pattern is blocked")
		}
	}
	if len(g.allow) == 0 {
		return nil
	}
	for _, pt := range g.allow {
		if pt.err != nil {
			return badPatternError{pt.err}
		}
		if pt.re.MatchString(p) {
			return nil
		}
	}
	return errors.New("prompt doesn't match any allowed pattern")
}

var _ plugin.Accessor = (*Guard)(nil)
