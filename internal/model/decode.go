package model

import (
	"encoding"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// This file holds Decode's fast path: a record (map[string]any from Process,
// a store or a reload) is converted straight into the typed entity by
// reflection, without the JSON round trip Decode is defined by. The result
// must be exactly what json.Marshal followed by json.Unmarshal gives, so the
// fast path only takes the shapes whose round trip it knows to be lossless
// (valid UTF-8 strings, integral numbers within 2^53 into integer fields,
// finite floats, exact key names, ...). Anything else makes it give up, and
// Decode then does the round trip itself, errors and all.

// errSlowPath says the fast path cannot decode the record exactly.
var errSlowPath = errors.New("model: decode needs the JSON round trip")

// jsonRoundTrip is Decode's definition.
func jsonRoundTrip(rec map[string]any, dst any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

// decodeFast decodes rec into dst (a non-nil pointer to a zero struct).
func decodeFast(rec map[string]any, dst any) error {
	if rec == nil {
		return errSlowPath // "null" leaves dst alone: the slow path says so
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errSlowPath
	}
	ev := rv.Elem()
	if ev.Kind() != reflect.Struct || !ev.IsZero() {
		// json merges into a non-zero value; only the round trip knows how
		return errSlowPath
	}
	plan := planFor(ev.Type())
	if plan == nil {
		return errSlowPath
	}
	// decode into a scratch value so that a give-up leaves dst untouched
	tmp := reflect.New(ev.Type()).Elem()
	if !decodeStruct(rec, tmp, plan) {
		return errSlowPath
	}
	ev.Set(tmp)
	return nil
}

// structPlan maps JSON keys to struct fields.
type structPlan struct {
	fields map[string]fieldPlan
}

type fieldPlan struct {
	index []int
	typ   reflect.Type
}

var plans sync.Map // reflect.Type -> *structPlan (nil plan stored as planNone)

var planNone = &structPlan{}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

// planFor returns the plan of a struct type, or nil when the type has
// anything the fast path does not model (custom (un)marshalers, embedded
// fields, options in tags, unsupported kinds).
func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		if p == planNone {
			return nil
		}
		return p.(*structPlan)
	}
	p := buildPlan(t, map[reflect.Type]bool{})
	if p == nil {
		plans.Store(t, planNone)
		return nil
	}
	plans.Store(t, p)
	return p
}

func buildPlan(t reflect.Type, seen map[reflect.Type]bool) *structPlan {
	if seen[t] || customCodec(t) {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	p := &structPlan{fields: make(map[string]fieldPlan, t.NumField())}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag, ok := f.Tag.Lookup("json")
		if !ok || tag == "" || strings.Contains(tag, ",") || tag == "-" {
			return nil
		}
		if _, dup := p.fields[tag]; dup {
			return nil
		}
		if !supported(f.Type, seen) {
			return nil
		}
		p.fields[tag] = fieldPlan{index: f.Index, typ: f.Type}
	}
	// JSON matches keys case-insensitively; two fields that fold to the
	// same name would make the fast path's exact match differ from it.
	folded := make(map[string]bool, len(p.fields))
	for name := range p.fields {
		l := strings.ToLower(name)
		if folded[l] {
			return nil
		}
		folded[l] = true
	}
	return p
}

func customCodec(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler) ||
		t.Implements(jsonMarshaler) || pt.Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || pt.Implements(textMarshaler)
}

// supported reports whether the fast path can decode into type t.
func supported(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t.Kind() != reflect.Interface && customCodec(t) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float64:
		return true
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Pointer, reflect.Slice:
		return supported(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && t.Key() == reflect.TypeFor[string]() && supported(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return false // recursive types: leave them to encoding/json
		}
		return buildPlan(t, seen) != nil
	}
	return false
}

func decodeStruct(m map[string]any, sv reflect.Value, plan *structPlan) bool {
	for k, v := range m {
		f, ok := plan.fields[k]
		if !ok {
			// json ignores unknown keys, but also matches keys that differ
			// only in case; only the round trip gets that right
			for i := 0; i < len(k); i++ {
				if k[i] >= utf8.RuneSelf {
					return false // Unicode case folding: leave it to json
				}
			}
			for name := range plan.fields {
				if strings.EqualFold(name, k) {
					return false
				}
			}
			if _, ok := generic(v); !ok {
				return false // json.Marshal would fail or alter it
			}
			continue
		}
		if !decodeValue(v, sv.FieldByIndex(f.index)) {
			return false
		}
	}
	return true
}

// maxExact is the largest integer every float64 below it holds exactly.
const maxExact = 1 << 53

