package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"sluice/internal/store"
)

// IndexedStore is a store over the SQL layout (store/sqlstore) whose index
// tables can be read and rebuilt.
type IndexedStore interface {
	store.Store
	DB() *sql.DB
	EnsureIndexes(ctx context.Context) (clashes int, err error)
}

// IndexesExact writes at random (renames, retags, moves between parents,
// unchanged copies, several writes in one transaction: swaps of names,
// deletions and re-creations) and checks that the uniques, refs and tags
// rows the store maintains by difference are exactly those a rebuild from
// the stored records writes, and that every record reads back as written.
func IndexesExact(t *testing.T, s IndexedStore) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 9))
	tagsOf := func() []any {
		var out []any
		for _, tag := range []string{"a", "b", "c", "a"} {
			if rng.IntN(2) == 0 {
				out = append(out, tag)
			}
		}
		return out
	}
	clone := func(r store.Record) store.Record {
		out := make(store.Record, len(r))
		for k, v := range r {
			out[k] = v
		}
		return out
	}
	var services, routes []store.Record
	for i := range 6 {
		svc := Record(t, "services", map[string]any{"name": fmt.Sprintf("s%d", i), "host": "h.test", "tags": tagsOf()})
		services = append(services, svc)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		r := Record(t, "routes", map[string]any{"name": fmt.Sprintf("r%d", i), "paths": []any{"/p"},
			"service": ref(services[rng.IntN(len(services))]), "tags": tagsOf()})
		routes = append(routes, r)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "routes", r) }); err != nil {
			t.Fatal(err)
		}
	}
	// change returns a changed copy of one record.
	change := func(step int) (string, *store.Record, store.Record) {
		var entity string
		var slot *store.Record
		switch rng.IntN(3) {
		case 0:
			entity, slot = "services", &services[rng.IntN(len(services))]
		default:
			entity, slot = "routes", &routes[rng.IntN(len(routes))]
		}
		rec := clone(*slot)
		if entity == "services" {
			if rng.IntN(2) == 0 {
				rec["name"] = fmt.Sprintf("s%d", rng.IntN(12)) // may clash: refused
			}
			if rng.IntN(4) == 0 {
				delete(rec, "name")
			}
		} else {
			if rng.IntN(2) == 0 {
				rec["service"] = ref(services[rng.IntN(len(services))])
			}
			if rng.IntN(3) == 0 {
				rec["name"] = fmt.Sprintf("r%d", rng.IntN(24))
			}
			if rng.IntN(4) == 0 {
				rec["paths"] = []any{fmt.Sprintf("/p%d", step)}
			}
		}
		if rng.IntN(2) == 0 {
			rec["tags"] = tagsOf()
		}
		return entity, slot, rec
	}
	for step := range 400 {
		type write struct {
			entity string
			slot   *store.Record
			rec    store.Record
		}
		var ws []write
		switch rng.IntN(4) {
		case 0: // two or three writes in one transaction
			for range 2 + rng.IntN(2) {
				e, slot, rec := change(step)
				ws = append(ws, write{e, slot, rec})
			}
		case 1: // a route renamed, another takes its old name, in one transaction
			a, b := &routes[rng.IntN(len(routes))], &routes[rng.IntN(len(routes))]
			if a == b {
				continue
			}
			ra, rb := clone(*a), clone(*b)
			old, _ := ra["name"].(string)
			ra["name"] = fmt.Sprintf("x%d", step)
			rb["name"] = old
			if old == "" {
				delete(rb, "name")
			}
			ws = append(ws, write{"routes", a, ra}, write{"routes", b, rb})
		case 2: // a route deleted and re-created with its id, moved and retagged
			slot := &routes[rng.IntN(len(routes))]
			rec := clone(*slot)
			rec["service"] = ref(services[rng.IntN(len(services))])
			rec["tags"] = tagsOf()
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Delete(ctx, "routes", rec["id"].(string)); err != nil {
					return err
				}
				return tx.Insert(ctx, "routes", rec)
			})
			if err != nil {
				t.Fatalf("step %d: delete and re-create: %v", step, err)
			}
			*slot = rec
			continue
		default:
			e, slot, rec := change(step)
			ws = append(ws, write{e, slot, rec})
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, w := range ws {
				if err := tx.Replace(ctx, w.entity, w.rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, w := range ws {
				*w.slot = w.rec
			}
		} else if !errors.As(err, new(*store.UniqueError)) {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	for _, recs := range [][]store.Record{services, routes} {
		for _, want := range recs {
			entity := "routes"
			if _, ok := want["host"]; ok {
				entity = "services"
			}
			got, err := s.Get(ctx, entity, want["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(normalise(t, want)) {
				t.Fatalf("%s %s reads back as\n%v\nwant\n%v", entity, want["id"], got, want)
			}
		}
	}
	before := IndexRows(t, s.DB())
	if _, err := s.DB().ExecContext(ctx, `UPDATE meta SET v = 0 WHERE k = 'index_fp'`); err != nil {
		t.Fatal(err)
	}
	if clashes, err := s.EnsureIndexes(ctx); err != nil || clashes != 0 {
		t.Fatalf("rebuild: %d clashes, %v", clashes, err)
	}
	after := IndexRows(t, s.DB())
	if !slices.Equal(before, after) {
		t.Fatalf("index rows kept by the store differ from a rebuild:\nkept:    %v\nrebuilt: %v", before, after)
	}
	if len(after) < 30 {
		t.Fatalf("only %d index rows: the test built too little", len(after))
	}
}

// normalise is rec as the store gives it back (through JSON).
func normalise(t *testing.T, rec store.Record) store.Record {
	t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out store.Record
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// IndexRows lists the rows of the index tables, sorted.
func IndexRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT 'u', entity, field, value, id FROM uniques`,
		`SELECT 'r', child_entity, child_id, field, parent_entity || ':' || parent_id FROM refs`,
		`SELECT 't', entity, id, tag, '' FROM tags`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c, d, e string
			if err := rows.Scan(&a, &b, &c, &d, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, a+"|"+b+"|"+c+"|"+d+"|"+e)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}
