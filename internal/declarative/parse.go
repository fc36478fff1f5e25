package declarative

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/sched"
)

// Options tunes Parse.
type Options struct {
	// Plugins validates plugin entities (name and config) through the
	// plugins' schemas; it is passed to model's Schema.Process.
	Plugins model.PluginSchemaLookup
	// Now gives the load time, used once per Parse for every created_at and
	// updated_at the file does not set. Default time.Now.
	Now func() time.Time
	// Previous is the configuration being replaced, if any. Entities that
	// are unchanged (same id, same content) are taken from it as they are:
	// same pointer and timestamps, so reloading a file only touches what
	// changed. A changed entity keeps its previous created_at.
	Previous *model.Config
	// ValidJSON says the caller already checked that the text is valid
	// JSON (json.Valid), so the parse does not check it again.
	ValidJSON bool
}

// Meta is the file-level information of a declarative config.
type Meta struct {
	FormatVersion string // as written: "3.0", "2.1" or "1.1"
	Transform     bool   // _transform (default true)
}

// Parse reads a declarative configuration (YAML or JSON) and returns the
// validated entities. A file with any error is rejected whole: the error is
// a *SyntaxError when the input is not a YAML/JSON object, and an *Error
// (Kong's code 14) for everything else.
func Parse(data []byte, opts *Options) (*model.Config, error) {
	cfg, _, err := ParseMeta(data, opts)
	return cfg, err
}

// ParseMeta is Parse that also returns the file's meta fields.
func ParseMeta(data []byte, opts *Options) (*model.Config, *Meta, error) {
	var l *loader
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		if top, lists, ok := streamJSON(trimmed, opts != nil && opts.ValidJSON); ok {
			// Entities are decoded one top-level element at a time and
			// kept only as a summary (see summarize): nothing of the
			// generic tree is there for an error report, which a second
			// parse makes, as after a release.
			l = &loader{input: top, stream: lists, tree: newNode(), release: true, released: true,
				elems: elemTemplates{}}
		}
	}
	if l == nil {
		input, lines, err := decodeInput(data)
		if err != nil {
			return nil, nil, &SyntaxError{Msg: err.Error()}
		}
		l = &loader{input: input, lines: lines, tree: newNode(), release: true}
	}
	if opts != nil {
		l.opts = *opts
	}
	l.memo = memoFor(l.opts.Previous, l.opts.Plugins)
	now := time.Now
	if l.opts.Now != nil {
		now = l.opts.Now
	}
	l.now = now()
	cfg, err := l.load()
	if err != nil && l.released {
		// The error report names entities as written, and those were
		// dropped as the parse went: parse again keeping them. The errors
		// do not depend on the release, so they come out the same; only
		// a rejected config pays for the second parse.
		input, lines, derr := decodeInput(data)
		if derr != nil {
			return nil, nil, &SyntaxError{Msg: derr.Error()}
		}
		l = &loader{input: input, lines: lines, tree: newNode(), opts: l.opts, now: l.now}
		cfg, err = l.load()
	}
	if err != nil {
		return nil, nil, err
	}
	return cfg, &Meta{FormatVersion: l.version, Transform: l.transform}, nil
}

// item is one entity found in the file, nested or not.
//
// A large file has tens of thousands of items, all alive until the parse
// ends: keep it small (decode errors, for one, are kept by the loader).
type item struct {
	k           *kind
	raw         map[string]any // as written
	refs        []ref          // references resolved to ids (see rec)
	out         map[string]any // Process result, until decoded
	uniq        []any          // values of k.uniques, kept for checkUniques
	val         any            // typed entity (*model.Service, ...) once decoded
	parent      *item
	parentField string
	id          string
	index       int32 // 1-based position in its list (see path and label)
	line        int32
	pos         int32 // index in its kind's list of the result
	// Streamed JSON (loader.stream): what later phases read of raw once
	// it is dropped after visit: loader.kept[keepAt:keepAt+keepN].
	keepAt, keepN int32
	// src is the raw text of a streamed top-level entity.
	src json.RawMessage
	// fp is the entity's fingerprint (memo.go); before fingerprintItem,
	// for a summarized entity, the fieldsHash of its raw record.
	fp          fingerprint
	generated   bool // id derived here, not written in the file
	stamped     bool // created_at or updated_at written in the file
	partStamped bool // only one of them (memo.go)
	summarized  bool // keep, fp's fields hash and genMissing are set
	genMissing  bool // a field the schema generates is missing
	memoable    bool // fp is set and the entity may come from the memo
}

