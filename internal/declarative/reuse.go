package declarative

import (
	"reflect"

	"sluice/internal/model"
	"sluice/internal/sched"
)

// kindID names an entity: its kind's name and its id.
type kindID struct{ kind, id string }

// reusePrevious replaces every entity of cfg that is unchanged from the
// previous configuration by the previous value itself (same pointer, same
// timestamps), so a reload of the same file changes nothing and the
// snapshot builder can reuse what it compiled. A changed entity keeps its
// created_at and gets updated_at = now. Timestamps written in the file
// (the entities in stamped) are kept as written.
func reusePrevious(cfg, prev *model.Config, stamped map[kindID]bool) {
	if prev == nil {
		return
	}
	cv, pv := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(prev).Elem()
	for f := 0; f < cv.NumField(); f++ {
		cur, old := cv.Field(f), pv.Field(f)
		if cur.Kind() != reflect.Slice || cur.Len() == 0 || old.Len() == 0 {
			continue
		}
		// the entities taken from the memo are the previous ones already
		same := make(map[uintptr]bool, old.Len())
		for i := 0; i < old.Len(); i++ {
			same[old.Index(i).Pointer()] = true
		}
		idField, _ := cur.Type().Elem().Elem().FieldByName("ID")
		var byID map[string]int // index in old, built on the first changed entity
		kindName := cv.Type().Field(f).Tag.Get("json")
		for i := 0; i < cur.Len(); i++ {
			sched.Point()
			e := cur.Index(i)
			if e.IsNil() || same[e.Pointer()] {
				continue
			}
			if byID == nil {
				byID = make(map[string]int, old.Len())
				for j := 0; j < old.Len(); j++ {
					if o := old.Index(j); !o.IsNil() {
						byID[o.Elem().FieldByIndex(idField.Index).String()] = j
					}
				}
			}
			id := e.Elem().FieldByIndex(idField.Index).String()
			j, ok := byID[id]
			if !ok {
				continue
			}
			p := old.Index(j)
			if reflect.DeepEqual(e.Interface(), p.Interface()) {
				cur.Index(i).Set(p)
				continue
			}
			if stamped[kindID{kindName, id}] {
				continue
			}
			ev, pe := e.Elem(), p.Elem()
			updated := ev.FieldByName("UpdatedAt")
			var newUpdated reflect.Value
			if updated.IsValid() {
				newUpdated = reflect.ValueOf(updated.Interface())
				updated.Set(pe.FieldByName("UpdatedAt"))
			}
			ev.FieldByName("CreatedAt").Set(pe.FieldByName("CreatedAt"))
			if reflect.DeepEqual(e.Interface(), p.Interface()) {
				cur.Index(i).Set(p)
				continue
			}
			// changed: created_at stays the previous one, updated_at is now
			if updated.IsValid() {
				updated.Set(newUpdated)
			}
		}
	}
}

// presize gives each entity list of cfg the capacity for the items of its
// kind, so that build appends without growing them (growing left as much
// again in garbage, megabytes for a large configuration).
func presize(cfg *model.Config, items []*item) {
	counts := map[string]int{}
	for _, it := range items {
		counts[it.k.name]++
	}
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if n := counts[t.Field(i).Tag.Get("json")]; n > 0 && f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.MakeSlice(f.Type(), 0, n))
		}
	}
}
