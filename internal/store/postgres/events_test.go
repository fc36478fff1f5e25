package postgres

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEvents: an event published through one store reaches the OnEvent
// function of every store on the database, and does not move the change
// feed.
func TestEvents(t *testing.T) {
	o := bootstrapped(t)
	a, b := openStore(t, o), openStore(t, o)
	got := make(chan string, 4)
	b.OnEvent(func(p string) { got <- p })
	v0, err := a.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// the listener may not be connected yet: publish until it hears
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := a.Publish(context.Background(), `{"kind":"test"}`); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p != `{"kind":"test"}` {
				t.Fatalf("payload %q", p)
			}
			if v, _ := a.Version(context.Background()); v != v0 {
				t.Errorf("an event moved the version from %d to %d", v0, v)
			}
			if err := a.Publish(context.Background(), strings.Repeat("x", maxEventBytes+1)); err == nil {
				t.Error("an event over PostgreSQL's payload limit was accepted")
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event reached the other store")
		}
	}
}
