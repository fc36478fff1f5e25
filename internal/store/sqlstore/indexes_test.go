package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"sluice/internal/store"
	"sluice/internal/store/storetest"
)

// TestReplaceKeepsIndexesExact: the index rows written by difference are
// those a rebuild writes (storetest.IndexesExact).
func TestReplaceKeepsIndexesExact(t *testing.T) {
	storetest.IndexesExact(t, openEmbedded(t))
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
	// The clash is remembered when the indexes are current (a restart).
	if n, err := s.EnsureIndexes(ctx); err != nil || n != 0 {
		t.Fatalf("EnsureIndexes on current indexes = %d, %v", n, err)
	}
	// Once the earlier record is gone, a write of the clashing record
	// claims the name it holds: a third record cannot take it.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "services", a["id"].(string)) }); err != nil {
		t.Fatal(err)
	}
	b["host"] = "b2.test"
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Replace(ctx, "services", b) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByKey(ctx, "services", "name", "same"); err != nil || got["id"] != b["id"] {
		t.Fatalf("name same belongs to %v, %v; want the rewritten record %v", got["id"], err, b["id"])
	}
	c := storetest.Record(t, "services", map[string]any{"name": "same", "host": "c.test"})
	var ue *store.UniqueError
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", c) }); !errors.As(err, &ue) {
		t.Fatalf("a third record named same: %v; want *store.UniqueError", err)
	}
}