// path is the entity's position in the error tree: "services", 1,
// "routes", 2. It and label are derived when an error needs them.
func (it *item) path() []any {
	if it.parent == nil {
		return []any{it.k.name, int(it.index)}
	}
	return append(it.parent.path(), it.k.name, int(it.index))
}

// label names the entity's position for people: services[1].routes[2].
func (it *item) label() string {
	s := it.k.name + "[" + strconv.Itoa(int(it.index)) + "]"
	if it.parent != nil {
		s = it.parent.label() + "." + s
	}
	return s
}

// ref is a reference field resolved to the id of its target.
type ref struct {
	field, id string
}

type refError struct {
	it  *item
	at  string
	msg string
}

type loader struct {
	opts Options
	// release drops each entity as written (raw) once it is decoded, and
	// the input's lists before the first is, so that the generic tree of
	// the whole file is not alive next to the typed entities it becomes.
	// released is set once something was dropped: an error found after
	// that is reported by a second parse that keeps everything.
	release  bool
	released bool
	memo     *memo // the previous configuration's entities (memo.go)
	// stream holds the entity lists of a JSON file as raw elements
	// (streamJSON); lastTop and lastTopMap cache the last element decoded
	// again for rawOf.
	stream     map[string][]json.RawMessage
	kept       []keptField     // items' keep (see item.keepAt)
	decodeErrs map[*item]error // reported by build, after the other phases
	elements   elementDecoder
	lastTop    *item
	lastTopMap map[string]any
	input      map[string]any
	lines      lineIndex
	tree       *node
	problems   []string
	version    string
	transform  bool
	now        time.Time
	items      []*item
	fallback   map[string]int
	// Element templates (elements.go): fallbackOf is the fallbackKey of
	// each streamed item whose id came from one, noTemplate is set when
	// the element being visited cannot have a template, elems are the
	// templates of this parse's elements.
	fallbackOf map[*item]string
	noTemplate bool
	elems      elemTemplates
}

const nilUUID = "00000000-0000-0000-0000-000000000000"

func (l *loader) load() (*model.Config, error) {
	l.checkTop()
	if len(l.stream) > 0 && l.items == nil {
		if n := lastSizes.Load(); n > 0 {
			l.items = make([]*item, 0, n>>32)
			l.kept = make([]keptField, 0, n&(1<<32-1))
		}
	}
	for _, k := range kinds {
		if list, ok := l.stream[k.name]; ok {
			for i, src := range list {
				sched.Point()
				key := l.elemKey(k, src)
				if t := templateFor(key); t != nil && l.fromTemplate(t, src, i+1) {
					l.elems[key] = t
					continue
				}
				v, err := l.elements.decode(src)
				if err != nil {
					l.rootErr(k.name, err.Error()) // cannot happen: streamJSON read it
					continue
				}
				first := len(l.items)
				l.visit(k, v, i+1, nil, "")
				if len(l.items) > first {
					l.items[first].src = src
				}
				for _, it := range l.items[first:] {
					l.summarize(it)
				}
				if !l.noTemplate && len(l.items) > first {
					l.elems[key] = l.template(first)
				}
				l.noTemplate = false
			}
			delete(l.stream, k.name)
			continue
		}
		v, ok := l.input[k.name]
		if !ok || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			continue // reported by checkTop
		}
		for i, e := range list {
			l.visit(k, e, i+1, nil, "")
		}
	}
	if !l.tree.empty() {
		return nil, l.err()
	}

	// Phase 1 (Kong: schema validation): references are resolved where
	// possible so that each entity can be validated as the store will see it.
	byID, byKey, dupErrs := l.index()
	refErrs := l.resolve(byID, byKey)
	if l.release {
		// From here on, entities are read through their items only.
		for _, k := range kinds {
			if _, ok := l.input[k.name]; ok {
				l.input[k.name] = nil
			}
		}
		l.released = true
	}
	for _, it := range l.items {
		sched.Point()
		l.fingerprintItem(it)
	}
	for _, it := range l.items {
		sched.Point()
		if l.fromMemo(it) {
			if l.release {
				it.raw = nil
			}
			continue
		}
		// Each entity is processed, transformed and decoded in turn, so
		// that only one generic record is alive at a time (the file's
		// entities are independent at this point). Decode errors wait for
		// build, so that errors come phase by phase as before.
		l.process(it)
		if it.out != nil {
			l.transformItem(it)
			l.decode(it)
		}
		if l.release {
			it.raw = nil
		}
	}
	l.lastTop, l.lastTopMap = nil, nil
	if !l.tree.empty() {
		return nil, l.err()
	}

	// Phase 2 (Kong: validate_references): duplicates and dangling references.
	for _, d := range dupErrs {
		l.entityErr(d.it, d.msg, d.at)
	}
	for _, r := range refErrs {
		sec := l.tree.child(r.it.k.name)
		var list []string
		if cur, ok := sec.strs[r.at].([]string); ok {
			list = cur
		}
		sec.setStr(r.at, append(list, r.msg))
		l.problem(r.it, "", r.msg)
	}
	if !l.tree.empty() {
		return nil, l.err()
	}

	// Phase 3: transformations (done above, entity by entity), then unique
	// fields across the file.
	l.checkUniques()
	if !l.tree.empty() {
		return nil, l.err()
	}
	return l.build()
}

