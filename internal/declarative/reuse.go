package declarative

import (
	"reflect"

	"sluice/internal/model"
	"sluice/internal/sched"
)

// reusePrevious replaces every entity of cfg that is unchanged from the
// previous configuration by the previous value itself (same pointer, same
// timestamps), so a reload of the same file changes nothing and the
// snapshot builder can reuse what it compiled. A changed entity keeps its
// created_at and gets updated_at = now. Timestamps written in the file are
// kept as written.
func reusePrevious(cfg, prev *model.Config, items map[string]*item) {
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
		var byID map[string]reflect.Value // built on the first changed entity
		kindName := cv.Type().Field(f).Tag.Get("json")
		for i := 0; i < cur.Len(); i++ {
			sched.Point()
			e := cur.Index(i)
			if e.IsNil() || same[e.Pointer()] {
				continue
			}
			if byID == nil {
				byID = make(map[string]reflect.Value, old.Len())
				for j := 0; j < old.Len(); j++ {
					if o := old.Index(j); !o.IsNil() {
						byID[o.Elem().FieldByIndex(idField.Index).String()] = o
					}
				}
			}
			id := e.Elem().FieldByIndex(idField.Index).String()
			p, ok := byID[id]
			if !ok {
				continue
			}
			if reflect.DeepEqual(e.Interface(), p.Interface()) {
				cur.Index(i).Set(p)
				continue
			}
			it := items[kindName+"\x00"+id]
			if it != nil && it.stamped {
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
