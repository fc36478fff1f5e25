package declarative

import (
	"encoding/json"
	"hash/maphash"
	"sync/atomic"
)

// Element templates let a parse of a streamed JSON file skip decoding a
// top-level element whose text is unchanged since the previous parse.
//
// The memo (memo.go) spares the processing of an unchanged entity, but
// the element still had to be decoded into a generic tree, visited and
// summarized to learn its fingerprint, which cost most of what is left of
// a reload's CPU and garbage. What visit and summarize make of an element
// is a function of its text, the format version and _transform alone (the
// decoder is deterministic, a JSON file has no line index), with one
// exception: an id derived from fallbackKey is suffixed when an earlier
// entity of the file had the same key. So after visit and summarize each
// element's items are remembered as a template, keyed by a hash of that
// input; the next parse makes the same items from the template, and
// touches the element's text again only if it must process the entity (a
// memo miss, or an error to report). A template with a fallback key is
// used only while that key is unused in the file so far, as visit would
// then derive the same id.
type elemTemplate struct {
	items []elemItem
	keep  []keptField
}

// elemItem is one item of a template, as visit and summarize left it.
type elemItem struct {
	k           *kind
	parent      int32 // index in the template; -1 for the element itself
	index       int32
	keepN       int32
	parentField string
	id          string
	fallback    string // the fallbackKey the id was derived from, if any
	fields      fingerprint
	generated   bool
	stamped     bool
	partStamped bool
	genMissing  bool
}

// elemTemplates are the templates of one parse's elements, read-only once
// published.
type elemTemplates map[fingerprint]*elemTemplate

// lastElems holds the templates of the last successful streamed parse
// (replaced whole by the next one, so it never holds more than one
// configuration's).
var lastElems atomic.Pointer[elemTemplates]

// lastSizes is the number of items and of kept fields of the last
// successful streamed parse (items<<32 | kept): the next one sizes its
// lists by them rather than growing them from nothing, which left as much
// again in garbage.
var lastSizes atomic.Uint64

// templateFor returns the template remembered for key, nil when there is none.
func templateFor(key fingerprint) *elemTemplate {
	if m := lastElems.Load(); m != nil {
		return (*m)[key]
	}
	return nil
}

// elemKey identifies a top-level element's input.
func (l *loader) elemKey(k *kind, src []byte) fingerprint {
	var fp fingerprint
	for i, seed := range fpSeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(k.name)
		h.WriteByte(0)
		h.WriteString(l.version)
		h.WriteByte(0)
		if l.transform {
			h.WriteByte(1)
		}
		h.Write(src)
		fp[i] = h.Sum64()
	}
	return fp
}

// fromTemplate appends the items of the element src at index from its
// template, and reports whether it did.
func (l *loader) fromTemplate(t *elemTemplate, src json.RawMessage, index int) bool {
	for _, e := range t.items {
		if e.fallback != "" && l.fallback[e.fallback] > 0 {
			return false
		}
	}
	first := len(l.items)
	its := make([]item, len(t.items))
	keep := t.keep
	for i := range t.items {
		e, it := &t.items[i], &its[i]
		*it = item{k: e.k, index: e.index, parentField: e.parentField, id: e.id, fp: e.fields,
			generated: e.generated, stamped: e.stamped, partStamped: e.partStamped,
			genMissing: e.genMissing, summarized: true}
		if e.parent < 0 {
			it.index, it.src = int32(index), src
		} else {
			it.parent = l.items[first+int(e.parent)]
		}
		it.keepAt = int32(len(l.kept))
		l.kept = append(l.kept, keep[:e.keepN]...)
		keep = keep[e.keepN:]
		it.keepN = e.keepN
		if e.fallback != "" {
			if l.fallback == nil {
				l.fallback = map[string]int{}
			}
			l.fallback[e.fallback] = 1
			if l.fallbackOf == nil {
				l.fallbackOf = map[*item]string{}
			}
			l.fallbackOf[it] = e.fallback
		}
		l.items = append(l.items, it)
	}
	return true
}

// template makes the template of the element whose items, just visited
// and summarized, are l.items[first:].
func (l *loader) template(first int) *elemTemplate {
	items := l.items[first:]
	t := &elemTemplate{items: make([]elemItem, len(items))}
	at := make(map[*item]int32, len(items))
	for i, it := range items {
		at[it] = int32(i)
		parent := int32(-1)
		if it.parent != nil {
			parent = at[it.parent]
		}
		t.items[i] = elemItem{k: it.k, parent: parent, index: it.index, keepN: it.keepN,
			parentField: it.parentField, id: it.id, fallback: l.fallbackOf[it], fields: it.fp,
			generated: it.generated, stamped: it.stamped, partStamped: it.partStamped, genMissing: it.genMissing}
		t.keep = append(t.keep, l.kept[it.keepAt:it.keepAt+it.keepN]...)
	}
	return t
}
