package model

import (
	"sort"
	"strconv"
	"strings"
)

// Infer converts string values of a form-encoded or query-string input to
// the types of the schema's fields, as Kong's Admin API does before
// validating (kong/api/arguments.lua): "8080" becomes a number for
// integer and number fields, "true"/"false" booleans, a single string for
// an array or set field a one-element list, a map with keys "1", "2", ...
// a list in key order, and an empty string null (for any known field).
// Values that do not convert are left as they are, so that Process reports
// them. A plugin's config is inferred with the plugin's schema when opts
// has a lookup. The input is not modified.
func (s *Schema) Infer(in map[string]any, opts *ProcessOptions) map[string]any {
	// Subschemas only override validators, never types, so the base
	// fields are enough.
	out := inferRecord(s.Fields, in)
	if s == pluginsSchema && opts != nil && opts.Plugins != nil {
		if name, ok := out["name"].(string); ok {
			if ps, ok := opts.Plugins(name); ok {
				if cfg, ok := out["config"].(map[string]any); ok {
					out["config"] = inferRecord(ps.Fields, cfg)
				}
			}
		}
	}
	return out
}

func inferRecord(fields []*Field, in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if f, ok := fieldByName(fields, k); ok {
			out[k] = inferValue(f, v)
		} else {
			out[k] = v
		}
	}
	return out
}

func inferValue(f *Field, v any) any {
	if f == nil {
		return v
	}
	s, isStr := v.(string)
	if isStr && s == "" {
		// Kong's infer_value: an empty form value is null, whatever
		// the field's type (kong/api/arguments.lua).
		return nil
	}
	switch f.Type {
	case TypeInteger, TypeNumber:
		if !isStr {
			return v
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			if f.Type == TypeInteger {
				if i, ok := toInt(n); ok {
					return i
				}
			}
			return n
		}
	case TypeBoolean:
		if !isStr {
			return v
		}
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
	case TypeArray, TypeSet:
		switch t := v.(type) {
		case string:
			return []any{inferValue(f.Elements, t)}
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = inferValue(f.Elements, e)
			}
			return out
		case []string:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = inferValue(f.Elements, e)
			}
			return out
		case map[string]any:
			if list, ok := indexedList(t); ok {
				for i, e := range list {
					list[i] = inferValue(f.Elements, e)
				}
				return list
			}
		}
	case TypeMap:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				out[k] = inferValue(f.Values, e)
			}
			return out
		}
	case TypeRecord, TypeForeign:
		if m, ok := v.(map[string]any); ok {
			if f.Type == TypeForeign {
				return m
			}
			return inferRecord(f.Fields, m)
		}
	}
	return v
}

// indexedList turns {"1": a, "2": b} into [a, b].
func indexedList(m map[string]any) ([]any, bool) {
	if len(m) == 0 {
		return nil, false
	}
	idx := make([]int, 0, len(m))
	for k := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 {
			return nil, false
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]any, len(idx))
	for j, i := range idx {
		out[j] = m[strconv.Itoa(i)]
	}
	return out, true
}
