package model

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Kong's generic validation messages (kong/db/schema/init.lua).
const (
	errRequired  = "required field missing"
	errUnknown   = "unknown field"
	errString    = "expected a string"
	errInteger   = "expected an integer"
	errNumber    = "expected a number"
	errBoolean   = "expected a boolean"
	errArray     = "expected an array"
	errSet       = "expected a set"
	errMap       = "expected a map"
	errRecord    = "expected a record"
	errUUID      = "expected a valid UUID"
	errEntityKey = "@entity"
)

type processor struct {
	opts *ProcessOptions
}

// errTree collects errors of one record.
type errTree map[string]any

func (e errTree) entity(msg string) {
	cur, _ := e[errEntityKey].([]string)
	for _, m := range cur {
		if m == msg {
			return
		}
	}
	e[errEntityKey] = append(cur, msg)
}

func (e errTree) field(name string, err any) {
	if _, ok := e[name]; !ok {
		e[name] = err
	}
}

// record processes an entity (top) with its schema: shorthands, subschema,
// fields, checks and, for plugins, the plugin's config schema.
func (p *processor) record(s *Schema, in map[string]any, top bool) (map[string]any, errTree) {
	errs := errTree{}
	if in == nil {
		in = map[string]any{}
	}
	// Shorthands expand first; the input map is never modified.
	in = p.shorthands(s, in, errs)

	fields, checks := s.Fields, s.Checks
	if s.SubschemaKey != "" && len(s.Subschemas) > 0 {
		if sub := p.pickSubschema(s, in); sub != nil {
			fields, checks = mergeSubschema(s, sub)
		}
	}

	var pluginSchema *Schema
	if s == pluginsSchema && p.opts.Plugins != nil {
		if name, ok := in["name"].(string); ok && name != "" {
			ps, found := p.opts.Plugins(name)
			if !found {
				errs.field("name", "plugin '"+name+"' not enabled; add it to the 'plugins' configuration property")
			} else {
				pluginSchema = ps
			}
		}
	}

	// An entity with Kong's ttl = true carries its expiry in "ttl", which
	// Kong leaves unvalidated (Schema.new's unvalidated_fields).
	ttl, hasTTL := in["ttl"]
	if top && s.TTL && hasTTL {
		cp := make(map[string]any, len(in))
		for k, x := range in {
			cp[k] = x
		}
		delete(cp, "ttl")
		in = cp
	}
	out, ferrs := p.fields(fields, checks, in, s == pluginsSchema, pluginSchema)
	if top && s.TTL && hasTTL && ttl != nil {
		// Kong does not check it, and fails when it reads a ttl that is
		// not a number; refuse that here instead.
		if n, ok := Number(ttl); ok {
			out["ttl"] = n
		} else {
			errs.field("ttl", "expected a number")
		}
	}
	for k, v := range ferrs {
		if k == errEntityKey {
			for _, m := range v.([]string) {
				errs.entity(m)
			}
			continue
		}
		errs.field(k, v)
	}
	return out, errs
}

// shorthands expands s's shorthand fields in in, adding their errors to
// errs; it returns in itself when there are none, else a copy.
func (p *processor) shorthands(s *Schema, in map[string]any, errs errTree) map[string]any {
	if len(s.Shorthands) > 0 {
		var cp map[string]any
		for _, sh := range s.Shorthands {
			v, ok := in[sh.Name]
			if !ok {
				continue
			}
			if cp == nil {
				cp = make(map[string]any, len(in)+4)
				for k, x := range in {
					cp[k] = x
				}
			}
			delete(cp, sh.Name)
			if v == nil {
				continue
			}
			if sh.Field != nil {
				if _, err := p.value(sh.Field, v); err != nil {
					errs.field(sh.Name, err)
					continue
				}
			}
			if msg := sh.mismatch(in, v); msg != "" {
				errs.field(sh.Name, msg)
				continue
			}
			set, msg := sh.Expand(v)
			if msg != "" {
				errs.field(sh.Name, msg)
				continue
			}
			for k, x := range set {
				cp[k] = sh.combine(cp[k], x)
			}
		}
		if cp != nil {
			in = cp
		}
	}
	return in
}