func (l *loader) err() *Error {
	return &Error{tree: l.tree, input: l.input, problems: l.problems}
}

// kongOnlyEntities are entity types Kong knows that sluice does not.
var kongOnlyEntities = map[string]bool{
	"workspaces": true, "parameters": true,
	"consumer_groups": true, "consumer_group_consumers": true, "consumer_group_plugins": true,
	"oauth2_authorization_codes": true,
	"oauth2_tokens":              true, "mtls_auth_credentials": true, "filter_chains": true, "licenses": true,
}

var topLevelMeta = map[string]bool{"_format_version": true, "_transform": true, "_comment": true, "_ignore": true}

func (l *loader) checkTop() {
	l.transform = true
	switch v := l.input["_format_version"].(type) {
	case nil:
		l.rootErr("_format_version", "required field missing")
	case string:
		if v != "1.1" && v != "2.1" && v != "3.0" {
			l.rootErr("_format_version", "expected one of: 1.1, 2.1, 3.0")
		}
		l.version = v
	default:
		l.rootErr("_format_version", "expected a string")
	}
	if v, ok := l.input["_transform"]; ok && v != nil {
		if b, ok := v.(bool); ok {
			l.transform = b
		} else {
			l.rootErr("_transform", "expected a boolean")
		}
	}
	if v, ok := l.input["_comment"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			l.rootErr("_comment", "expected a string")
		}
	}
	if v, ok := l.input["_ignore"]; ok && v != nil {
		if _, ok := v.([]any); !ok {
			l.rootErr("_ignore", "expected an array")
		}
	}
	keys := make([]string, 0, len(l.input))
	for k := range l.input {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if topLevelMeta[key] {
			continue
		}
		if _, ok := kindByName[key]; ok {
			if v := l.input[key]; v != nil {
				if _, ok := v.([]any); !ok {
					l.rootErr(key, "expected an array")
				}
			}
			continue
		}
		l.tree.setStr(key, "unknown field")
		hint := ""
		switch {
		case key == "_info" || key == "_konnect" || key == "_workspace" || key == "_plugin_configs":
			hint = " (a decK-only key: remove it, or render the file with decK first)"
		case kongOnlyEntities[key]:
			hint = " (a Kong entity type sluice does not support)"
		}
		l.problems = append(l.problems, key+": unknown field"+hint)
	}
}

func (l *loader) rootErr(field, msg string) {
	l.tree.setStr(field, msg)
	l.problems = append(l.problems, field+": "+msg)
}

