package postgres

import (
	"context"
	"net/http"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/responseratelimiting"
)

// TestResponseCounters: Kong's response_ratelimiting_metrics rows, added
// to and read back in order, negative values read as 0, per scope.
func TestResponseCounters(t *testing.T) {
	o := bootstrapped(t)
	c := openCounters(t, o, CountersOptions{})
	ctx := context.Background()
	svc := "5ea1b6c2-0000-4000-8000-000000000002"
	cells := []plugin.ResponseCell{{Period: "video_minute", Start: 1200}, {Period: "video_hour", Start: 0}, {Period: "image_minute", Start: 1200}}
	if err := c.ResponseAdd(ctx, svc, emptyUUID, "10.0.0.1", cells[:2], 2); err != nil {
		t.Fatal(err)
	}
	if err := c.ResponseAdd(ctx, svc, emptyUUID, "10.0.0.1", cells[:2], 3); err != nil {
		t.Fatal(err)
	}
	if err := c.ResponseAdd(ctx, svc, emptyUUID, "10.0.0.1", cells[2:], -4); err != nil {
		t.Fatal(err)
	}
	usage := make([]int64, 3)
	if err := c.ResponseUsage(ctx, svc, emptyUUID, "10.0.0.1", cells, usage); err != nil {
		t.Fatal(err)
	}
	if usage[0] != 5 || usage[1] != 5 || usage[2] != 0 {
		t.Errorf("usage %v; want [5 5 0] (a negative count reads 0)", usage)
	}
	if err := c.ResponseUsage(ctx, emptyUUID, svc, "10.0.0.1", cells, usage); err != nil || usage[0] != 0 || usage[1] != 0 {
		t.Errorf("another scope: usage %v, %v; want zeros", usage, err)
	}
	db, _, err := openDB(o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var value int64
	var ttl float64
	err = db.QueryRow(`SELECT value, EXTRACT(EPOCH FROM ttl - now()) FROM response_ratelimiting_metrics
		WHERE identifier = '10.0.0.1' AND period = 'video_hour' AND period_date = to_timestamp(0) AND service_id = $1`, svc).Scan(&value, &ttl)
	if err != nil || value != 5 || ttl < 3595 || ttl > 3601 {
		t.Errorf("video_hour row: value %d, ttl %.0fs, %v; want 5 and about 3600s", value, ttl, err)
	}
	if _, err := db.Exec(`UPDATE response_ratelimiting_metrics SET ttl = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Cleanup(ctx); err != nil || n != 3 {
		t.Errorf("cleanup deleted %d, %v; want the 3 expired rows", n, err)
	}
}

// TestResponseClusterPolicy: two plugin instances (two nodes) on one
// database count one client's responses together.
func TestResponseClusterPolicy(t *testing.T) {
	o := bootstrapped(t)
	p := &model.Plugin{ID: "p1", Name: responseratelimiting.Name, Route: &model.ForeignKey{ID: "6ea1b6c2-0000-4000-8000-000000000003"},
		Config: map[string]any{"policy": "cluster", "limits": map[string]any{"image": map[string]any{"minute": 2}}}}
	rec, serr := responseratelimiting.Schema.Process(p.Config, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	reader := openCounters(t, o, CountersOptions{})
	var nodes []*responseratelimiting.RRL
	for range 2 {
		impl, err := responseratelimiting.New(rec, plugin.Deps{PluginID: p.ID, Plugin: p, Cluster: openCounters(t, o, CountersOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, impl.(*responseratelimiting.RRL))
		t.Cleanup(nodes[len(nodes)-1].Close)
	}
	respond := func(rl *responseratelimiting.RRL) (int, string) {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		c := &plugin.Ctx{Request: r, ClientIP: "10.0.0.9"}
		rl.Access(c)
		if e := c.Exited(); e != nil {
			return e.Status, ""
		}
		h := http.Header{"X-Kong-Limit": {"image=1"}}
		c.BeginResponse(200, h)
		rl.HeaderFilter(c)
		rl.Log(c)
		return c.Status, h.Get("X-RateLimit-Remaining-image-minute")
	}
	// counted waits until the database holds want for the current minute
	// (increments are queued after the response)
	counted := func(want int64) {
		t.Helper()
		usage := []int64{0}
		deadline := time.Now().Add(3 * time.Second)
		for {
			cell := plugin.ResponseCell{Period: "image_minute", Start: plugin.PeriodStart(1, time.Now())}
			if err := reader.ResponseUsage(context.Background(), emptyUUID, p.Route.ID, "10.0.0.9", []plugin.ResponseCell{cell}, usage); err != nil {
				t.Fatal(err)
			}
			if usage[0] == want || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if usage[0] != want {
			t.Fatalf("database count %d; want %d", usage[0], want)
		}
	}
	if st, rem := respond(nodes[0]); st != 200 || rem != "1" {
		t.Fatalf("1st response: %d, remaining %q; want 200, 1", st, rem)
	}
	counted(1)
	if st, rem := respond(nodes[1]); st != 200 || rem != "0" {
		t.Fatalf("2nd response, other node: %d, remaining %q; want 200, 0", st, rem)
	}
	counted(2)
	if st, _ := respond(nodes[0]); st != 429 {
		t.Fatalf("3rd response: %d; want 429", st)
	}
}
