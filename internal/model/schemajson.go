package model

import (
	"bytes"
	"encoding/json"
)

// orderedObject is a JSON object that keeps its keys in insertion order.
type orderedObject struct {
	keys []string
	vals []any
}

func (o *orderedObject) set(k string, v any) {
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalJSON renders the schema as Kong's GET /schemas/{entity} does:
// {"fields": [{"<name>": {"type": ..., "default": ..., ...}}, ...],
// "entity_checks": [...]}. Go validators (custom_validator in Kong) are
// not rendered. For a plugin config schema use PluginJSON.
func (s *Schema) MarshalJSON() ([]byte, error) {
	o := &orderedObject{}
	o.set("fields", fieldsJSON(s.Fields))
	o.set("entity_checks", checksJSON(s.Checks))
	return json.Marshal(o)
}

// PluginJSON renders a plugin config schema as Kong's GET
// /schemas/plugins/{name}: the plugin entity's consumer and protocols
// fields and the config record with the plugin's fields.
func (s *Schema) PluginJSON() ([]byte, error) {
	protocols := s.Protocols
	if len(protocols) == 0 {
		protocols = HTTPProtocols
	}
	consumer := &Field{Name: "consumer", Type: TypeForeign, Reference: "consumers"}
	if s.NoConsumer {
		consumer.EqNull = true
	}
	prot := &Field{Name: "protocols", Type: TypeSet, Required: true, Default: toAnySlice(protocols),
		Elements: &Field{Type: TypeString, OneOf: toAnySlice(protocols)}}
	config := &Field{Name: "config", Type: TypeRecord, Required: true, Fields: s.Fields, Checks: s.Checks}
	fields := fieldsJSON([]*Field{consumer, prot})
	cfg := fieldJSON(config)
	if len(s.Shorthands) > 0 {
		cfg.set("shorthand_fields", shorthandsJSON(s.Shorthands))
	}
	one := &orderedObject{}
	one.set("config", cfg)
	fields = append(fields, one)
	o := &orderedObject{}
	o.set("fields", fields)
	o.set("entity_checks", []any{})
	return json.Marshal(o)
}

// shorthandsJSON renders a record's shorthand_fields as Kong does: one
// object per shorthand, its own field attributes and its deprecation.
func shorthandsJSON(list []Shorthand) []any {
	out := make([]any, 0, len(list))
	for _, sh := range list {
		f := sh.Field
		if f == nil {
			f = &Field{}
		}
		attrs := fieldJSON(f)
		if d := sh.Deprecation; d != nil {
			do := &orderedObject{}
			do.set("message", d.Message)
			do.set("removal_in_version", d.RemovalInVersion)
			if len(d.ReplacedWith) > 0 {
				rw := make([]any, 0, len(d.ReplacedWith))
				for _, p := range d.ReplacedWith {
					po := &orderedObject{}
					po.set("path", p)
					rw = append(rw, po)
				}
				do.set("replaced_with", rw)
			}
			attrs.set("deprecation", do)
		}
		one := &orderedObject{}
		one.set(sh.Name, attrs)
		out = append(out, one)
	}
	return out
}

func fieldsJSON(fields []*Field) []any {
	out := make([]any, 0, len(fields))
	for _, f := range fields {
		one := &orderedObject{}
		one.set(f.Name, fieldJSON(f))
		out = append(out, one)
	}
	return out
}

func fieldJSON(f *Field) *orderedObject {
	o := &orderedObject{}
	if f.Type != "" {
		o.set("type", string(f.Type))
	}
	if f.Description != "" {
		o.set("description", f.Description)
	}
	if f.Required {
		o.set("required", true)
	}
	if f.Default != nil {
		o.set("default", f.Default)
	}
	if f.Unique {
		o.set("unique", true)
	}
	if f.UUID {
		o.set("uuid", true)
	}
	if f.Auto {
		o.set("auto", true)
	}
	if f.Timestamp {
		o.set("timestamp", true)
	}
	if f.Referenceable {
		o.set("referenceable", true)
	}
	if f.Encrypted {
		o.set("encrypted", true)
	}
	if f.Reference != "" {
		o.set("reference", f.Reference)
	}
	if f.OnDelete != "" {
		o.set("on_delete", f.OnDelete)
	}
	if f.EqNull {
		o.set("eq", nil)
	}
	if f.Eq != nil {
		o.set("eq", f.Eq)
	}
	if f.Ne != nil {
		o.set("ne", f.Ne)
	}
	if f.Err != "" {
		o.set("err", f.Err)
	}
	if len(f.OneOf) > 0 {
		o.set("one_of", f.OneOf)
	}
	if len(f.NotOneOf) > 0 {
		o.set("not_one_of", f.NotOneOf)
	}
	if f.Between != nil {
		o.set("between", f.Between)
	}
	if f.Gt != nil {
		o.set("gt", *f.Gt)
	}
	if f.LenEq != nil {
		o.set("len_eq", *f.LenEq)
	}
	if f.LenMin > 0 || f.EmptyOK {
		o.set("len_min", f.LenMin)
	}
	if f.LenMax > 0 {
		o.set("len_max", f.LenMax)
	}
	if f.StartsWith != "" {
		o.set("starts_with", f.StartsWith)
	}
	if f.Contains != nil {
		o.set("contains", f.Contains)
	}
	if len(f.MutuallyExclusiveSubsets) > 0 {
		o.set("mutually_exclusive_subsets", f.MutuallyExclusiveSubsets)
	}
	if f.Elements != nil {
		o.set("elements", fieldJSON(f.Elements))
	}
	if f.Keys != nil {
		o.set("keys", fieldJSON(f.Keys))
	}
	if f.Values != nil {
		o.set("values", fieldJSON(f.Values))
	}
	if f.Type == TypeRecord && (len(f.Fields) > 0 || f.Name != "config") {
		o.set("fields", fieldsJSON(f.Fields))
	}
	if len(f.Checks) > 0 {
		o.set("entity_checks", checksJSON(f.Checks))
	}
	return o
}

func checksJSON(checks []*Check) []any {
	out := make([]any, 0, len(checks))
	for _, c := range checks {
		o := &orderedObject{}
		switch {
		case c.AtLeastOneOf != nil:
			o.set("at_least_one_of", c.AtLeastOneOf)
		case c.OnlyOneOf != nil:
			o.set("only_one_of", c.OnlyOneOf)
		case c.Distinct != nil:
			o.set("distinct", c.Distinct)
		case c.MutuallyRequired != nil:
			o.set("mutually_required", c.MutuallyRequired)
		case c.MutuallyExclusive != nil:
			o.set("mutually_exclusive", c.MutuallyExclusive)
		case c.MutuallyExclusiveSets != nil:
			sets := &orderedObject{}
			sets.set("set1", c.MutuallyExclusiveSets[0])
			sets.set("set2", c.MutuallyExclusiveSets[1])
			o.set("mutually_exclusive_sets", sets)
		case c.Conditional != nil:
			cd := &orderedObject{}
			cd.set("if_field", c.Conditional.IfField)
			cd.set("if_match", fieldJSON(c.Conditional.IfMatch))
			cd.set("then_field", c.Conditional.ThenField)
			cd.set("then_match", fieldJSON(c.Conditional.ThenMatch))
			if c.Conditional.ThenErr != "" {
				cd.set("then_err", c.Conditional.ThenErr)
			}
			o.set("conditional", cd)
		case c.ConditionalAtLeastOneOf != nil:
			x := c.ConditionalAtLeastOneOf
			cd := &orderedObject{}
			cd.set("if_field", x.IfField)
			cd.set("if_match", fieldJSON(x.IfMatch))
			cd.set("then_at_least_one_of", x.ThenAtLeastOneOf)
			if x.ThenErr != "" {
				cd.set("then_err", x.ThenErr)
			}
			if x.ElseMatch != nil {
				cd.set("else_match", fieldJSON(x.ElseMatch))
				cd.set("else_then_at_least_one_of", x.ElseThenAtLeastOneOf)
				cd.set("else_then_err", x.ElseThenErr)
			}
			o.set("conditional_at_least_one_of", cd)
		case c.Custom != nil:
			cd := &orderedObject{}
			cd.set("field_sources", c.Custom.Fields)
			o.set("custom_entity_check", cd)
		default:
			continue
		}
		out = append(out, o)
	}
	return out
}
