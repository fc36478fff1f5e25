package model

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SchemaError is Kong's "schema violation": a tree of field errors. Values of
// Fields are a string (one field's error), a map[string]any (errors inside a
// record or a map, e.g. config.minute), a []any (errors of array or set
// elements: position i holds the error of element i+1, nil where the element
// is valid, which renders as Kong's JSON array with nulls), or, under the key
// "@entity", a []string of entity-level errors.
type SchemaError struct {
	Fields map[string]any
}

// Error renders Kong's message: "schema violation (name: unknown field)" or
// "2 schema violations (a: x; b: y)". Entity-level messages come first, then
// fields in sorted order; one level of nesting is rendered as "a.b: msg",
// deeper levels as a Lua-style table, as Kong does.
func (e *SchemaError) Error() string {
	var buf []string
	if ent, ok := e.Fields["@entity"].([]string); ok {
		buf = append(buf, ent...)
	}
	for _, k := range sortedKeys(e.Fields) {
		if k == "@entity" {
			continue
		}
		switch v := e.Fields[k].(type) {
		case string:
			buf = append(buf, k+": "+v)
		default:
			sub := subErrors(v)
			for _, sk := range sortedKeys(sub) {
				buf = append(buf, k+"."+sk+": "+luaValue(sub[sk]))
			}
		}
	}
	if len(buf) == 1 {
		return "schema violation (" + buf[0] + ")"
	}
	return strconv.Itoa(len(buf)) + " schema violations (" + strings.Join(buf, "; ") + ")"
}

// subErrors flattens one level of an error tree into a map keyed as Kong
// renders it (array positions are 1-based).
func subErrors(v any) map[string]any {
	out := map[string]any{}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			out[k] = e
		}
	case []any:
		for i, e := range t {
			if e != nil {
				out[strconv.Itoa(i+1)] = e
			}
		}
	case []string:
		for i, e := range t {
			out[strconv.Itoa(i+1)] = e
		}
	}
	return out
}

// luaValue renders a nested error like Penlight's pretty.write.
func luaValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	writeLuaTable(&b, v, "")
	return b.String()
}