func (p *processor) pickSubschema(s *Schema, in map[string]any) *Schema {
	v, ok := in[s.SubschemaKey]
	if !ok {
		if f, found := fieldByName(s.Fields, s.SubschemaKey); found && f.Default != nil {
			v = f.Default
		}
	}
	switch t := v.(type) {
	case string:
		return s.Subschemas[t]
	case []any:
		for _, e := range t {
			if str, ok := e.(string); ok {
				if sub := s.Subschemas[str]; sub != nil {
					return sub
				}
			}
		}
	case []string:
		for _, str := range t {
			if sub := s.Subschemas[str]; sub != nil {
				return sub
			}
		}
	}
	return nil
}

func mergeSubschema(s, sub *Schema) ([]*Field, []*Check) {
	fields := make([]*Field, len(s.Fields))
	copy(fields, s.Fields)
	for i, f := range fields {
		if o, ok := fieldByName(sub.Fields, f.Name); ok {
			fields[i] = o
		}
	}
	checks := make([]*Check, 0, len(s.Checks)+len(sub.Checks))
	checks = append(checks, s.Checks...)
	checks = append(checks, sub.Checks...)
	return fields, checks
}

func fieldByName(fields []*Field, name string) (*Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// fields processes a record's fields and checks.
func (p *processor) fields(fields []*Field, checks []*Check, in map[string]any, isPlugin bool, pluginSchema *Schema) (map[string]any, errTree) {
	errs := errTree{}
	out := make(map[string]any, len(fields))
	for k := range in {
		if _, ok := fieldByName(fields, k); !ok {
			errs.field(k, errUnknown)
		}
	}
	for _, f := range fields {
		v, present := in[f.Name]
		if isPlugin && f.Name == "config" {
			if p.opts.Partial && !present {
				continue
			}
			cv, cerr := p.pluginConfig(f, v, present, pluginSchema)
			out[f.Name] = cv
			if cerr != nil {
				errs.field(f.Name, cerr)
			}
			continue
		}
		if isPlugin && f.Name == "protocols" && !present && pluginSchema != nil && len(pluginSchema.Protocols) > 0 {
			v, present = toAnySlice(pluginSchema.Protocols), true
		}
		if isPlugin && f.Name == "consumer" && pluginSchema != nil && pluginSchema.NoConsumer && present && v != nil {
			out[f.Name] = v
			errs.field(f.Name, "value must be null")
			continue
		}
		if !present {
			if p.opts.Partial {
				continue
			}
			dv, derr := p.absent(f)
			out[f.Name] = dv
			if derr != nil {
				errs.field(f.Name, derr)
			}
			continue
		}
		if v == nil {
			out[f.Name] = nil
			if f.Required {
				errs.field(f.Name, errRequired)
			}
			continue
		}
		nv, ferr := p.value(f, v)
		out[f.Name] = nv
		if ferr != nil {
			errs.field(f.Name, ferr)
		}
	}
	if isPlugin && pluginSchema != nil && len(pluginSchema.Protocols) > 0 {
		if perr := checkPluginProtocols(out["protocols"], pluginSchema.Protocols); perr != nil {
			errs.field("protocols", perr)
		}
	}
	p.checks(checks, fields, out, in, errs)
	return out, errs
}

// checkPluginProtocols checks each element of a plugin's protocols against
// the plugin's own list, as Kong's per-plugin protocols typedef does; the
// error is per element.
func checkPluginProtocols(v any, allowed []string) any {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	var errs []any
	for i, e := range list {
		s, _ := e.(string)
		found := false
		for _, a := range allowed {
			if a == s {
				found = true
				break
			}
		}
		if !found {
			if errs == nil {
				errs = make([]any, len(list))
			}
			errs[i] = "expected one of: " + strings.Join(allowed, ", ")
		}
	}
	if errs == nil {
		return nil
	}
	n := len(errs)
	for n > 0 && errs[n-1] == nil {
		n--
	}
	return errs[:n]
}

// pluginConfig validates a plugin's config with the plugin's schema.
func (p *processor) pluginConfig(f *Field, v any, present bool, ps *Schema) (any, any) {
	if ps == nil {
		// Unknown plugin or no lookup: keep config as given.
		if !present {
			if p.opts.Plugins == nil {
				return nil, nil
			}
			return nil, nil
		}
		if v != nil {
			if _, ok := v.(map[string]any); !ok {
				return v, errRecord
			}
		}
		return v, nil
	}
	if !present || v == nil {
		v = map[string]any{}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v, errRecord
	}
	m = autoConfigFields(ps, m)
	serrs := errTree{}
	m = p.shorthands(ps, m, serrs)
	out, errs := p.fields(ps.Fields, ps.Checks, m, false, nil)
	for k, v := range serrs {
		errs.field(k, v)
	}
	if len(errs) > 0 {
		return out, map[string]any(errs)
	}
	if ps.ConfigValidator != nil {
		if msg := ps.ConfigValidator(out); msg != "" {
			return out, msg
		}
	}
	return out, nil
}

// autoConfigFields fills the auto string fields of a plugin config (the
// oauth2 plugin's provision_key) that are absent or null with a random
// value, as Kong does when it inserts the plugin; m itself is not changed.
func autoConfigFields(ps *Schema, m map[string]any) map[string]any {
	var out map[string]any
	for _, f := range ps.Fields {
		if !f.Auto || f.Type != TypeString || m[f.Name] != nil {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(m)+1)
			for k, v := range m {
				out[k] = v
			}
		}
		out[f.Name] = RandomKey()
	}
	if out == nil {
		return m
	}
	return out
}

