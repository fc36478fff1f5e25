package snapshot

import (
	"reflect"
	"unsafe"

	"sluice/internal/sched"
)

// Size estimates the heap bytes a snapshot holds, for the memory timeline
// and the sluice_snapshot_*_bytes gauges. It is an estimate, not a
// measurement:
//
//   - the configuration's entities are walked field by field (structs,
//     strings, slices, maps, pointers), with map storage approximated;
//   - the indexes by id (services, plugin chains, consumers and
//     credentials) count a fixed cost per entry;
//   - the router counts a fixed cost per compiled sub-route (routeBytes,
//     measured on plain path routes: regex routes cost more);
//   - entities and compiled routes reused from the previous snapshot are
//     counted in both, and allocator rounding is ignored.
//
// It costs one walk of the entities (a few milliseconds for 20 000), so it
// is computed once per build by whoever publishes the snapshot, not per
// scrape.
func Size(s *Snapshot) int64 {
	if s == nil {
		return 0
	}
	n := int64(unsafe.Sizeof(*s))
	if s.Config != nil {
		n += deepSize(reflect.ValueOf(s.Config), 0)
	}
	if s.Router != nil {
		n += int64(s.Router.Len()) * routeBytes
	}
	n += int64(len(s.Services)+len(s.Balancers)+len(s.Chains)) * indexEntryBytes
	if s.Entities != nil {
		n += int64(s.Entities.count()) * indexEntryBytes
	}
	return n
}

const (
	// routeBytes is the router's cost of one compiled sub-route (a
	// matcher, its index entries and its route state), measured at about
	// 450 bytes for a route with one plain path.
	routeBytes = 512
	// indexEntryBytes is the cost of one entry of a map from id (a
	// string) to a pointer, with Go's map overhead.
	indexEntryBytes = 64
	// mapEntryOverhead is the per-entry overhead of a map walked by
	// deepSize, on top of its keys and values.
	mapEntryOverhead = 16
	// maxSizeDepth bounds deepSize's recursion (entities are shallow
	// trees; a plugin config nests a few levels).
	maxSizeDepth = 32
)

// count is the number of entries of the consumer and credential indexes.
func (e *Entities) count() int {
	n := 0
	if e.consumers != nil {
		n += len(e.consumers.src)
	}
	if e.keys != nil {
		n += len(e.keys.src)
	}
	if e.basic != nil {
		n += len(e.basic.src)
	}
	if e.hmacs != nil {
		n += len(e.hmacs.src)
	}
	if e.jwts != nil {
		n += len(e.jwts.src)
	}
	if e.acls != nil {
		n += len(e.acls.src)
	}
	return n
}

// deepSize is the size of what v points to or holds outside itself
// (pointees, string bytes, slice and map storage), plus v's own size when
// it is a pointer's target. Pointers are followed without a visited set:
// configuration entities are trees.
func deepSize(v reflect.Value, depth int) int64 {
	if depth > maxSizeDepth || !v.IsValid() {
		return 0
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + deepSize(e, depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		n := deepSize(e, depth+1)
		if k := e.Kind(); k != reflect.Pointer && k != reflect.Map {
			n += int64(e.Type().Size()) // boxed
		}
		return n
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := int64(v.Cap()) * int64(v.Type().Elem().Size())
		for i := range v.Len() {
			if depth <= 2 {
				sched.Point() // an entity of a list
			}
			n += deepSize(v.Index(i), depth+1)
		}
		return n
	case reflect.Array:
		var n int64
		for i := range v.Len() {
			n += deepSize(v.Index(i), depth+1)
		}
		return n
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			n += deepSize(v.Field(i), depth+1)
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		t := v.Type()
		n := int64(48) + int64(v.Len())*(int64(t.Key().Size()+t.Elem().Size())+mapEntryOverhead)
		it := v.MapRange()
		for it.Next() {
			n += deepSize(it.Key(), depth+1) + deepSize(it.Value(), depth+1)
		}
		return n
	}
	return 0
}
