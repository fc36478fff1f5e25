package embedded

import (
	"context"
	"testing"

	"sluice/internal/store"
	"sluice/internal/store/storetest"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, t.TempDir())
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	svc := storetest.Record(t, "services", map[string]any{"name": "persisted", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Version(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer s.Close()
	got, err := s.GetByKey(ctx, "services", "name", "persisted")
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if got["id"] != svc["id"] || got["host"] != "example.com" {
		t.Fatalf("after reopen: %v; want %v", got, svc)
	}
	if v2, _ := s.Version(ctx); v2 != v {
		t.Fatalf("version after reopen %d; want %d", v2, v)
	}
	ch, _, err := s.ChangesSince(ctx, 0)
	if err != nil || len(ch) != 1 || ch[0].ID != svc["id"] {
		t.Fatalf("changes after reopen: %v, %v", ch, err)
	}
	// Writes go on numbering from there.
	svc2 := storetest.Record(t, "services", map[string]any{"name": "second", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc2) }); err != nil {
		t.Fatal(err)
	}
	if v3, _ := s.Version(ctx); v3 != v+1 {
		t.Fatalf("version %d; want %d", v3, v+1)
	}
}

func TestPageCacheCapped(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	var kib int
	if err := s.DB().QueryRow("PRAGMA cache_size").Scan(&kib); err != nil {
		t.Fatal(err)
	}
	if kib != -CacheKiB {
		t.Fatalf("cache_size %d; want %d", kib, -CacheKiB)
	}
	var mode string
	if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode %q; want wal", mode)
	}
	if got := s.DB().Stats().MaxOpenConnections; got != MaxConns {
		t.Fatalf("max connections %d; want %d", got, MaxConns)
	}
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir) // released by Close
	s.Close()
}