// absent returns the value of a field missing from the input, as Kong's
// handle_missing_field: the default, else null for optional fields, else
// (required) an expanded record or a "required field missing" error.
func (p *processor) absent(f *Field) (any, any) {
	if f.Default != nil {
		if f.Type == TypeRecord {
			// Nested defaults are filled in by processing the copy.
			return p.value(f, cloneValue(f.Default))
		}
		return cloneValue(f.Default), nil
	}
	if !f.Required {
		return nil, nil
	}
	if f.Type == TypeRecord && !f.NoAutoRecord {
		return p.value(f, map[string]any{})
	}
	return nil, errRequired
}

// value type-checks, coerces and validates a non-null value.
func (p *processor) value(f *Field, v any) (any, any) {
	if f.EqNull {
		if f.Err != "" {
			return v, f.Err
		}
		return v, "value must be null"
	}
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return v, errString
		}
		if len(s) == 0 && f.LenMin == 0 && f.LenEq == nil && !f.EmptyOK {
			if f.Err != "" {
				return v, f.Err
			}
			return v, "length must be at least 1"
		}
		if f.Referenceable && IsVaultReference(s) {
			// Kong validates the dereferenced value later, not the
			// reference.
			return s, nil
		}
		return s, validateScalar(f, s)
	case TypeInteger:
		n, ok := toInt(v)
		if !ok {
			return v, errInteger
		}
		return n, validateScalar(f, n)
	case TypeNumber:
		n, ok := toFloat(v)
		if !ok {
			return v, errNumber
		}
		return n, validateScalar(f, n)
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return v, errBoolean
		}
		return b, validateScalar(f, b)
	case TypeArray, TypeSet:
		list, ok := toAnyList(v)
		if !ok {
			if f.Type == TypeSet {
				return v, errSet
			}
			return v, errArray
		}
		return p.list(f, list)
	case TypeMap:
		m, ok := toAnyMap(v)
		if !ok {
			return v, errMap
		}
		return p.mapValue(f, m)
	case TypeRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return v, errRecord
		}
		out, errs := p.fields(f.Fields, f.Checks, m, false, nil)
		if len(errs) > 0 {
			return out, map[string]any(errs)
		}
		if msg := validateCommon(f, out); msg != "" {
			return out, msg
		}
		return out, nil
	case TypeForeign:
		return p.foreign(f, v)
	case "":
		return v, validateScalar(f, v)
	}
	return v, nil
}

