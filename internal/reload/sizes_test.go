package reload

import (
	"fmt"
	"runtime"
	"testing"

	"sluice/internal/model"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func servicesConfig(n int) *model.Config {
	cfg := &model.Config{}
	for i := range n {
		cfg.Services = append(cfg.Services, &model.Service{ID: fmt.Sprintf("s%d", i), Host: "example.com", Port: 80, Protocol: "http"})
		cfg.Routes = append(cfg.Routes, &model.Route{ID: fmt.Sprintf("r%d", i), Protocols: []string{"http"},
			Paths: []string{fmt.Sprintf("/p%d", i)}, Service: &model.ForeignKey{ID: fmt.Sprintf("s%d", i)}})
	}
	return cfg
}

// TestSnapshotBytes: a reload moves the current snapshot's bytes to
// previous; previous drops to zero once the replaced snapshot is collected.
func TestSnapshotBytes(t *testing.T) {
	var cur snapshot.Current
	env := &snapshot.Env{Pool: upstream.NewPool()}
	defer env.Pool.Close()
	r := New(&cur, env, nil)
	if c, p := r.SnapshotBytes(); c != 0 || p != 0 {
		t.Fatalf("before any config: %d, %d; want 0, 0", c, p)
	}
	if err := r.Apply(servicesConfig(10), "h1"); err != nil {
		t.Fatal(err)
	}
	c1, p1 := r.SnapshotBytes()
	if want := snapshot.Size(cur.Load()); c1 != want || c1 <= 0 || p1 != 0 {
		t.Fatalf("after the first config: current %d, previous %d; want %d, 0", c1, p1, want)
	}
	c2 := secondConfig(t, r, &cur, c1)

	// The first snapshot is now unreachable: once collected, previous is 0.
	var p int64
	for range 10 {
		runtime.GC()
		if _, p = r.SnapshotBytes(); p == 0 {
			break
		}
	}
	if p != 0 {
		t.Errorf("previous %d after the replaced snapshot was collected; want 0", p)
	}
	if c, _ := r.SnapshotBytes(); c != c2 {
		t.Errorf("current %d; want %d", c, c2)
	}
}

// secondConfig applies a larger config while holding the first snapshot,
// checks the gauges, and returns the new current bytes. It lets go of the
// first snapshot when it returns.
func secondConfig(t *testing.T, r *Reloader, cur *snapshot.Current, c1 int64) int64 {
	t.Helper()
	first := cur.Load()
	if err := r.Apply(servicesConfig(200), "h2"); err != nil {
		t.Fatal(err)
	}
	c2, p2 := r.SnapshotBytes()
	if c2 != snapshot.Size(cur.Load()) || c2 <= c1 {
		t.Errorf("after the second config: current %d; want Size %d, above the first's %d", c2, snapshot.Size(cur.Load()), c1)
	}
	if p2 != c1 {
		t.Errorf("after the second config: previous %d; want the first's %d while it is referenced", p2, c1)
	}
	runtime.GC()
	if _, p := r.SnapshotBytes(); p != c1 {
		t.Errorf("previous %d after a GC while still referenced; want %d", p, c1)
	}
	runtime.KeepAlive(first)
	return c2
}