// visit records one entity (and, recursively, its nested children).
func (l *loader) visit(k *kind, v any, index int, parent *item, parentField string) {
	m, ok := v.(map[string]any)
	if !ok {
		bad := &item{k: k, index: int32(index), parent: parent}
		l.setAt(bad.path(), "expected a record")
		l.problems = append(l.problems, bad.label()+": expected a record")
		return
	}
	it := &item{k: k, raw: m, index: int32(index), parent: parent, parentField: parentField, line: int32(l.lines.line(m)),
		stamped: m["created_at"] != nil || m["updated_at"] != nil}
	// one timestamp written and the other left to the load: the full
	// parse gives the other one the load time (reusePrevious keeps a
	// stamped entity as parsed), which the memo cannot know
	it.partStamped = it.stamped && (m["created_at"] == nil || hasUpdatedAt[k.name] && m["updated_at"] == nil)
	l.items = append(l.items, it)

	type nested struct {
		rel   childRel
		list  []any
		order int
	}
	var children []nested
	for key, val := range m {
		switch key {
		case "_comment":
			if _, ok := val.(string); !ok && val != nil {
				l.fieldErr(it, key, "expected a string")
			}
			continue
		case "_ignore":
			if _, ok := val.([]any); !ok && val != nil {
				l.fieldErr(it, key, "expected an array")
			}
			continue
		}
		if rel, order, ok := childRel4(k, key); ok {
			if val == nil {
				continue
			}
			list, ok := val.([]any)
			if !ok {
				l.fieldErr(it, key, "expected an array")
				continue
			}
			children = append(children, nested{rel, list, order})
			continue
		}
	}
	if parent != nil {
		if v, set := m[parentField]; set && v != nil {
			l.fieldErr(it, parentField, "value must be null")
		}
	}

	parentID := ""
	if parent != nil {
		parentID = parent.id
	}
	if idv, set := m["id"]; set && idv != nil {
		if s, ok := idv.(string); ok {
			it.id = s
		}
	} else {
		key := idKey(k, m, parentID, parentField)
		if key == "" {
			key = fallbackKey(k, l.rec(it), parentID)
			if l.fallback == nil {
				l.fallback = map[string]int{}
			}
			n := l.fallback[key]
			l.fallback[key] = n + 1
			if n > 0 {
				key += "#" + strconv.Itoa(n)
				l.noTemplate = true // the id depends on the entities before
			} else if l.stream != nil {
				if l.fallbackOf == nil {
					l.fallbackOf = map[*item]string{}
				}
				l.fallbackOf[it] = key
			}
		}
		it.id = DeterministicID(k.name, key)
		it.generated = true
	}

	// children in a fixed order (not the map's), so the order of the
	// entities, and of any error, is the same on every load
	sort.Slice(children, func(i, j int) bool { return children[i].order < children[j].order })
	for _, c := range children {
		for j, e := range c.list {
			l.visit(c.rel.kind, e, j+1, it, c.rel.field)
		}
	}
}

// rec is the input to Process of an entity: its fields as written without
// nested children and comments, the parent reference of a nested entity,
// 1.1/2.1 regex paths migrated, the derived id, and references resolved.
// It is built when needed rather than kept, to keep the peak heap small.
func (l *loader) rec(it *item) map[string]any {
	raw := l.rawOf(it)
	rec := make(map[string]any, len(raw)+2)
	for key, val := range raw {
		if key == "_comment" || key == "_ignore" {
			continue
		}
		if _, _, ok := childRel4(it.k, key); ok {
			continue
		}
		rec[key] = val
	}
	if it.parent != nil {
		rec[it.parentField] = map[string]any{"id": it.parent.id}
	}
	if paths, ok := rec["paths"]; ok {
		rec["paths"] = l.migratedPaths(it, paths)
	}
	if it.generated {
		rec["id"] = it.id
	}
	for _, r := range it.refs {
		rec[r.field] = map[string]any{"id": r.id}
	}
	return rec
}

// keptField is a field of an entity as written, kept after its raw record
// is dropped.
type keptField struct {
	key string
	val any
}

// summarize keeps what the phases after visit read of a streamed entity
// (its endpoint key and references as written, the hash of its fields)
// and drops its raw record.
func (l *loader) summarize(it *item) {
	k := it.k
	it.keepAt = int32(len(l.kept))
	if k.endpointKey != "" {
		if v, ok := it.raw[k.endpointKey]; ok {
			l.kept = append(l.kept, keptField{k.endpointKey, v})
		}
	}
	for _, fk := range k.fks {
		if v, ok := it.raw[fk.name]; ok {
			l.kept = append(l.kept, keptField{fk.name, v})
		}
	}
	it.keepN = int32(len(l.kept)) - it.keepAt
	for i, seed := range fpSeeds {
		it.fp[i] = fieldsHash(k, it.raw, seed)
	}
	it.genMissing = generatedMissing(k, it.raw)
	it.summarized = true
	it.raw = nil
}

