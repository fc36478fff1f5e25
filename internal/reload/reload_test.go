package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func TestApplyKeepsOldSnapshotOnFailure(t *testing.T) {
	var cur snapshot.Current
	r := New(&cur, &snapshot.Env{Pool: upstream.NewPool()}, nil)
	good := &model.Config{Services: []*model.Service{{ID: "s1", Host: "example.com", Port: 80, Protocol: "http"}}}
	if err := r.Apply(good, "h1"); err != nil {
		t.Fatal(err)
	}
	first := cur.Load()
	if first == nil || first.Hash != "h1" || first.Version != 1 {
		t.Fatalf("after first Apply: %+v", first)
	}
	bad := &model.Config{SNIs: []*model.SNI{{Name: "x.test", Certificate: &model.ForeignKey{ID: "nope"}}}}
	err := r.Apply(bad, "h2")
	if !errors.Is(err, ErrBuild) {
		t.Fatalf("Apply(bad) error = %v; want ErrBuild", err)
	}
	if cur.Load() != first {
		t.Fatal("a rejected config replaced the serving snapshot")
	}
	// Same hash: no rebuild.
	if err := r.Apply(good, "h1"); err != nil {
		t.Fatal(err)
	}
	if cur.Load() != first {
		t.Fatal("an unchanged config was rebuilt")
	}
	st := r.Stats()
	if st.Successes != 1 || st.Failures != 1 || st.LastOK {
		t.Fatalf("stats = %+v; want 1 success, 1 failure, last not ok", st)
	}
	if err := r.Apply(&model.Config{}, "h3"); err != nil {
		t.Fatal(err)
	}
	if v := cur.Load().Version; v != 2 {
		t.Fatalf("version = %d; want 2", v)
	}
}

func TestWatchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kong.yml")
	if err := os.WriteFile(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	done := make(chan struct{})
	go func() { WatchFile(ctx, path, 20*time.Millisecond, func() { calls.Add(1) }); close(done) }()

	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("calls before any change = %d; want 0", n)
	}
	// Same length, same second: only the content differs.
	if err := os.WriteFile(path, []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("calls after one change = %d; want 1", n)
	}
	time.Sleep(150 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("calls without further change = %d; want 1", n)
	}
	cancel()
	<-done
}