func (p *processor) list(f *Field, list []any) (any, any) {
	out := make([]any, 0, len(list))
	var elemErrs []any
	seen := map[string]bool{}
	for i, e := range list {
		var nv any
		var err any
		if e == nil {
			err = errRequired
		} else if f.Elements != nil {
			nv, err = p.value(f.Elements, e)
		} else {
			nv = e
		}
		if err != nil {
			if elemErrs == nil {
				elemErrs = make([]any, len(list))
			}
			elemErrs[i] = err
		}
		if f.Type == TypeSet && err == nil {
			k := setKey(nv)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, nv)
	}
	if elemErrs != nil {
		// Trim trailing nils so the JSON array ends with the last error.
		n := len(elemErrs)
		for n > 0 && elemErrs[n-1] == nil {
			n--
		}
		return out, elemErrs[:n]
	}
	if msg := validateCommon(f, out); msg != "" {
		return out, msg
	}
	return out, nil
}

func setKey(v any) string {
	switch t := v.(type) {
	case string:
		return "s" + t
	case int:
		return "i" + strconv.Itoa(t)
	}
	b, _ := json.Marshal(v)
	return "j" + string(b)
}

// mapValue validates a map; like Kong it reports only the first error (in
// key order) as the field's error.
func (p *processor) mapValue(f *Field, m map[string]any) (any, any) {
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		if f.Keys != nil {
			if _, kerr := p.value(f.Keys, k); kerr != nil {
				return m, kerr
			}
		}
		if v == nil {
			return m, errRequired
		}
		if f.Values != nil {
			nv, verr := p.value(f.Values, v)
			if verr != nil {
				return m, verr
			}
			out[k] = nv
		} else {
			out[k] = v
		}
	}
	if msg := validateCommon(f, out); msg != "" {
		return out, msg
	}
	return out, nil
}

// foreign validates a foreign key like Kong's validate_primary_key: the
// value must carry a valid "id"; other keys are ignored (dropped from the
// record), except the referenced entity's endpoint key (e.g. a service
// "name"), which is kept for the caller to resolve when "id" is absent.
func (p *processor) foreign(f *Field, v any) (any, any) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, map[string]any{"id": "missing primary key"}
	}
	endpointKey := ""
	if ref, ok := entitySchemas[f.Reference]; ok {
		endpointKey = ref.EndpointKey
	}
	id, hasID := m["id"]
	if !hasID {
		if endpointKey != "" {
			if ek, ok := m[endpointKey].(string); ok && ek != "" {
				return map[string]any{endpointKey: ek}, nil
			}
		}
		return v, map[string]any{"id": "missing primary key"}
	}
	if id == nil {
		return v, map[string]any{"id": errRequired}
	}
	s, ok := id.(string)
	if !ok {
		return v, map[string]any{"id": errString}
	}
	if !isUUID(s) {
		return v, map[string]any{"id": errUUID}
	}
	return map[string]any{"id": s}, nil
}

// validateScalar runs the generic validators on a typed value and returns
// nil or the message.
func validateScalar(f *Field, v any) any {
	if msg := validateCommon(f, v); msg != "" {
		return msg
	}
	return nil
}

// validateCommon runs Kong's generic validators in Kong's order
// (Schema.validators_order) and returns the first failure's message (the
// field's Err when set), or "".
func validateCommon(f *Field, v any) string {
	msg := validateOrdered(f, v)
	if msg != "" && f.Err != "" {
		return f.Err
	}
	return msg
}

