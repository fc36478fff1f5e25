package proxycache

import (
	"fmt"
	"strings"

	"sluice/internal/model"
)

// sharedDicts are the lua_shared_dict names of Kong's default nginx
// template; Kong refuses a memory.dictionary_name that is not defined.
var sharedDicts = map[string]bool{
	"kong": true, "kong_locks": true, "kong_healthchecks": true,
	"kong_cluster_events": true, "kong_rate_limiting_counters": true,
	"kong_core_db_cache": true, "kong_core_db_cache_miss": true,
	"kong_db_cache": true, "kong_db_cache_miss": true, "kong_secrets": true,
	"prometheus_metrics": true,
}

// Schema is the config record of proxy-cache (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name: Name,
	Fields: []*model.Field{
		{Name: "response_code", Type: model.TypeArray, Required: true, Default: []any{200.0, 301.0, 404.0}, LenMin: 1,
			Elements: &model.Field{Type: model.TypeInteger, Between: []float64{100, 900}}},
		{Name: "request_method", Type: model.TypeArray, Required: true, Default: []any{"GET", "HEAD"},
			Elements: &model.Field{Type: model.TypeString, OneOf: []any{"HEAD", "GET", "POST", "PATCH", "PUT"}}},
		{Name: "content_type", Type: model.TypeArray, Required: true, Default: []any{"text/plain", "application/json"},
			Elements: &model.Field{Type: model.TypeString}},
		{Name: "cache_ttl", Type: model.TypeInteger, Default: 300.0, Gt: model.Float(0)},
		{Name: "strategy", Type: model.TypeString, Required: true, OneOf: []any{"memory"}},
		{Name: "cache_control", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "ignore_uri_case", Type: model.TypeBoolean, Default: false},
		{Name: "storage_ttl", Type: model.TypeInteger},
		{Name: "memory", Type: model.TypeRecord, Fields: []*model.Field{
			{Name: "dictionary_name", Type: model.TypeString, Required: true, Default: "kong_db_cache"},
		}},
		{Name: "vary_query_params", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "vary_headers", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
		{Name: "response_headers", Type: model.TypeRecord, Fields: []*model.Field{
			{Name: "age", Type: model.TypeBoolean, Default: true},
			{Name: "X-Cache-Status", Type: model.TypeBoolean, Default: true},
			{Name: "X-Cache-Key", Type: model.TypeBoolean, Default: true},
		}},
	},
	Checks: []*model.Check{{Custom: &model.CustomCheck{
		Fields: []string{"strategy", "memory"},
		Fn: func(rec map[string]any) ([]string, map[string]any) {
			if rec["strategy"] != "memory" {
				return nil, nil
			}
			mem, _ := rec["memory"].(map[string]any)
			name, ok := mem["dictionary_name"].(string)
			if !ok {
				return nil, nil // absent record: the default applies
			}
			if !sharedDicts[name] {
				return []string{fmt.Sprintf("missing shared dict '%s'", name)}, nil
			}
			return nil, nil
		},
	}}},
}

// Config is a decoded config record.
type Config struct {
	ResponseCodes   []int
	RequestMethods  []string
	ContentTypes    []mimeType
	CacheTTL        int64
	StorageTTL      int64 // 0: unset
	CacheControl    bool
	IgnoreURICase   bool
	Dictionary      string
	VaryQueryParams []string
	VaryHeaders     []string
	HeaderAge       bool
	HeaderStatus    bool
	HeaderKey       bool
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int:
		return int64(n)
	case int64:
		return n
	}
	return 0
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func boolOr(v any, def bool) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return def
}

// decode reads a validated config record.
func decode(rec map[string]any) *Config {
	c := &Config{
		RequestMethods:  stringList(rec["request_method"]),
		CacheTTL:        toInt(rec["cache_ttl"]),
		StorageTTL:      toInt(rec["storage_ttl"]),
		CacheControl:    boolOr(rec["cache_control"], false),
		IgnoreURICase:   boolOr(rec["ignore_uri_case"], false),
		Dictionary:      "kong_db_cache",
		VaryQueryParams: stringList(rec["vary_query_params"]),
		VaryHeaders:     stringList(rec["vary_headers"]),
		HeaderAge:       true,
		HeaderStatus:    true,
		HeaderKey:       true,
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = 300
	}
	for _, x := range asList(rec["response_code"]) {
		c.ResponseCodes = append(c.ResponseCodes, int(toInt(x)))
	}
	for _, s := range stringList(rec["content_type"]) {
		if mt, ok := parseMime(s); ok {
			c.ContentTypes = append(c.ContentTypes, mt)
		}
	}
	if m, ok := rec["memory"].(map[string]any); ok {
		if n, ok := m["dictionary_name"].(string); ok {
			c.Dictionary = n
		}
	}
	if m, ok := rec["response_headers"].(map[string]any); ok {
		c.HeaderAge = boolOr(m["age"], true)
		c.HeaderStatus = boolOr(m["X-Cache-Status"], true)
		c.HeaderKey = boolOr(m["X-Cache-Key"], true)
	}
	return c
}

func asList(v any) []any { l, _ := v.([]any); return l }

// mimeType is a parsed media type: type, subtype (lower-case) and
// parameters (Kong's kong.tools.mime_type.parse_mime_type).
type mimeType struct {
	typ, sub string
	params   map[string]string
}

// parseMime parses "type/subtype; k=v; ...". Parameter names are
// lower-cased, values kept (quotes removed).
func parseMime(s string) (mimeType, bool) {
	media, rest, _ := strings.Cut(s, ";")
	t, sub, ok := strings.Cut(strings.TrimSpace(media), "/")
	if !ok || t == "" || sub == "" {
		return mimeType{}, false
	}
	mt := mimeType{typ: strings.ToLower(strings.TrimSpace(t)), sub: strings.ToLower(strings.TrimSpace(sub))}
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, v, ok := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			continue
		}
		if mt.params == nil {
			mt.params = map[string]string{}
		}
		mt.params[k] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return mt, true
}

// matches reports whether the response type got matches the configured
// type want: type and subtype equal or "*", and the same parameters.
func (want mimeType) matches(got mimeType) bool {
	if want.typ != "*" && want.typ != got.typ {
		return false
	}
	if want.sub != "*" && want.sub != got.sub {
		return false
	}
	if len(want.params) != len(got.params) {
		return false
	}
	for k, v := range want.params {
		if got.params[k] != v {
			return false
		}
	}
	return true
}
