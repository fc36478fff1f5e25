package reload

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/router"
	"sluice/internal/snapshot"
	"sluice/internal/store"
	"sluice/internal/store/embedded"
	"sluice/internal/store/storetest"
	"sluice/internal/upstream"
)

// waitFor polls cond until it holds or two seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// followTest opens an embedded store and a reloader to follow it; the
// context ends, and the store closes, with the test.
func followTest(t *testing.T) (*embedded.Store, context.Context, *snapshot.Current, *Reloader) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		st.Close()
	})
	cur := new(snapshot.Current)
	return st, ctx, cur, New(cur, &snapshot.Env{Pool: upstream.NewPool()}, nil)
}

func matches(cur *snapshot.Current, path string) bool {
	s := cur.Load()
	if s == nil {
		return false
	}
	_, ok := s.Router.Match(&router.Request{Method: "GET", Host: "x.test", Path: path})
	return ok
}

func TestFollowAppliesStoreChanges(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	svc := storetest.Record(t, "services", map[string]any{"name": "s1", "host": "example.com"})
	r1 := storetest.Record(t, "routes", map[string]any{"name": "r1", "paths": []any{"/one"}, "service": map[string]any{"id": svc["id"]}})
	write := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := st.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	write(func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		return tx.Insert(ctx, "routes", r1)
	})

	var cur snapshot.Current
	rl := New(&cur, &snapshot.Env{Pool: upstream.NewPool()}, nil)
	done := make(chan struct{})
	// A long poll: changes must arrive through Notify, not the poll.
	go func() {
		rl.Follow(ctx, st, FollowOptions{Poll: time.Hour, Debounce: 5 * time.Millisecond})
		close(done)
	}()

	waitFor(t, "the initial load", func() bool { return matches(&cur, "/one") })
	first := cur.Load()

	// Add a route: the next snapshot has it, and the unchanged service is
	// the same object (the config was patched, not reloaded).
	r2 := storetest.Record(t, "routes", map[string]any{"name": "r2", "paths": []any{"/two"}, "service": map[string]any{"id": svc["id"]}})
	write(func(tx store.Tx) error { return tx.Insert(ctx, "routes", r2) })
	waitFor(t, "the new route", func() bool { return matches(&cur, "/two") })
	second := cur.Load()
	if second.Config.Services[0] != first.Config.Services[0] {
		t.Error("an unchanged service was decoded again instead of reused")
	}
	if len(first.Config.Routes) != 1 {
		t.Errorf("the previous snapshot's config was modified: %d routes", len(first.Config.Routes))
	}

	// Delete the first route.
	write(func(tx store.Tx) error { return tx.Delete(ctx, "routes", r1["id"].(string)) })
	waitFor(t, "the deleted route to stop matching", func() bool { return !matches(&cur, "/one") })
	if !matches(&cur, "/two") {
		t.Error("the remaining route stopped matching")
	}
	// The snapshot is published just before the applied version is
	// recorded, so wait for the two to meet rather than read them once.
	var st2 Stats
	deadline := time.Now().Add(2 * time.Second)
	for {
		st2 = rl.Stats()
		if st2.AppliedVersion != 0 && st2.AppliedVersion == st2.StoreVersion {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versions: applied %d, store %d; want equal and non-zero", st2.AppliedVersion, st2.StoreVersion)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestFollowPollsWithoutNotifications(t *testing.T) {
	st, ctx, cur, rl := followTest(t)
	// Drain the store's notifications ourselves so that only polling can
	// deliver the change to the follower.
	quiet := &noNotify{Store: st}
	go rl.Follow(ctx, quiet, FollowOptions{Poll: 20 * time.Millisecond})
	waitFor(t, "the initial (empty) load", func() bool { return cur.Load() != nil })

	svc := storetest.Record(t, "services", map[string]any{"host": "example.com"})
	rt := storetest.Record(t, "routes", map[string]any{"paths": []any{"/p"}, "service": map[string]any{"id": svc["id"]}})
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		return tx.Insert(ctx, "routes", rt)
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the polled change", func() bool { return matches(cur, "/p") })
}

// noNotify hides the store's notifications.
type noNotify struct{ store.Store }

func (noNotify) Notify() <-chan struct{} { return nil }

// TestFollowCoalescesBursts: a burst of writes is applied in a few builds,
// not one per write, and the last write is served.
func TestFollowCoalescesBursts(t *testing.T) {
	st, ctx, cur, rl := followTest(t)
	go rl.Follow(ctx, st, FollowOptions{Poll: time.Hour, Debounce: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond})
	waitFor(t, "the initial load", func() bool { return cur.Load() != nil })
	before := rl.Stats().Successes

	svc := storetest.Record(t, "services", map[string]any{"host": "example.com"})
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	const writes = 100
	for i := range writes {
		rt := storetest.Record(t, "routes", map[string]any{"paths": []any{fmt.Sprintf("/b%d", i)}, "service": map[string]any{"id": svc["id"]}})
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "routes", rt) }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, "the last route of the burst", func() bool { return matches(cur, fmt.Sprintf("/b%d", writes-1)) })
	builds := rl.Stats().Successes - before
	t.Logf("%d writes applied in %d builds", writes+1, builds)
	if builds > writes/4 {
		t.Errorf("%d builds for a burst of %d writes; want them coalesced", builds, writes+1)
	}
}