func validateOrdered(f *Field, v any) string {
	if f.Eq != nil && !equalValue(v, f.Eq) {
		return "value must be " + formatAny(f.Eq)
	}
	if f.Ne != nil && equalValue(v, f.Ne) {
		return "value must not be " + formatAny(v)
	}
	if len(f.NotOneOf) > 0 && v != nil {
		for _, o := range f.NotOneOf {
			if equalValue(v, o) {
				return "must not be one of: " + joinAny(f.NotOneOf)
			}
		}
	}
	if len(f.OneOf) > 0 && v != nil {
		found := false
		for _, o := range f.OneOf {
			if equalValue(v, o) {
				found = true
				break
			}
		}
		if !found {
			return "expected one of: " + joinAny(f.OneOf)
		}
	}
	if f.Gt != nil {
		if n, ok := toFloat(v); ok && !(n > *f.Gt) {
			return "value must be greater than " + formatNum(*f.Gt)
		}
	}
	if f.Timestamp {
		if n, ok := toFloat(v); ok && n <= 0 {
			return "expected a valid timestamp"
		}
	}
	if f.UUID {
		if s, ok := v.(string); ok && !isUUID(s) {
			return errUUID
		}
	}
	if f.Between != nil {
		if n, ok := toFloat(v); ok && (n < f.Between[0] || n > f.Between[1]) {
			return "value should be between " + formatNum(f.Between[0]) + " and " + formatNum(f.Between[1])
		}
	}
	if f.LenEq != nil || f.LenMin > 0 || f.LenMax > 0 {
		if n := valueLen(v); n >= 0 {
			if f.LenEq != nil && n != *f.LenEq {
				return "length must be " + strconv.Itoa(*f.LenEq)
			}
			if f.LenMin > 0 && n < f.LenMin {
				return "length must be at least " + strconv.Itoa(f.LenMin)
			}
			if f.LenMax > 0 && n > f.LenMax {
				return "length must be at most " + strconv.Itoa(f.LenMax)
			}
		}
	}
	if s, ok := v.(string); ok {
		if f.StartsWith != "" && !strings.HasPrefix(s, f.StartsWith) {
			return "should start with: " + f.StartsWith
		}
		for _, r := range f.MatchNone {
			if compiled(r.Pattern).MatchString(s) {
				if r.Err != "" {
					return r.Err
				}
				return "invalid value: " + s
			}
		}
		if f.Match != "" && !compiled(f.Match).MatchString(s) {
			return "invalid value: " + s
		}
		for _, r := range f.MatchAll {
			if !compiled(r.Pattern).MatchString(s) {
				if r.Err != "" {
					return r.Err
				}
				return "invalid value: " + s
			}
		}
		if f.MatchAny != nil {
			ok := false
			for _, pat := range f.MatchAny.Patterns {
				if compiled(pat).MatchString(s) {
					ok = true
					break
				}
			}
			if !ok {
				if f.MatchAny.Err != "" {
					return f.MatchAny.Err
				}
				return "invalid value: " + s
			}
		}
	}
	if f.Contains != nil {
		if list, ok := v.([]any); ok {
			found := false
			for _, e := range list {
				if equalValue(e, f.Contains) {
					found = true
					break
				}
			}
			if !found {
				return "expected to contain: " + formatAny(f.Contains)
			}
		}
	}
	if f.Custom != nil && v != nil {
		if msg := f.Custom(v); msg != "" {
			return msg
		}
	}
	if len(f.MutuallyExclusiveSubsets) > 0 {
		if msg := checkExclusiveSubsets(f.MutuallyExclusiveSubsets, v); msg != "" {
			return msg
		}
	}
	return ""
}

func checkExclusiveSubsets(groups [][]string, v any) string {
	list, ok := v.([]any)
	if !ok {
		return ""
	}
	used := make([]bool, len(groups))
	var parts []string
	for _, e := range list {
		s, _ := e.(string)
		for gi, g := range groups {
			for _, m := range g {
				if m == s && !used[gi] {
					used[gi] = true
					parts = append(parts, "("+quoteList(g)+")")
				}
			}
		}
	}
	if len(parts) < 2 {
		return ""
	}
	return "these sets are mutually exclusive: " + strings.Join(parts, ", ")
}

// matchSpec reports whether v satisfies the spec of a conditional check,
// returning the failure message.
func (p *processor) matchSpec(spec *Field, v any) string {
	if v == nil {
		if spec.Required {
			return errRequired
		}
		return ""
	}
	if spec.EqNull {
		return "value must be null"
	}
	if spec.Type != "" {
		_, err := p.value(spec, v)
		return errString1(err)
	}
	if spec.Elements != nil {
		if list, ok := v.([]any); ok {
			for _, e := range list {
				if _, err := p.value(spec.Elements, e); err != nil {
					return errString1(err)
				}
			}
		}
	}
	return validateCommon(spec, v)
}

func errString1(err any) string {
	switch t := err.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}

