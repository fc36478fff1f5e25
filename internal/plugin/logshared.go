package plugin

import (
	"log/slog"
	"sort"
	"strings"
	"sync"

	"sluice/internal/model"
)

// CustomFieldsByLuaField is the custom_fields_by_lua field of Kong's log
// plugins (typedefs.lua_code): accepted so that Kong configs load, never
// applied (no Lua).
func CustomFieldsByLuaField() *model.Field {
	return &model.Field{Name: "custom_fields_by_lua", Type: model.TypeMap,
		Keys: &model.Field{Type: model.TypeString, LenMin: 1}, Values: &model.Field{Type: model.TypeString, LenMin: 1}}
}

// QueueField is Kong's queue record of the log plugins
// (kong/tools/queue_schema.lua, typedefs.queue).
func QueueField() *model.Field {
	return &model.Field{Name: "queue", Type: model.TypeRecord, Required: true, Fields: []*model.Field{
		{Name: "max_batch_size", Type: model.TypeInteger, Default: 1, Between: []float64{1, 1000000}},
		{Name: "max_coalescing_delay", Type: model.TypeNumber, Default: 1, Between: []float64{0, 3600}},
		{Name: "max_entries", Type: model.TypeInteger, Default: 10000, Between: []float64{1, 1000000}},
		{Name: "max_bytes", Type: model.TypeInteger},
		{Name: "max_retry_time", Type: model.TypeNumber, Default: 60},
		{Name: "initial_retry_delay", Type: model.TypeNumber, Default: 0.01, Between: []float64{0.001, 1000000}},
		{Name: "max_retry_delay", Type: model.TypeNumber, Default: 60, Between: []float64{0.001, 1000000}},
		{Name: "concurrency_limit", Type: model.TypeInteger, Default: 1, OneOf: []any{-1, 1}},
	}}
}

// WarnCustomFieldsByLua logs, once per plugin instance built, that the
// custom_fields_by_lua of a log plugin are not added.
func WarnCustomFieldsByLua(log *slog.Logger, plugin string, fields map[string]string) {
	if len(fields) == 0 || log == nil {
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	log.Warn(plugin+": custom_fields_by_lua is not supported (no Lua); the fields are not added",
		"fields", strings.Join(keys, ","))
}

// Shared holds one value per key for the plugin instances that use it (a
// log plugin's sender per destination): the first Acquire of a key makes
// it, the last Release stops it. Instances come and go with every
// snapshot; the value, its queue and its connection stay.
type Shared[T any] struct {
	mu   sync.Mutex
	vals map[string]*sharedRef[T]
}

type sharedRef[T any] struct {
	v    T
	refs int
}

// Acquire returns key's value, made by newValue on first use.
func (s *Shared[T]) Acquire(key string, newValue func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string]*sharedRef[T]{}
	}
	r := s.vals[key]
	if r == nil {
		r = &sharedRef[T]{v: newValue()}
		s.vals[key] = r
	}
	r.refs++
	return r.v
}

// Release drops a reference to key's value; the last one calls stop.
func (s *Shared[T]) Release(key string, stop func(T)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.vals[key]
	if r == nil {
		return
	}
	r.refs--
	if r.refs > 0 {
		return
	}
	delete(s.vals, key)
	stop(r.v)
}