// rawOf returns the entity as written: its raw record, or for a streamed
// entity whose record was dropped, the record decoded again from its
// top-level element's text.
func (l *loader) rawOf(it *item) map[string]any {
	if it.raw != nil || it.src == nil && it.parent == nil {
		return it.raw
	}
	if it.parent == nil {
		if l.lastTop != it {
			v, _ := l.elements.decode(it.src)
			m, _ := v.(map[string]any)
			l.lastTop, l.lastTopMap = it, m
		}
		return l.lastTopMap
	}
	pm := l.rawOf(it.parent)
	list, _ := pm[it.k.name].([]any)
	if it.index < 1 || int(it.index) > len(list) {
		return nil
	}
	m, _ := list[it.index-1].(map[string]any)
	return m
}

// recField is l.rec(it)[key] without building the record.
func (l *loader) recField(it *item, key string) any {
	for i := len(it.refs) - 1; i >= 0; i-- {
		if it.refs[i].field == key {
			return map[string]any{"id": it.refs[i].id}
		}
	}
	switch {
	case key == "id" && it.generated:
		return it.id
	case it.parent != nil && key == it.parentField:
		return map[string]any{"id": it.parent.id}
	case key == "_comment" || key == "_ignore":
		return nil
	}
	if _, _, ok := childRel4(it.k, key); ok {
		return nil
	}
	var v any
	if it.raw == nil && it.summarized {
		for _, f := range l.kept[it.keepAt : it.keepAt+it.keepN] {
			if f.key == key {
				v = f.val
			}
		}
	} else {
		v = it.raw[key]
	}
	if key == "paths" && v != nil {
		return l.migratedPaths(it, v)
	}
	return v
}

// migratedPaths rewrites a route's regex paths of a 1.1/2.1 file.
func (l *loader) migratedPaths(it *item, v any) any {
	if it.k.name != "routes" || (l.version != "1.1" && l.version != "2.1") {
		return v
	}
	paths, ok := v.([]any)
	if !ok {
		return v
	}
	migrated := make([]any, len(paths))
	for i, p := range paths {
		if s, ok := p.(string); ok {
			migrated[i] = migrateRegexPath(s)
		} else {
			migrated[i] = p
		}
	}
	return migrated
}

// childRel4 reports whether key, in an entity of kind k, is an array of
// nested children.
func childRel4(k *kind, key string) (childRel, int, bool) {
	for i, rel := range childKinds[k.name] {
		if rel.kind.name == key {
			return rel, i, true
		}
	}
	return childRel{}, 0, false
}

type dupError struct {
	it  *item
	at  *item // the earlier entity it duplicates
	msg string
}

func uniquenessMsg(entity, field, value string) string {
	return "uniqueness violation: '" + entity + "' entity with " + field + " set to '" + value + "' already declared"
}

// index builds the id and endpoint-key indexes and finds duplicates.
func (l *loader) index() (byID, byKey map[string]map[string]*item, dups []dupError) {
	byID = make(map[string]map[string]*item, len(kinds))
	byKey = make(map[string]map[string]*item, len(kinds))
	counts := make(map[*kind]int, len(kinds))
	for _, it := range l.items {
		counts[it.k]++
	}
	for _, k := range kinds {
		// sized up front: growing them left twice their size in garbage
		byID[k.name] = make(map[string]*item, counts[k])
		keys := 0
		if k.uniqueKey {
			keys = counts[k]
		}
		byKey[k.name] = make(map[string]*item, keys)
	}
	for _, it := range l.items {
		k := it.k
		if k.uniqueKey {
			if s, ok := l.recField(it, k.endpointKey).(string); ok {
				if prev := byKey[k.name][s]; prev != nil {
					dups = append(dups, dupError{it, prev, uniquenessMsg(k.name, k.endpointKey, s)})
					continue
				}
				byKey[k.name][s] = it
			}
		}
		if it.id == "" {
			continue
		}
		if prev := byID[k.name][it.id]; prev != nil {
			dups = append(dups, dupError{it, prev, uniquenessMsg(k.name, "primary key", it.id)})
			continue
		}
		byID[k.name][it.id] = it
	}
	return byID, byKey, dups
}