// checks runs entity checks on a processed record, like Kong's
// run_entity_check: at_least_one_of, conditional_at_least_one_of,
// only_one_of, distinct and conditional run even when their fields have
// errors; the others (and custom checks) are skipped then. In Partial mode
// a check is skipped when none of its fields is in the input.
func (p *processor) checks(checks []*Check, fields []*Field, out, in map[string]any, errs errTree) {
	invalid := func(names ...string) bool {
		for _, n := range names {
			if _, bad := errs[rootName(n)]; bad {
				return true
			}
		}
		return false
	}
	absent := func(names ...string) bool {
		if !p.opts.Partial {
			return false
		}
		for _, n := range names {
			if _, ok := in[rootName(n)]; ok {
				return false
			}
		}
		return true
	}
	countNonEmpty := func(names []string) (n int, set []string) {
		for _, f := range names {
			if nonEmpty(getPath(out, f)) {
				n++
				set = append(set, f)
			}
		}
		return n, set
	}
	for _, c := range checks {
		switch {
		case c.AtLeastOneOf != nil:
			if absent(c.AtLeastOneOf...) {
				continue
			}
			if n, _ := countNonEmpty(c.AtLeastOneOf); n == 0 {
				errs.entity("at least one of these fields must be non-empty: " + quoteList(c.AtLeastOneOf))
			}
		case c.OnlyOneOf != nil:
			if absent(c.OnlyOneOf...) {
				continue
			}
			if n, _ := countNonEmpty(c.OnlyOneOf); n != 1 {
				errs.entity("exactly one of these fields must be non-empty: " + quoteList(c.OnlyOneOf))
			}
		case c.Distinct != nil:
			if absent(c.Distinct...) {
				continue
			}
			seen := map[string]bool{}
			for _, f := range c.Distinct {
				v := getPath(out, f)
				if !nonEmpty(v) {
					continue
				}
				k := setKey(v)
				if seen[k] {
					errs.entity("values of these fields must be distinct: " + quoteList(c.Distinct))
					break
				}
				seen[k] = true
			}
		case c.MutuallyRequired != nil:
			if absent(c.MutuallyRequired...) || invalid(c.MutuallyRequired...) {
				continue
			}
			if n, _ := countNonEmpty(c.MutuallyRequired); n != 0 && n != len(c.MutuallyRequired) {
				errs.entity("all or none of these fields must be set: " + quoteList(c.MutuallyRequired))
			}
		case c.MutuallyExclusive != nil:
			if absent(c.MutuallyExclusive...) || invalid(c.MutuallyExclusive...) {
				continue
			}
			if n, _ := countNonEmpty(c.MutuallyExclusive); n > 1 {
				errs.entity("only one or none of these fields must be set: " + quoteList(c.MutuallyExclusive))
			}
		case c.MutuallyExclusiveSets != nil:
			s1, s2 := c.MutuallyExclusiveSets[0], c.MutuallyExclusiveSets[1]
			all := append(append([]string{}, s1...), s2...)
			if absent(all...) || invalid(all...) {
				continue
			}
			n1, set1 := countNonEmpty(s1)
			n2, set2 := countNonEmpty(s2)
			if n1 > 0 && n2 > 0 {
				errs.entity("these sets are mutually exclusive: (" + quoteList(set1) + "), (" + quoteList(set2) + ")")
			}
		case c.Conditional != nil:
			cd := c.Conditional
			if absent(cd.IfField, cd.ThenField) {
				continue
			}
			iv := getPath(out, cd.IfField)
			if iv == nil || p.matchSpec(cd.IfMatch, iv) != "" {
				continue
			}
			if msg := p.matchSpec(cd.ThenMatch, getPath(out, cd.ThenField)); msg != "" {
				if cd.ThenErr != "" {
					errs.entity(strings.Replace(cd.ThenErr, "%s", cd.IfField, 1))
				} else {
					errs.entity("failed conditional validation given value of field '" + cd.IfField + "'")
				}
				errs[rootName(cd.ThenField)] = msg
			}
		case c.ConditionalAtLeastOneOf != nil:
			cd := c.ConditionalAtLeastOneOf
			iv := getPath(out, cd.IfField)
			if iv == nil || absent(append(append([]string{cd.IfField}, cd.ThenAtLeastOneOf...), cd.ElseThenAtLeastOneOf...)...) {
				continue
			}
			var list []string
			var msg string
			if p.matchSpec(cd.IfMatch, iv) == "" {
				list, msg = cd.ThenAtLeastOneOf, cd.ThenErr
			} else if cd.ElseMatch != nil && p.matchSpec(cd.ElseMatch, iv) == "" {
				list, msg = cd.ElseThenAtLeastOneOf, cd.ElseThenErr
			} else {
				continue
			}
			if n, _ := countNonEmpty(list); n == 0 {
				if msg == "" {
					msg = "at least one of these fields must be non-empty: %s"
				}
				errs.entity(strings.Replace(msg, "%s", quoteList(list), 1))
			}
		case c.Custom != nil:
			if absent(c.Custom.Fields...) || invalid(c.Custom.Fields...) {
				continue
			}
			ent, fe := c.Custom.Fn(out)
			for _, m := range ent {
				errs.entity(m)
			}
			for k, v := range fe {
				errs.field(k, v)
			}
		}
	}
}