func writeLuaTable(b *strings.Builder, v any, indent string) {
	var items []any // list part, rendered without keys
	var keyed map[string]any
	switch t := v.(type) {
	case string:
		b.WriteString(strconv.Quote(t))
		return
	case nil:
		b.WriteString("nil")
		return
	case []string:
		for _, s := range t {
			items = append(items, s)
		}
	case []any:
		holes := false
		for _, e := range t {
			if e == nil {
				holes = true
			}
		}
		if holes {
			keyed = subErrors(t)
		} else {
			items = t
		}
	default:
		keyed = subErrors(v)
	}
	b.WriteString("{\n")
	n := 0
	total := len(items) + len(keyed)
	for _, e := range items {
		b.WriteString(indent + "  ")
		writeLuaTable(b, e, indent+"  ")
		n++
		if n < total {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	for _, k := range sortedKeys(keyed) {
		b.WriteString(indent + "  ")
		switch {
		case isNumber(k):
			b.WriteString("[" + k + "]")
		case isIdent(k):
			b.WriteString(k)
		default:
			b.WriteString("[" + strconv.Quote(k) + "]")
		}
		b.WriteString(" = ")
		writeLuaTable(b, keyed[k], indent+"  ")
		n++
		if n < total {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(indent + "}")
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PluginSchemaLookup finds the config schema of a loaded plugin by name.
type PluginSchemaLookup func(name string) (*Schema, bool)

// ProcessOptions tunes Schema.Process.
type ProcessOptions struct {
	// Plugins validates plugin entities' name and config. When nil, plugin
	// names are not checked and config is kept as given.
	Plugins PluginSchemaLookup
	// Partial validates only the fields present in the input (Kong's
	// validate_update for PATCH): absent fields get no default and are not
	// reported as missing, and entity checks whose fields are absent are
	// skipped. The output holds only the fields of the input.
	Partial bool
}

// Schema describes one entity (or a plugin's config record). Core entity
// schemas come from Lookup; plugins declare theirs as a literal, e.g.
//
//	&model.Schema{Name: "my-plugin", Fields: []*model.Field{
//		{Name: "minute", Type: model.TypeNumber, Gt: model.Float(0)},
//		{Name: "policy", Type: model.TypeString, Default: "local",
//			OneOf: []any{"local", "redis"}},
//	}, Checks: []*model.Check{{AtLeastOneOf: []string{"minute"}}}}
//
// A plugin config schema lists the fields of the plugin's "config" record.
// Schemas are immutable once built and safe for concurrent use.
type Schema struct {
	Name        string // DAO name, e.g. "services"
	EndpointKey string // e.g. "name"; "" when lookup is by id only

	// PrimaryKey is the primary key field list (default ["id"]).
	PrimaryKey []string
	// CacheKey lists the fields that identify an entity uniquely besides the
	// primary key (Kong's cache_key, e.g. targets: upstream, target).
	CacheKey []string
	// AdminName and AdminNestedName are the Admin API collection names of
	// plugin-owned DAOs ("key-auths", "key-auth"); empty for core entities.
	AdminName       string
	AdminNestedName string

	Fields []*Field
	Checks []*Check

	// TTL is Kong's ttl = true: the entity may expire. Its stored "ttl" is
	// the expiry as Unix seconds (what Kong's declarative export writes),
	// kept unvalidated; the Admin API takes a ttl in seconds from now as a
	// write option and answers the seconds left (see TTLLeft).
	TTL bool

	// Shorthands rewrite input before validation (e.g. service url). Each
	// returns the fields to set, or an error message placed on the
	// shorthand's own name.
	Shorthands []Shorthand

	// SubschemaKey names a field whose value selects one of Subschemas (for
	// a set, its first element with a subschema). A subschema's fields
	// replace the parent's fields of the same name; its checks are added.
	SubschemaKey string
	Subschemas   map[string]*Schema

	// Protocols and NoConsumer are for plugin config schemas: the default
	// (and allowed set) of the plugin entity's protocols, and whether the
	// plugin refuses consumer scoping. Zero values mean Kong's generic
	// defaults.
	Protocols  []string
	NoConsumer bool
	// ConfigValidator, for a plugin config schema, is Kong's
	// custom_validator of the config record: it sees the processed config
	// once its fields are valid and returns "" or a message, which Kong
	// reports as the whole config's error ({"config": "<message>"}).
	ConfigValidator func(config map[string]any) string

	// Generate fills auto-generated fields of a new record (e.g. the key of
	// a key-auth credential) after validation. Process never calls it;
	// callers creating entities call Schema.Generated.
	Generate func(rec map[string]any)

	byName map[string]*Field
}

// Shorthand is a write-only input field that expands into other fields
// (Kong's shorthand_fields).
type Shorthand struct {
	Name   string
	Expand func(v any) (map[string]any, string)
	// Field, when set, checks the value (type, len_min...) before Expand,
	// and is what GET /schemas/plugins/{name} shows of it.
	Field *Field
	// Deprecation makes it a deprecated alias of the fields it replaces
	// (Kong 3.8+): what Expand gives fills a replaced field only where the
	// input leaves it unset or null; the alias and a replaced field given
	// with different values is an error; answers show the replaced field's
	// value under the alias's name (see Backwards).
	Deprecation *Deprecation
}

// Deprecation is a shorthand's deprecation as Kong's schemas describe it.
type Deprecation struct {
	Message          string
	RemovalInVersion string
	// ReplacedWith are the paths (from the record holding the shorthand)
	// of the fields that replace it.
	ReplacedWith [][]string
}

// mismatch is Kong's validate_deprecation_exclusiveness: a deprecated
// alias and the field replacing it, both given with different values.
func (sh *Shorthand) mismatch(in map[string]any, v any) string {
	if sh.Deprecation == nil {
		return ""
	}
	for _, path := range sh.Deprecation.ReplacedWith {
		cur, ok := valueAt(in, path)
		if !ok || cur == nil || sameValue(cur, v) {
			continue
		}
		return fmt.Sprintf("both deprecated and new field are used but their values mismatch: %s = %s vs %s = %s",
			sh.Name, luaString(v), strings.Join(path, "."), luaString(cur))
	}
	return ""
}

// combine merges what a shorthand expands to (x) into the input's value
// of that field (cur). A plain shorthand overwrites (a record field by
// field); a deprecated one only fills what is unset or null.
func (sh *Shorthand) combine(cur, x any) any {
	xm, xok := x.(map[string]any)
	cm, cok := cur.(map[string]any)
	if !xok {
		if sh.Deprecation != nil && cur != nil {
			return cur
		}
		return x
	}
	out := make(map[string]any, len(xm)+len(cm))
	if sh.Deprecation != nil {
		for k, v := range xm {
			out[k] = v
		}
		for k, v := range cm {
			if _, set := out[k]; !set || v != nil {
				out[k] = v
			}
		}
		return out
	}
	if !cok {
		return x
	}
	for k, v := range cm {
		out[k] = v
	}
	for k, v := range xm {
		out[k] = v
	}
	return out
}

// FoldShorthands returns cfg, a stored record, with the shorthands it
// holds folded into the fields they stand for, as processing an input
// does (without checking them): a config stored by an earlier sluice may
// hold the deprecated redis_* or endpoint fields as plain fields. cfg is
// not modified.
func (s *Schema) FoldShorthands(cfg map[string]any) map[string]any {
	var out map[string]any
	for _, sh := range s.Shorthands {
		v, ok := cfg[sh.Name]
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(cfg))
			for k, x := range cfg {
				out[k] = x
			}
		}
		delete(out, sh.Name)
		if v == nil {
			continue
		}
		set, msg := sh.Expand(v)
		if msg != "" {
			continue
		}
		for k, x := range set {
			out[k] = sh.combine(out[k], x)
		}
	}
	if out == nil {
		return cfg
	}
	return out
}

// ShorthandTargets lists the paths of the fields a shorthand given v
// sets (what Expand returns, records followed one level down); nil when
// v does not expand.
func (sh *Shorthand) ShorthandTargets(v any) [][]string {
	set, msg := sh.Expand(v)
	if msg != "" {
		return nil
	}
	var out [][]string
	for k, x := range set {
		if m, ok := x.(map[string]any); ok {
			for sub := range m {
				out = append(out, []string{k, sub})
			}
			continue
		}
		out = append(out, []string{k})
	}
	return out
}

// Backwards adds to a processed plugin config, for an answer, the value
// of every deprecated alias: the value of the first field replacing it,
// as Kong 3.9 does on reads. cfg is not modified; the result shares its
// values.
func (s *Schema) Backwards(cfg map[string]any) map[string]any {
	var out map[string]any
	for _, sh := range s.Shorthands {
		if sh.Deprecation == nil || len(sh.Deprecation.ReplacedWith) == 0 {
			continue
		}
		v, ok := valueAt(cfg, sh.Deprecation.ReplacedWith[0])
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(cfg)+len(s.Shorthands))
			for k, x := range cfg {
				out[k] = x
			}
		}
		out[sh.Name] = v
	}
	if out == nil {
		return cfg
	}
	return out
}

// valueAt follows path through nested records.
func valueAt(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// sameValue compares two generic values, numbers by value.
func sameValue(a, b any) bool {
	if x, ok := Number(a); ok {
		y, ok := Number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

// luaString renders a scalar as Lua's tostring does in Kong's messages.
func luaString(v any) string {
	if n, ok := Number(v); ok {
		if n == math.Trunc(n) && math.Abs(n) < 1e15 {
			return strconv.FormatInt(int64(n), 10)
		}
		return strconv.FormatFloat(n, 'g', 14, 64)
	}
	return fmt.Sprint(v)
}

// Field returns the schema's field of that name.
func (s *Schema) Field(name string) (*Field, bool) {
	if s.byName == nil {
		for _, f := range s.Fields {
			if f.Name == name {
				return f, true
			}
		}
		return nil, false
	}
	f, ok := s.byName[name]
	return f, ok
}

// Generated returns a copy of rec with the schema's auto-generated values
// (credential keys, secrets) filled where they are absent or null.
func (s *Schema) Generated(rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	if s.Generate != nil {
		s.Generate(out)
	}
	return out
}

func (s *Schema) index() {
	s.byName = make(map[string]*Field, len(s.Fields))
	for _, f := range s.Fields {
		s.byName[f.Name] = f
	}
	for _, sub := range s.Subschemas {
		if sub.byName == nil {
			sub.index()
		}
	}
}

// Lookup returns the schema of a core entity by its DAO name ("services",
// "routes", ..., "keyauth_credentials", "acls").
func Lookup(entity string) (*Schema, bool) {
	s, ok := entitySchemas[entity]
	return s, ok
}

// Entities lists the DAO names Lookup knows, in Kong's dependency order.
func Entities() []string {
	return append([]string(nil), entityOrder...)
}

// Process validates a generic input (decoded JSON/YAML/form: values are
// string, bool, float64/int, []any, map[string]any, nil), expands shorthands
// (service url), rejects unknown fields, fills defaults, and returns the
// normalised record with every schema field present (null where unset). It
// generates nothing: id, timestamps and credential keys are the caller's
// (see Generated). The input is never modified; the record shares no
// mutable value with the schema. The error is a *SchemaError: compare it
// with nil before storing it in an error variable (a nil *SchemaError in an
// error interface is not nil).
func (s *Schema) Process(in map[string]any, opts *ProcessOptions) (map[string]any, *SchemaError) {
	if opts == nil {
		opts = &ProcessOptions{}
	}
	p := &processor{opts: opts}
	out, errs := p.record(s, in, true)
	if len(errs) > 0 {
		return nil, &SchemaError{Fields: errs}
	}
	return out, nil
}

// ValidateValue checks one value of a top-level field as Kong's
// schema:validate_field does (type and validators, no defaults, no
// entity checks): "" when valid, else Kong's message. The Admin API checks
// an endpoint key given in a URL this way before looking it up.
func (s *Schema) ValidateValue(field string, v any) string {
	f, ok := s.Field(field)
	if !ok {
		return "unknown field"
	}
	p := &processor{opts: &ProcessOptions{}}
	_, err := p.value(f, v)
	switch e := err.(type) {
	case nil:
		return ""
	case string:
		return e
	default:
		return fmt.Sprint(e)
	}
}

// Decode converts a record returned by Process into its typed entity
// (dst is a pointer to Service, Route, ...). The result, error included, is
// that of a JSON round trip (json.Marshal of rec, json.Unmarshal into dst);
// records of the usual shapes take a direct path that builds the same
// values without the intermediate text.
func Decode(rec map[string]any, dst any) error {
	if err := decodeFast(rec, dst); !errors.Is(err, errSlowPath) {
		return err
	}
	return jsonRoundTrip(rec, dst)
}

// MaxTTL is the largest ttl Kong accepts, in seconds: a bit over three
// years. A stored ttl up to it is a count of seconds from created_at
// (what sluice stored before it kept Kong's absolute expiry); a larger one
// is the expiry itself, in Unix seconds (any date after 1973).
const MaxTTL = 100000000

// Expiry is the expiry, in Unix seconds, of an entity's stored ttl and
// created_at (see MaxTTL); ok is false for none (no ttl, or a relative
// 0).
func Expiry(ttl, createdAt any) (expiry float64, ok bool) {
	e, ok := Number(ttl)
	if !ok {
		return 0, false
	}
	if e <= MaxTTL {
		if e <= 0 {
			return 0, false
		}
		c, _ := Number(createdAt)
		e += c
	}
	return e, true
}

// TTLLeft is Kong's ttl of an expiring entity record as the Admin API
// answers it: the whole seconds left before expiry, and whether the
// entity is live. No expiry is (nil, true). Kong treats a credential with
// 0 seconds left as expired.
func TTLLeft(rec map[string]any, now time.Time) (left any, live bool) {
	e, ok := Expiry(rec["ttl"], rec["created_at"])
	if !ok {
		return nil, true
	}
	l := math.Floor(e - float64(now.UnixNano())/1e9)
	if l <= 0 {
		return 0, false
	}
	return int64(l), true
}

// HasPath reports whether m holds a value (null included) at path.
func HasPath(m map[string]any, path []string) bool {
	_, ok := valueAt(m, path)
	return ok
}

// WithoutPath returns a copy of m without the value at path, copying the
// records on the way; m is not modified.
func WithoutPath(m map[string]any, path []string) map[string]any {
	if len(path) == 0 {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if len(path) == 1 {
		delete(out, path[0])
		return out
	}
	if sub, ok := out[path[0]].(map[string]any); ok {
		out[path[0]] = WithoutPath(sub, path[1:])
	}
	return out
}
