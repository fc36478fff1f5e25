package memwatch_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"sluice/internal/memwatch"
	"sluice/internal/model"
	"sluice/internal/reload"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// The reload package's own log records become reload events.
func TestLogHandlerRecordsReloads(t *testing.T) {
	w := memwatch.New(memwatch.Options{})
	var out bytes.Buffer
	log := slog.New(w.LogHandler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var cur snapshot.Current
	r := reload.New(&cur, &snapshot.Env{Pool: upstream.NewPool()}, log)

	cfg := &model.Config{}
	for _, id := range []string{"s1", "s2", "s3"} {
		cfg.Services = append(cfg.Services, &model.Service{ID: id, Name: &id, Host: "example.com", Port: 80, Protocol: "http"})
	}
	cfg.Routes = append(cfg.Routes, &model.Route{ID: "r1", Paths: []string{"/a"}, Service: &model.ForeignKey{ID: "s1"}})
	if err := r.Apply(cfg, "h1"); err != nil {
		t.Fatal(err)
	}
	bad := &model.Config{SNIs: []*model.SNI{{Name: "x.test", Certificate: &model.ForeignKey{ID: "nope"}}}}
	if err := r.Apply(bad, "h2"); err == nil {
		t.Fatal("bad config applied")
	}

	ev := w.Timeline(0).Events
	if len(ev) != 2 {
		t.Fatalf("events = %+v; want 2", ev)
	}
	if ev[0].Kind != memwatch.KindReload || ev[0].Attrs["entities"] != 4 || ev[0].Detail != "config reload of 4 entities" {
		t.Errorf("first event = %+v; want a reload of 4 entities", ev[0])
	}
	if _, ok := ev[0].Attrs["build_seconds"].(float64); !ok {
		t.Errorf("first event attrs = %v; want build_seconds", ev[0].Attrs)
	}
	if ev[1].Kind != memwatch.KindReload || ev[1].Attrs["rejected"] != true {
		t.Errorf("second event = %+v; want a rejected reload", ev[1])
	}
	// The wrapped handler still filters by its own level.
	if strings.Contains(out.String(), "config applied") || !strings.Contains(out.String(), "config rejected") {
		t.Errorf("log output = %q; want only the rejection (level warn and above)", out.String())
	}
}