// resolve turns references (endpoint key or id, plain or {id: ...}) into
// {id: ...} and returns the ones that point nowhere.
func (l *loader) resolve(byID, byKey map[string]map[string]*item) []refError {
	var errs []refError
	for _, it := range l.items {
		for _, fk := range it.k.fks {
			if it.parent != nil && fk.name == it.parentField {
				continue
			}
			v := l.recField(it, fk.name)
			var key string
			switch t := v.(type) {
			case nil:
				continue
			case string:
				key = t
			case map[string]any:
				s, ok := t["id"].(string)
				if !ok {
					continue // shape errors are Process's
				}
				key = s
			default:
				continue
			}
			found := byKey[fk.ref][key]
			if found == nil {
				found = byID[fk.ref][key]
			}
			if found != nil {
				it.refs = append(it.refs, ref{fk.name, found.id})
				continue
			}
			shown := key
			if _, isStr := v.(string); !isStr {
				b, _ := json.Marshal(v)
				shown = string(b)
			} else {
				it.refs = append(it.refs, ref{fk.name, nilUUID})
			}
			at := it.id
			if it.k.uniqueKey {
				if s, ok := l.recField(it, it.k.endpointKey).(string); ok && s != "" {
					at = s
				}
			}
			if at == "" {
				at = strconv.Itoa(int(it.index))
			}
			errs = append(errs, refError{it: it, at: at,
				msg: "invalid reference '" + fk.name + ": " + shown + "' (no such entry in '" + fk.ref + "')"})
		}
	}
	return errs
}

func (l *loader) process(it *item) {
	schema, ok := model.Lookup(it.k.name)
	if !ok {
		l.entityErr(it, "unknown entity '"+it.k.name+"'", nil)
		return
	}
	out, serr := schema.Process(l.rec(it), &model.ProcessOptions{Plugins: l.opts.Plugins})
	if serr != nil {
		l.schemaErr(it, serr.Fields)
		return
	}
	if out == nil {
		out = map[string]any{}
	}
	it.out = out
}

// hasUpdatedAt lists the entities that carry updated_at.
var hasUpdatedAt = map[string]bool{
	"services": true, "routes": true, "consumers": true, "plugins": true, "upstreams": true,
	"targets": true, "certificates": true, "snis": true, "ca_certificates": true,
	"vaults": true, "key_sets": true, "keys": true,
}

func (l *loader) transformItem(it *item) {
	out := it.out
	if out == nil {
		return
	}
	if it.generated || out["id"] == nil {
		out["id"] = it.id
	}
	if it.k.name == "targets" {
		ts := float64(l.now.UnixMilli()) / 1000
		setIfNil(out, "created_at", ts)
		setIfNil(out, "updated_at", ts)
	} else {
		setIfNil(out, "created_at", l.now.Unix())
		if hasUpdatedAt[it.k.name] {
			setIfNil(out, "updated_at", l.now.Unix())
		}
	}
	if it.k.name == "basicauth_credentials" && l.transform {
		pw, _ := out["password"].(string)
		cid := ""
		if c, ok := out["consumer"].(map[string]any); ok {
			cid, _ = c["id"].(string)
		}
		out["password"] = model.HashBasicAuthPassword(pw, cid)
	}
	// auto fields Kong generates on insert (a key-auth credential's key...)
	// (out is this loader's own map: fill it in place rather than copy it
	// as Schema.Generated does)
	if schema, ok := model.Lookup(it.k.name); ok && schema.Generate != nil {
		schema.Generate(out)
	}
	if it.k.name == "oauth2_credentials" && l.transform {
		hashOAuth2Secret(out)
	}
}

// hashOAuth2Secret replaces an oauth2 credential's client_secret by its
// hash when hash_secret is set (Kong's transformation on write). A secret
// that is already a hash (an export of hashed credentials) is kept.
func hashOAuth2Secret(rec map[string]any) {
	sec, ok := rec["client_secret"].(string)
	if rec["hash_secret"] == true && ok && !model.IsOAuth2SecretHash(sec) {
		rec["client_secret"] = model.HashOAuth2Secret(sec)
	}
}

func setIfNil(m map[string]any, k string, v any) {
	if m[k] == nil {
		m[k] = v
	}
}

// checkUniques enforces unique fields that are not the endpoint key
// (consumers.custom_id, ca_certificates.cert_digest, ...).
func (l *loader) checkUniques() {
	seen := map[string]*item{}
	for _, it := range l.items {
		if it.uniq == nil {
			continue
		}
		for i, f := range it.k.uniques {
			if f == it.k.endpointKey && it.k.uniqueKey {
				continue
			}
			v := it.uniq[i]
			if v == nil {
				continue
			}
			s := fmt.Sprint(v)
			key := it.k.name + "\x00" + f + "\x00" + s
			if prev := seen[key]; prev != nil {
				l.entityErr(it, uniquenessMsg(it.k.name, f, s), prev)
				continue
			}
			seen[key] = it
		}
	}
}

