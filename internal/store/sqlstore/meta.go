package sqlstore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sluice/internal/model"
	"sluice/internal/store"
)

// entityMeta is what the store needs to know about one entity, derived from
// its model schema once.
type entityMeta struct {
	schema   *model.Schema
	uniques  []string       // fields with unique = true
	foreigns []*model.Field // foreign fields
	cacheKey []string       // composite uniqueness (Kong's cache_key)
}

func (m *entityMeta) unique(field string) bool { return slices.Contains(m.uniques, field) }

// cacheKeyField is the synthetic uniques.field of an entity's cache key.
const cacheKeyField = "@cache_key"

var (
	metaMu    sync.Mutex
	metaCache = map[string]*entityMeta{}
)

func lookupMeta(entity string) (*entityMeta, error) {
	metaMu.Lock()
	defer metaMu.Unlock()
	if m, ok := metaCache[entity]; ok {
		return m, nil
	}
	s, ok := model.Lookup(entity)
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", entity)
	}
	m := &entityMeta{schema: s, cacheKey: s.CacheKey}
	for _, f := range s.Fields {
		if f.Unique {
			m.uniques = append(m.uniques, f.Name)
		}
		if f.Type == model.TypeForeign {
			m.foreigns = append(m.foreigns, f)
		}
	}
	// An endpoint key identifies one entity, so it is unique too, unless
	// it is unique only within a parent as part of the cache key (targets'
	// target within its upstream). This covers endpoint keys whose schema
	// field lacks the unique flag (snis' name).
	if k := s.EndpointKey; k != "" && !slices.Contains(m.uniques, k) && !slices.Contains(s.CacheKey, k) {
		m.uniques = append(m.uniques, k)
	}
	metaCache[entity] = m
	return m, nil
}

// cascades reports whether deleting the parent referenced by child's field
// deletes the child. It follows the schema's on_delete, plus one rule Kong
// implements in code rather than in the schema: the certificates DAO
// deletes the certificate's SNIs with it.
func cascades(childEntity, field string) bool {
	m, err := lookupMeta(childEntity)
	if err != nil {
		return false
	}
	f, ok := m.schema.Field(field)
	if !ok {
		return false
	}
	if f.OnDelete == "cascade" {
		return true
	}
	return childEntity == "snis" && f.Reference == "certificates"
}

// foreignID extracts the id of a foreign value ({"id": "..."}), "" when null.
func foreignID(v any) string {
	switch t := v.(type) {
	case map[string]any:
		id, _ := t["id"].(string)
		return id
	case map[string]string:
		return t["id"]
	case *model.ForeignKey:
		if t != nil {
			return t.ID
		}
	case model.ForeignKey:
		return t.ID
	case string:
		return t
	}
	return ""
}

// keyString renders a unique value as the text stored in uniques.value.
func keyString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// uniqueKey is one (field, value) pair a record claims.
type uniqueKey struct {
	field   string
	value   string
	display any
	values  map[string]any // cache key components
}

// ref names a key in a map: its field and value.
func (k uniqueKey) ref() string { return k.field + "\x00" + k.value }

func (m *entityMeta) keys(rec map[string]any) []uniqueKey {
	var out []uniqueKey
	for _, f := range m.uniques {
		v := rec[f]
		if v == nil {
			continue
		}
		out = append(out, uniqueKey{field: f, value: keyString(v), display: v})
	}
	if len(m.cacheKey) > 0 {
		parts := make([]any, len(m.cacheKey))
		values := make(map[string]any, len(m.cacheKey))
		for i, f := range m.cacheKey {
			v := rec[f]
			if fd, ok := m.schema.Field(f); ok && fd.Type == model.TypeForeign {
				if id := foreignID(v); id != "" {
					parts[i] = id
					values[f] = map[string]any{"id": id}
				} else {
					values[f] = nil
				}
				continue
			}
			parts[i] = v
			values[f] = v
		}
		b, _ := json.Marshal(parts)
		out = append(out, uniqueKey{field: cacheKeyField, value: string(b), values: values})
	}
	return out
}

func uniqueErr(entity string, k uniqueKey) error {
	if k.values != nil {
		return &store.UniqueError{Entity: entity, Field: cacheKeyField, Values: k.values}
	}
	return &store.UniqueError{Entity: entity, Field: k.field, Value: k.display}
}

func tagsOf(rec map[string]any) []string {
	switch t := rec["tags"].(type) {
	case []string:
		return t
	case []any:
		out := make([]string, 0, len(t))
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// configSlots maps an entity name to its slice in model.Config, found by
// the slice's JSON name.
var configSlots = func() map[string]int {
	out := map[string]int{}
	t := reflect.TypeOf(model.Config{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = i
	}
	return out
}()

// appendDecoded decodes one stored record (its JSON text) into its typed
// entity and appends it to the matching slice of cfg. This is model.Decode
// without the first encoding step. Records of entities that model.Config
// has no slice for are skipped.
func appendDecoded(cfg *model.Config, entity, id string, data []byte) error {
	i, ok := configSlots[entity]
	if !ok {
		return nil
	}
	slice := reflect.ValueOf(cfg).Elem().Field(i)
	elem := reflect.New(slice.Type().Elem().Elem())
	if err := json.Unmarshal(data, elem.Interface()); err != nil {
		return fmt.Errorf("decode %s %s: %w", entity, id, err)
	}
	slice.Set(reflect.Append(slice, elem))
	return nil
}

// caReferrers lists the entities whose schema has a ca_certificates array
// (Kong's CA certificate reference entities).
var caReferrers = sync.OnceValue(func() []string {
	var out []string
	for _, entity := range model.Entities() {
		s, _ := model.Lookup(entity)
		if f, ok := s.Field("ca_certificates"); ok && (f.Type == model.TypeArray || f.Type == model.TypeSet) {
			out = append(out, entity)
		}
	}
	return out
})
