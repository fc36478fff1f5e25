package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"sluice/internal/store"
	"sluice/internal/store/embedded"
	"sluice/internal/store/storetest"
)

// openEmbedded opens an embedded store in a temporary directory, closed
// with the test.
func openEmbedded(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFeedTrimmed(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
	s.Retain = 8
	var ids []string
	for i := 0; i < 21; i++ {
		r := storetest.Record(t, "consumers", map[string]any{"custom_id": string(rune('a' + i))})
		ids = append(ids, r["id"].(string))
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "consumers", r) }); err != nil {
			t.Fatal(err)
		}
	}
	// Version 20 trimmed the feed to versions after 12.
	tests := []struct {
		since   uint64
		want    int
		tooOld  bool
		current uint64
	}{
		{0, 0, true, 21},
		{11, 0, true, 21},
		{12, 9, false, 21},
		{18, 3, false, 21},
		{21, 0, false, 21},
	}
	for _, tt := range tests {
		ch, cur, err := s.ChangesSince(ctx, tt.since)
		if tt.tooOld {
			if !errors.Is(err, store.ErrTooOld) {
				t.Fatalf("ChangesSince(%d): %v; want ErrTooOld", tt.since, err)
			}
			continue
		}
		if err != nil || len(ch) != tt.want || cur != tt.current {
			t.Fatalf("ChangesSince(%d) = %d changes, %d, %v; want %d, %d", tt.since, len(ch), cur, err, tt.want, tt.current)
		}
		for i, c := range ch {
			if want := ids[int(tt.since)+i]; c.ID != want || c.Version != tt.since+uint64(i)+1 {
				t.Fatalf("ChangesSince(%d)[%d] = %+v; want %s at version %d", tt.since, i, c, want, tt.since+uint64(i)+1)
			}
		}
	}
}

// A larger Retain after a trim does not lower the floor: the dropped
// changes cannot be served.
func TestFeedFloorNeverLowers(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
	s.Retain = 8
	seq := 0
	add := func(n int) {
		for range n {
			seq++
			r := storetest.Record(t, "consumers", map[string]any{"custom_id": fmt.Sprint(seq)})
			if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "consumers", r) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(20) // version 20 trims to versions after 12
	s.Retain = 20
	add(12) // versions 25 and 30 would set the floor to 5, then 10
	if _, _, err := s.ChangesSince(ctx, 10); !errors.Is(err, store.ErrTooOld) {
		t.Fatalf("ChangesSince(10) after the trim: %v; want ErrTooOld", err)
	}
	ch, cur, err := s.ChangesSince(ctx, 12)
	if err != nil || cur != 32 || len(ch) != 20 {
		t.Fatalf("ChangesSince(12) = %d changes, %d, %v; want 20, 32", len(ch), cur, err)
	}
}

func TestPanicInUpdateRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t)
	r := storetest.Record(t, "consumers", map[string]any{"username": "p"})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, "consumers", r); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := s.Get(ctx, "consumers", r["id"].(string)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record of a panicked transaction: %v; want ErrNotFound", err)
	}
	// The writer is free again.
	done := make(chan error, 1)
	go func() { done <- s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "consumers", r) }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writer still locked after a panic")
	}
}

// Indexes built with other metadata (an older schema) are rebuilt from the
// records when the store opens.
func TestIndexesRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := storetest.Record(t, "services", map[string]any{"name": "svc", "host": "example.com", "tags": []any{"t"}})
	rt := storetest.Record(t, "routes", map[string]any{"paths": []any{"/"}, "service": map[string]any{"id": svc["id"]}})
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		return tx.Insert(ctx, "routes", rt)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Simulate indexes of another schema version: lost, and a stale
	// fingerprint.
	for _, q := range []string{`DELETE FROM uniques`, `DELETE FROM refs`, `DELETE FROM tags`, `UPDATE meta SET v = 1 WHERE k = 'index_fp'`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s, err = embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetByKey(ctx, "services", "name", "svc"); err != nil {
		t.Fatalf("unique key after reopen: %v", err)
	}
	p, err := s.List(ctx, "services", store.ListOptions{Tags: []string{"t"}})
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("tag filter after reopen: %v, %v", p.Records, err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, "services", svc["id"].(string)) })
	var fe *store.ForeignKeyError
	if !errors.As(err, &fe) {
		t.Fatalf("delete of a referenced service after reopen: %v; want *store.ForeignKeyError", err)
	}
	dup := storetest.Record(t, "services", map[string]any{"name": "svc", "host": "example.com"})
	var ue *store.UniqueError
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", dup) }); !errors.As(err, &ue) {
		t.Fatalf("duplicate name after reopen: %v; want *store.UniqueError", err)
	}
	if n, err := s.EnsureIndexes(ctx); err != nil || n != 0 {
		t.Fatalf("EnsureIndexes on current indexes: %d, %v", n, err)
	}
}