func rootName(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

func getPath(rec map[string]any, path string) any {
	cur := any(rec)
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func nonEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case []any:
		return len(t) > 0
	case []string:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	case string:
		return t != ""
	}
	return true
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}

func joinAny(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = formatAny(v)
	}
	return strings.Join(parts, ", ")
}

func formatAny(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int:
		return strconv.Itoa(t)
	case float64:
		return formatNum(t)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

func formatNum(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func equalValue(a, b any) bool {
	if af, ok := toFloat(a); ok {
		if bf, ok := toFloat(b); ok {
			return af == bf
		}
		return false
	}
	switch at := a.(type) {
	case string:
		bs, ok := b.(string)
		return ok && at == bs
	case bool:
		bb, ok := b.(bool)
		return ok && at == bb
	}
	return false
}

func valueLen(v any) int {
	switch t := v.(type) {
	case string:
		return len(t)
	case []any:
		return len(t)
	case map[string]any:
		return len(t)
	}
	return -1
}

// toInt accepts Go integers and integral floats (JSON numbers).
func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case int64:
		return int(t), true
	case int32:
		return int(t), true
	case uint64:
		if t > math.MaxInt64 {
			return 0, false
		}
		return int(t), true
	case float64:
		if t != math.Trunc(t) || math.IsInf(t, 0) || t > 9.007199254740992e15 || t < -9.007199254740992e15 {
			return 0, false
		}
		return int(t), true
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i), true
		}
		if f, err := t.Float64(); err == nil {
			return toInt(f)
		}
	}
	return 0, false
}

// Number reads a generic number (what config decoding produces: float64,
// int, json.Number...) as a float64.
func Number(v any) (float64, bool) { return toFloat(v) }

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		if math.IsNaN(t) {
			return 0, false
		}
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float32:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

func toAnyList(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case []string:
		return toAnySlice(t), true
	case []int:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out, true
	case []map[string]any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out, true
	}
	return nil, false
}

func toAnySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func toAnyMap(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case map[string][]string:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = toAnySlice(x)
		}
		return out, true
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = x
		}
		return out, true
	}
	return nil, false
}

// cloneValue deep-copies defaults so records never share them.
func cloneValue(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return toAnySlice(t)
	case []int:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = cloneValue(e)
		}
		return out
	}
	return v
}

var reCache sync.Map // pattern -> *regexp.Regexp

func compiled(pattern string) *regexp.Regexp {
	if r, ok := reCache.Load(pattern); ok {
		return r.(*regexp.Regexp)
	}
	r := regexp.MustCompile(pattern)
	reCache.Store(pattern, r)
	return r
}

// IsVaultReference reports whether s is a Kong vault reference such as
// "{vault://env/my-secret}".
func IsVaultReference(s string) bool {
	return strings.HasPrefix(s, "{vault://") && strings.HasSuffix(s, "}")
}

// IsUUID reports whether s is a UUID in its dashed form, as Kong's uuid
// fields accept.
func IsUUID(s string) bool { return isUUID(s) }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