// decode converts an entity's processed record into its typed form and
// drops the record. Errors are kept for build.
func (l *loader) decode(it *item) {
	uniq := make([]any, len(it.k.uniques))
	for i, f := range it.k.uniques {
		uniq[i] = it.out[f]
	}
	it.uniq = uniq
	var e any
	switch it.k.name {
	case "services":
		e = &model.Service{}
	case "routes":
		e = &model.Route{}
	case "consumers":
		e = &model.Consumer{}
	case "plugins":
		e = &model.Plugin{}
	case "upstreams":
		e = &model.Upstream{}
	case "targets":
		e = &model.Target{}
	case "certificates":
		e = &model.Certificate{}
	case "snis":
		e = &model.SNI{}
	case "ca_certificates":
		e = &model.CACertificate{}
	case "keyauth_credentials":
		e = &model.KeyAuthCredential{}
	case "basicauth_credentials":
		e = &model.BasicAuthCredential{}
	case "hmacauth_credentials":
		e = &model.HMACAuthCredential{}
	case "jwt_secrets":
		e = &model.JWTSecret{}
	case "acls":
		e = &model.ACL{}
	case "oauth2_credentials":
		e = &model.OAuth2Credential{}
	case "vaults":
		e = &model.Vault{}
	case "key_sets":
		e = &model.KeySet{}
	case "keys":
		e = &model.Key{}
	}
	if e != nil {
		if err := model.Decode(it.out, e); err != nil {
			if l.decodeErrs == nil {
				l.decodeErrs = map[*item]error{}
			}
			l.decodeErrs[it] = err
		} else {
			it.val = e
		}
	}
	it.out = nil // decoded: the generic record is garbage from here on
}

// build collects the typed entities.
func (l *loader) build() (*model.Config, error) {
	cfg := &model.Config{}
	certs := map[string]*model.Certificate{}
	var snis []*model.SNI
	counts := make(map[*kind]int, len(kinds))
	presize(cfg, l.items)
	for _, it := range l.items {
		if err := l.decodeErrs[it]; err != nil {
			l.entityErr(it, "invalid value: "+err.Error(), nil)
			continue
		}
		it.pos = -1
		if it.val != nil {
			it.pos = int32(counts[it.k])
			counts[it.k]++
		}
		switch e := it.val.(type) {
		case *model.Service:
			cfg.Services = append(cfg.Services, e)
		case *model.Route:
			cfg.Routes = append(cfg.Routes, e)
		case *model.Consumer:
			cfg.Consumers = append(cfg.Consumers, e)
		case *model.Plugin:
			cfg.Plugins = append(cfg.Plugins, e)
		case *model.Upstream:
			cfg.Upstreams = append(cfg.Upstreams, e)
		case *model.Target:
			cfg.Targets = append(cfg.Targets, e)
		case *model.Certificate:
			e.SNIs = nil
			cfg.Certificates = append(cfg.Certificates, e)
			certs[e.ID] = e
		case *model.SNI:
			cfg.SNIs = append(cfg.SNIs, e)
			snis = append(snis, e)
		case *model.CACertificate:
			cfg.CACertificates = append(cfg.CACertificates, e)
		case *model.KeyAuthCredential:
			cfg.KeyAuthCredentials = append(cfg.KeyAuthCredentials, e)
		case *model.BasicAuthCredential:
			cfg.BasicAuthCredentials = append(cfg.BasicAuthCredentials, e)
		case *model.HMACAuthCredential:
			cfg.HMACAuthCredentials = append(cfg.HMACAuthCredentials, e)
		case *model.JWTSecret:
			cfg.JWTSecrets = append(cfg.JWTSecrets, e)
		case *model.ACL:
			cfg.ACLs = append(cfg.ACLs, e)
		case *model.OAuth2Credential:
			cfg.OAuth2Credentials = append(cfg.OAuth2Credentials, e)
		case *model.Vault:
			cfg.Vaults = append(cfg.Vaults, e)
		case *model.KeySet:
			cfg.KeySets = append(cfg.KeySets, e)
		case *model.Key:
			cfg.Keys = append(cfg.Keys, e)
		}
		it.val = nil
	}
	if !l.tree.empty() {
		return nil, l.err()
	}
	// certificates list the names of the SNIs that point at them
	for _, s := range snis {
		if s.Certificate != nil {
			if c := certs[s.Certificate.ID]; c != nil {
				c.SNIs = append(c.SNIs, s.Name)
			}
		}
	}
	if l.opts.Previous != nil {
		// reusePrevious asks only whether an entity's timestamps were
		// written in the file: a set of those (few, usually none) instead
		// of a map of every item
		var stamped map[kindID]bool
		for _, it := range l.items {
			if it.stamped {
				if stamped == nil {
					stamped = map[kindID]bool{}
				}
				stamped[kindID{it.k.name, it.id}] = true
			}
		}
		reusePrevious(cfg, l.opts.Previous, stamped)
	}
	if l.release {
		l.remember(cfg)
	}
	if l.elems != nil {
		elems := l.elems // not &l.elems, which would keep the loader
		lastElems.Store(&elems)
		lastSizes.Store(uint64(len(l.items))<<32 | uint64(uint32(len(l.kept))))
	}
	return cfg, nil
}