// decodeValue stores v, a generic value, into dst as the JSON round trip
// would, or reports false.
func decodeValue(v any, dst reflect.Value) bool {
	if v == nil {
		switch dst.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			dst.SetZero()
		}
		return true // null into anything else is a no-op
	}
	switch dst.Kind() {
	case reflect.Pointer:
		if isNilValue(v) {
			dst.SetZero()
			return true
		}
		nv := reflect.New(dst.Type().Elem())
		if !decodeValue(v, nv.Elem()) {
			return false
		}
		dst.Set(nv)
		return true
	case reflect.Interface:
		g, ok := generic(v)
		if !ok {
			return false
		}
		if g == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(g))
		}
		return true
	case reflect.String:
		s, ok := v.(string)
		if !ok || !utf8.ValidString(s) {
			return false
		}
		dst.SetString(s)
		return true
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return false
		}
		dst.SetBool(b)
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		switch n := v.(type) {
		case int:
			i = int64(n)
		case int64:
			i = n
		case float64:
			if n != math.Trunc(n) || math.Abs(n) >= maxExact {
				return false
			}
			i = int64(n)
		default:
			return false
		}
		if dst.OverflowInt(i) {
			return false
		}
		dst.SetInt(i)
		return true
	case reflect.Float64:
		switch n := v.(type) {
		case int:
			if n >= maxExact || n <= -maxExact {
				return false
			}
			dst.SetFloat(float64(n))
		case int64:
			if n >= maxExact || n <= -maxExact {
				return false
			}
			dst.SetFloat(float64(n))
		case float64:
			if math.IsInf(n, 0) || math.IsNaN(n) {
				return false
			}
			dst.SetFloat(n)
		default:
			return false
		}
		return true
	case reflect.Slice:
		switch l := v.(type) {
		case []any:
			if l == nil {
				dst.SetZero()
				return true
			}
			out := reflect.MakeSlice(dst.Type(), len(l), len(l))
			for i, e := range l {
				if !decodeValue(e, out.Index(i)) {
					return false
				}
			}
			dst.Set(out)
			return true
		case []string:
			if l == nil {
				dst.SetZero()
				return true
			}
			if dst.Type() == reflect.TypeFor[[]string]() {
				for _, s := range l {
					if !utf8.ValidString(s) {
						return false
					}
				}
				dst.Set(reflect.ValueOf(append(make([]string, 0, len(l)), l...)))
				return true
			}
			out := reflect.MakeSlice(dst.Type(), len(l), len(l))
			for i, e := range l {
				if !decodeValue(e, out.Index(i)) {
					return false
				}
			}
			dst.Set(out)
			return true
		}
		return false
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if m == nil {
			dst.SetZero()
			return true
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		et := dst.Type().Elem()
		for k, e := range m {
			if !utf8.ValidString(k) {
				return false
			}
			ev := reflect.New(et).Elem()
			if !decodeValue(e, ev) {
				return false
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(out)
		return true
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		plan := planFor(dst.Type())
		if plan == nil {
			return false
		}
		return decodeStruct(m, dst, plan)
	}
	return false
}

// isNilValue reports whether v is a typed nil that JSON renders as null.
func isNilValue(v any) bool {
	switch t := v.(type) {
	case []any:
		return t == nil
	case []string:
		return t == nil
	case map[string]any:
		return t == nil
	}
	return false
}

// generic returns v as the JSON round trip gives it back into an any:
// map[string]any, []any, string, float64, bool or nil, always a fresh copy
// of containers.
func generic(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case string:
		if !utf8.ValidString(t) {
			return nil, false
		}
		return t, true
	case bool:
		return t, true
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, false
		}
		return t, true
	case int:
		if t >= maxExact || t <= -maxExact {
			return nil, false
		}
		return float64(t), true
	case int64:
		if t >= maxExact || t <= -maxExact {
			return nil, false
		}
		return float64(t), true
	case []any:
		if t == nil {
			return nil, true
		}
		out := make([]any, len(t))
		for i, e := range t {
			g, ok := generic(e)
			if !ok {
				return nil, false
			}
			out[i] = g
		}
		return out, true
	case []string:
		if t == nil {
			return nil, true
		}
		out := make([]any, len(t))
		for i, e := range t {
			if !utf8.ValidString(e) {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	case map[string]any:
		if t == nil {
			return nil, true
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			if !utf8.ValidString(k) {
				return nil, false
			}
			g, ok := generic(e)
			if !ok {
				return nil, false
			}
			out[k] = g
		}
		return out, true
	}
	return nil, false
}
