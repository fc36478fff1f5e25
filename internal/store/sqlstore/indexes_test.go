package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"sluice/internal/store"
	"sluice/internal/store/embedded"
	"sluice/internal/store/storetest"
)

// TestReplaceKeepsIndexesExact replaces records at random (renames,
// retags, moves between parents, unchanged copies) and checks that the
// uniques, refs and tags rows that Replace maintains by difference are
// exactly those a rebuild from the stored records writes.
func TestReplaceKeepsIndexesExact(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
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
	var services, routes []store.Record
	for i := range 6 {
		svc := storetest.Record(t, "services", map[string]any{"name": fmt.Sprintf("s%d", i), "host": "h.test", "tags": tagsOf()})
		services = append(services, svc)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 12 {
		r := storetest.Record(t, "routes", map[string]any{"name": fmt.Sprintf("r%d", i), "paths": []any{"/p"},
			"service": map[string]any{"id": services[rng.IntN(len(services))]["id"]}, "tags": tagsOf()})
		routes = append(routes, r)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "routes", r) }); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 300 {
		var entity string
		var rec store.Record
		switch rng.IntN(3) {
		case 0:
			entity, rec = "services", services[rng.IntN(len(services))]
			if rng.IntN(2) == 0 {
				rec["name"] = fmt.Sprintf("s%d", rng.IntN(12)) // may clash: refused
			}
			if rng.IntN(4) == 0 {
				delete(rec, "name")
			}
		default:
			entity, rec = "routes", routes[rng.IntN(len(routes))]
			if rng.IntN(2) == 0 {
				rec["service"] = map[string]any{"id": services[rng.IntN(len(services))]["id"]}
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
		err := s.Update(ctx, func(tx store.Tx) error { return tx.Replace(ctx, entity, rec) })
		if err != nil {
			// A refused rename: take the stored record back.
			got, gerr := s.Get(ctx, entity, rec["id"].(string))
			if gerr != nil {
				t.Fatalf("step %d: %v, then %v", step, err, gerr)
			}
			for k := range rec {
				delete(rec, k)
			}
			for k, v := range got {
				rec[k] = v
			}
		}
	}
	before := indexRows(t, s)
	if _, err := s.DB().ExecContext(ctx, `UPDATE meta SET v = 0 WHERE k = 'index_fp'`); err != nil {
		t.Fatal(err)
	}
	if clashes, err := s.EnsureIndexes(ctx); err != nil || clashes != 0 {
		t.Fatalf("rebuild: %d clashes, %v", clashes, err)
	}
	after := indexRows(t, s)
	if !slices.Equal(before, after) {
		t.Fatalf("index rows kept by Replace differ from a rebuild:\nkept:    %v\nrebuilt: %v", before, after)
	}
	if len(after) < 30 {
		t.Fatalf("only %d index rows: the test built too little", len(after))
	}
}

func indexRows(t *testing.T, s *embedded.Store) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT 'u', entity, field, value, id FROM uniques`,
		`SELECT 'r', child_entity, child_id, field, parent_entity || ':' || parent_id FROM refs`,
		`SELECT 't', entity, id, tag, '' FROM tags`,
	} {
		rows, err := s.DB().Query(q)
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

// A record whose unique key an earlier record already claims keeps its
// data but not the key when the indexes are rebuilt, and is counted.
func TestEnsureIndexesCountsClashes(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
	a := storetest.Record(t, "services", map[string]any{"name": "same", "host": "a.test"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", a) }); err != nil {
		t.Fatal(err)
	}
	// A second "same", written behind the store's back (as a schema that
	// did not make name unique could have).
	b := storetest.Record(t, "services", map[string]any{"name": "same", "host": "b.test"})
	data, _ := json.Marshal(b)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO entities (entity, id, seq, data) VALUES ('services', ?, ?, ?)`, b["id"], 1<<40, string(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE meta SET v = 0 WHERE k = 'index_fp'`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EnsureIndexes(ctx); err != nil || n != 1 {
		t.Fatalf("EnsureIndexes = %d, %v; want 1 clash", n, err)
	}
	if got, err := s.GetByKey(ctx, "services", "name", "same"); err != nil || got["id"] != a["id"] {
		t.Fatalf("name same belongs to %v, %v; want the earlier record %v", got["id"], err, a["id"])
	}
	if _, err := s.Get(ctx, "services", b["id"].(string)); err != nil {
		t.Fatalf("the clashing record lost its data: %v", err)
	}
}