// ---- error recording ----

// nodeAt returns the error table of the entity at path, creating it.
func (l *loader) nodeAt(path []any) *node {
	n := l.tree
	for _, p := range path {
		n = n.child(p)
	}
	return n
}

// setAt puts a message in place of the entity at path (Kong does this for
// "expected a record" and uniqueness violations).
func (l *loader) setAt(path []any, msg string) {
	parent := l.nodeAt(path[:len(path)-1])
	switch k := path[len(path)-1].(type) {
	case int:
		parent.setInt(k, msg)
	case string:
		parent.setStr(k, msg)
	}
}

func (l *loader) fieldErr(it *item, field, msg string) {
	l.nodeAt(it.path()).setStr(field, msg)
	l.problem(it, field, msg)
}

// entityErr records an entity-level error: in place of the entity when it
// has no other error (as Kong does), under "@entity" otherwise. dup, when
// set, is the earlier entity this one collides with.
func (l *loader) entityErr(it *item, msg string, dup *item) {
	path := it.path()
	parent := l.nodeAt(path[:len(path)-1])
	key := path[len(path)-1]
	var cur any
	switch k := key.(type) {
	case int:
		cur = parent.getInt(k)
	case string:
		cur = parent.strs[k]
	}
	var val any
	switch c := cur.(type) {
	case nil:
		val = msg
	case string:
		n := newNode()
		n.setStr("@entity", []string{c, msg})
		val = n
	case *node:
		list, _ := c.strs["@entity"].([]string)
		c.setStr("@entity", append(list, msg))
		val = c
	}
	switch k := key.(type) {
	case int:
		parent.setInt(k, val)
	case string:
		parent.setStr(k, val)
	}
	if dup != nil {
		msg += " (same as " + dup.label() + l.describe(dup) + ")"
	}
	l.problem(it, "", msg)
}

func (l *loader) schemaErr(it *item, fields map[string]any) {
	n := l.nodeAt(it.path())
	conv, ok := fromSchemaFields(fields).(*node)
	if !ok || conv.empty() {
		l.entityErr(it, "schema violation", nil)
		return
	}
	for k, v := range conv.ints {
		n.setInt(k, v)
	}
	for k, v := range conv.strs {
		n.setStr(k, v)
	}
	var errs []FlatEntryError
	categorize(conv, "", &errs)
	for _, e := range errs {
		l.problem(it, e.Field, e.Message)
	}
}

func (l *loader) problem(it *item, field, msg string) {
	var b strings.Builder
	b.WriteString(it.label())
	b.WriteString(l.describe(it))
	b.WriteString(": ")
	if field != "" {
		b.WriteString(field)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	l.problems = append(l.problems, b.String())
}

// describe names an entity for people: ` (name "r1", line 12)`.
func (l *loader) describe(it *item) string {
	var parts []string
	k := it.k
	secretKey := k.name == "keyauth_credentials" || k.name == "jwt_secrets"
	if k.endpointKey != "" && !secretKey {
		if s, ok := it.raw[k.endpointKey].(string); ok && s != "" {
			parts = append(parts, k.endpointKey+" "+strconv.Quote(s))
		}
	}
	if k.name == "plugins" {
		if s, ok := it.raw["name"].(string); ok && s != "" {
			parts = append(parts, "name "+strconv.Quote(s))
		}
	}
	if len(parts) == 0 {
		if s, ok := it.raw["id"].(string); ok && s != "" {
			parts = append(parts, "id "+strconv.Quote(s))
		}
	}
	if it.line > 0 {
		parts = append(parts, "line "+strconv.Itoa(int(it.line)))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