// TestPatchMatchesLoad applies random bursts of creates, updates, deletes
// and re-creations through patch, and checks after each burst that the
// patched config holds exactly the store's entities with their latest
// contents, and that the config it was patched from did not change.
func TestPatchMatchesLoad(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	cfg, version, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var live []store.Record // services in the store
	for burst := range 30 {
		before := fmt.Sprint(ids(cfg))
		for range 1 + rng.IntN(12) {
			err := st.Update(ctx, func(tx store.Tx) error {
				switch k := rng.IntN(4); {
				case k == 0 || len(live) == 0:
					rec := storetest.Record(t, "services", map[string]any{"host": fmt.Sprintf("h%d.test", rng.IntN(1000))})
					live = append(live, rec)
					return tx.Insert(ctx, "services", rec)
				case k == 1:
					i := rng.IntN(len(live))
					rec := live[i]
					live = append(live[:i], live[i+1:]...)
					return tx.Delete(ctx, "services", rec["id"].(string))
				case k == 2:
					// Delete and re-create with the same id in one burst.
					rec := live[rng.IntN(len(live))]
					if err := tx.Delete(ctx, "services", rec["id"].(string)); err != nil {
						return err
					}
					rec["host"] = fmt.Sprintf("again%d.test", rng.IntN(1000))
					return tx.Insert(ctx, "services", rec)
				default:
					rec := live[rng.IntN(len(live))]
					rec["host"] = fmt.Sprintf("upd%d.test", rng.IntN(1000))
					return tx.Replace(ctx, "services", rec)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		changes, recs, latest, err := st.ChangedRecords(ctx, version)
		if err != nil {
			t.Fatal(err)
		}
		next, err := patch(cfg, changes, recs)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids(cfg)); got != before {
			t.Fatalf("burst %d: patch modified the config it started from", burst)
		}
		want, _, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, wantHosts := map[string]string{}, map[string]string{}
		for _, s := range next.Services {
			got[s.ID] = s.Host
		}
		for _, s := range want.Services {
			wantHosts[s.ID] = s.Host
		}
		if !maps.Equal(got, wantHosts) || len(next.Services) != len(want.Services) {
			t.Fatalf("burst %d: patched services %v; the store holds %v", burst, got, wantHosts)
		}
		cfg, version = next, latest
	}
}

func ids(cfg *model.Config) []string {
	var out []string
	for _, s := range cfg.Services {
		out = append(out, s.ID+"="+s.Host)
	}
	return out
}

// TestFollowMaxDelayDefaultsToPoll: during a burst that never pauses for
// the debounce, nothing is built before Poll has passed since its first
// write; the burst is applied once it ends.
func TestFollowMaxDelayDefaultsToPoll(t *testing.T) {
	st, ctx, cur, rl := followTest(t)
	go rl.Follow(ctx, st, FollowOptions{Poll: 4 * time.Second, Debounce: 400 * time.Millisecond})
	waitFor(t, "the initial load", func() bool { return cur.Load() != nil })
	before := rl.Stats().Successes

	svc := storetest.Record(t, "services", map[string]any{"host": "example.com"})
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	i := 0
	for time.Since(start) < 1200*time.Millisecond {
		rt := storetest.Record(t, "routes", map[string]any{"paths": []any{fmt.Sprintf("/m%d", i)}, "service": map[string]any{"id": svc["id"]}})
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "routes", rt) }); err != nil {
			t.Fatal(err)
		}
		i++
		time.Sleep(10 * time.Millisecond)
	}
	if n := rl.Stats().Successes - before; n != 0 {
		t.Errorf("%d builds during a burst shorter than Poll; want none until it pauses", n)
	}
	// the snapshot is published before the reload's outcome is counted
	waitFor(t, "the last route of the burst", func() bool {
		return matches(cur, fmt.Sprintf("/m%d", i-1)) && rl.Stats().Successes > before
	})
	if n := rl.Stats().Successes - before; n != 1 {
		t.Errorf("%d builds for the burst; want 1", n)
	}
}
