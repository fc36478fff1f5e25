package declarative

import (
	"strconv"

	"github.com/google/uuid"
)

// flatten moves the errors of entities at known positions into a list, one
// element per entity, nested children hoisted (Kong's
// declarative_config_flattened). It returns what is left of the tree.
func (e *Error) flatten() (*node, []FlatError) {
	rest := cloneNode(e.tree)
	var flat []FlatError
	for _, typ := range rest.sortedStrs() {
		section, ok := rest.strs[typ].(*node)
		if !ok {
			continue
		}
		list, ok := e.input[typ].([]any)
		if !ok {
			continue
		}
		for _, i := range section.sortedInts() {
			if i < 1 || i > len(list) {
				continue
			}
			ent, ok := list[i-1].(map[string]any)
			if !ok {
				continue
			}
			errT := section.ints[i]
			delete(section.ints, i)
			addEntityErrors(typ, cloneValue(ent).(map[string]any), errT, &flat)
		}
		if section.empty() {
			delete(rest.strs, typ)
		}
	}
	return rest, flat
}

func addEntityErrors(typ string, ent map[string]any, errV any, flat *[]FlatError) {
	var errT *node
	switch t := errV.(type) {
	case *node:
		errT = t
	case string:
		errT = newNode()
		errT.setStr("@entity", []string{t})
	case []string:
		errT = newNode()
		errT.setStr("@entity", t)
	default:
		return
	}
	if errT.empty() {
		return
	}
	pk := makePK(ent)
	k := kindByName[typ]
	if k != nil {
		// owned one-to-one records: replaced by their primary key
		for _, fk := range k.fks {
			if v, ok := ent[fk.name].(map[string]any); ok {
				if p := makePK(v); p != nil {
					ent[fk.name] = p
				} else {
					delete(ent, fk.name)
				}
				sub := errT.strs[fk.name]
				delete(errT.strs, fk.name)
				if sub != nil {
					addEntityErrors(fk.ref, v, sub, flat)
				}
			}
		}
		// nested children: hoisted, with the parent's key added
		for _, rel := range childKinds[typ] {
			children, ok := ent[rel.kind.name].([]any)
			if !ok {
				continue
			}
			delete(ent, rel.kind.name)
			sub, _ := errT.strs[rel.kind.name].(*node)
			delete(errT.strs, rel.kind.name)
			if sub == nil {
				continue
			}
			for i, c := range children {
				cm, ok := c.(map[string]any)
				if !ok {
					continue
				}
				if _, set := cm[rel.field]; !set && pk != nil {
					cm[rel.field] = map[string]any{"id": pk["id"]}
				}
				if ce := sub.getInt(i + 1); ce != nil {
					addEntityErrors(rel.kind.name, cm, ce, flat)
				}
			}
		}
	}
	if errT.empty() {
		return
	}
	var errs []FlatEntryError
	categorize(errT, "", &errs)
	if len(errs) == 0 {
		return
	}
	fe := FlatError{EntityType: singular(typ), Entity: ent, Errors: errs}
	if s, ok := ent["name"].(string); ok && s != "" {
		fe.EntityName = s
	}
	if s, ok := ent["id"].(string); ok && validUUID(s) {
		fe.EntityID = s
	}
	if tags, ok := ent["tags"].([]any); ok {
		ts := make([]string, 0, len(tags))
		for _, t := range tags {
			s, ok := t.(string)
			if !ok {
				ts = nil
				break
			}
			ts = append(ts, s)
		}
		if len(ts) > 0 {
			fe.EntityTags = ts
		}
	}
	*flat = append(*flat, fe)
}

func categorize(n *node, ns string, out *[]FlatEntryError) {
	join := func(f string) string {
		if ns == "" {
			return f
		}
		return ns + "." + f
	}
	for _, i := range n.sortedInts() {
		categorizeValue(n.ints[i], join(strconv.Itoa(i)), out)
	}
	for _, k := range n.sortedStrs() {
		v := n.strs[k]
		if k == "@entity" {
			switch t := v.(type) {
			case string:
				*out = append(*out, FlatEntryError{Type: "entity", Message: t})
			case []string:
				for _, m := range t {
					*out = append(*out, FlatEntryError{Type: "entity", Message: m})
				}
			}
			continue
		}
		categorizeValue(v, join(k), out)
	}
}

func categorizeValue(v any, field string, out *[]FlatEntryError) {
	switch t := v.(type) {
	case string:
		*out = append(*out, FlatEntryError{Type: "field", Field: field, Message: t})
	case []string:
		for i, m := range t {
			*out = append(*out, FlatEntryError{Type: "field", Field: field + "." + strconv.Itoa(i+1), Message: m})
		}
	case *node:
		categorize(t, field, out)
	}
}

func makePK(ent map[string]any) map[string]any {
	if s, ok := ent["id"].(string); ok && validUUID(s) {
		return map[string]any{"id": s}
	}
	return nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func cloneNode(n *node) *node {
	if n == nil {
		return newNode()
	}
	c := newNode()
	for k, v := range n.ints {
		c.setInt(k, cloneErrValue(v))
	}
	for k, v := range n.strs {
		c.setStr(k, cloneErrValue(v))
	}
	return c
}

func cloneErrValue(v any) any {
	switch t := v.(type) {
	case *node:
		return cloneNode(t)
	case []string:
		return append([]string(nil), t...)
	}
	return v
}

// cloneValue deep-copies a generic decoded value.
func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = cloneValue(e)
		}
		return s
	}
	return v
}
