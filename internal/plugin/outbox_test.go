package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOutboxBoundsAndDrains: with delivery blocked, Put accepts up to the
// entry and byte bounds and drops the rest; Stop delivers what was queued,
// in order, then ends, and later Puts drop.
func TestOutboxBoundsAndDrains(t *testing.T) {
	release := make(chan struct{})
	var got []string
	box := NewOutbox(OutboxOptions{Entries: 3, Bytes: 10, Deliver: func(e []byte) error {
		<-release
		got = append(got, string(e))
		return nil
	}})
	// the goroutine takes "aaaa" and blocks; the queue then holds 3 more
	// entries at most, 10 bytes at most (counting the one in delivery)
	accepted := 0
	for i, e := range []string{"aaaa", "bb", "cc", "dd", "ee"} {
		if box.Put([]byte(e)) {
			accepted++
		}
		for i == 0 { // until the goroutine holds the first entry
			if n, _ := box.Queued(); n == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	if accepted != 4 {
		t.Errorf("accepted %d entries; want 4 (10 bytes: aaaa bb cc dd)", accepted)
	}
	close(release)
	box.Stop()
	select {
	case <-box.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("outbox did not end after Stop")
	}
	if want := "aaaa bb cc dd"; strings.Join(got, " ") != want {
		t.Errorf("delivered %q; want %q", strings.Join(got, " "), want)
	}
	if box.Put([]byte("late")) {
		t.Error("Put after Stop accepted an entry")
	}
	if d, dr := box.Counts(); d != 4 || dr != 2 {
		t.Errorf("counts delivered %d dropped %d; want 4 and 2", d, dr)
	}
	if err := WaitOutboxes(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxDeliveryErrorsCount: an entry whose delivery fails is counted
// as dropped and reported to OnDrop; Finish runs at the end.
func TestOutboxDeliveryErrorsCount(t *testing.T) {
	drops, finished := 0, make(chan struct{})
	box := NewOutbox(OutboxOptions{Entries: 4, Bytes: 100,
		Deliver: func([]byte) error { return errors.New("unreachable") },
		Finish:  func() { close(finished) },
		OnDrop:  func() { drops++ }})
	box.Put([]byte("x"))
	box.Stop()
	<-finished
	if _, dr := box.Counts(); dr != 1 || drops != 1 {
		t.Errorf("dropped %d, OnDrop %d; want 1 each", dr, drops)
	}
}

// TestShared: one value per key while any instance holds it; the last
// release stops it, and the next acquire makes a new one.
func TestShared(t *testing.T) {
	var s Shared[*int]
	made, stopped := 0, 0
	newValue := func() *int { made++; v := made; return &v }
	a := s.Acquire("k", newValue)
	b := s.Acquire("k", newValue)
	if a != b || made != 1 {
		t.Fatalf("two acquires of one key: %p %p, made %d; want one value", a, b, made)
	}
	stop := func(*int) { stopped++ }
	s.Release("k", stop)
	if stopped != 0 {
		t.Fatal("stopped while still held")
	}
	s.Release("k", stop)
	if stopped != 1 {
		t.Fatalf("stopped %d times after the last release; want 1", stopped)
	}
	if c := s.Acquire("k", newValue); c == a || made != 2 {
		t.Errorf("acquire after the last release reused the stopped value")
	}
}

// TestOutboxStopDropsAfterFailure: once stopped, the first failed delivery
// drops the rest of the queue instead of trying each entry.
func TestOutboxStopDropsAfterFailure(t *testing.T) {
	block := make(chan struct{})
	attempts := 0
	box := NewOutbox(OutboxOptions{Entries: 10, Bytes: 1000, Deliver: func([]byte) error {
		<-block
		attempts++
		return errors.New("unreachable")
	}})
	for range 5 {
		box.Put([]byte("x"))
	}
	box.Stop()
	close(block)
	<-box.Done()
	if d, dr := box.Counts(); attempts > 2 || d != 0 || dr != 5 {
		t.Errorf("attempts %d, delivered %d, dropped %d; want at most 2 attempts and 5 dropped", attempts, d, dr)
	}
}

// TestWaitOutboxesWhileOneStarts: an outbox may start while WaitOutboxes
// waits (a build still running at shutdown); the wait ends when every
// outbox has ended, or at its deadline.
func TestWaitOutboxesWhileOneStarts(t *testing.T) {
	a := NewOutbox(OutboxOptions{Entries: 1, Bytes: 10, Deliver: func([]byte) error { return nil }})
	waited := make(chan error, 1)
	go func() { waited <- WaitOutboxes(context.Background()) }()
	b := NewOutbox(OutboxOptions{Entries: 1, Bytes: 10, Deliver: func([]byte) error { return nil }})
	a.Stop()
	select {
	case <-waited:
		t.Fatal("WaitOutboxes returned while an outbox still ran")
	case <-time.After(50 * time.Millisecond):
	}
	b.Stop()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitOutboxes did not return after every outbox ended")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c := NewOutbox(OutboxOptions{Entries: 1, Bytes: 10, Deliver: func([]byte) error { return nil }})
	defer c.Stop()
	if err := WaitOutboxes(ctx); err == nil {
		t.Error("WaitOutboxes returned nil while an outbox ran; want the context's error")
	}
}
