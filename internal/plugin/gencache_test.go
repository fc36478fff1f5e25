package plugin

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGenCacheBoundsAndCopyForward(t *testing.T) {
	var lastN, lastB int
	c := NewGenCache(100, 1000, func(k string, v int) int { return len(k) + 8 }, func(n, b int) { lastN, lastB = n, b })
	for i := 0; i < 10_000; i++ {
		c.Put("k"+strconv.Itoa(i), i)
		if n, b := c.Len(); n > 100 || b > 1000 {
			t.Fatalf("after %d puts: %d entries, %d bytes; caps 100 and 1000", i+1, n, b)
		}
	}
	if n, b := c.Len(); n != lastN || b != lastB {
		t.Errorf("changed reported %d/%d; Len %d/%d", lastN, lastB, n, b)
	}
	// The newest entries are kept; a hit in the old generation survives
	// the next rotation.
	v, ok := c.Get("k9999")
	if !ok || v != 9999 {
		t.Fatalf("newest entry: %v %v", v, ok)
	}
	if _, ok := c.Get("k0"); ok {
		t.Error("the oldest entry survived 100x the cap")
	}
	c.Flush()
	c.Put("a", 1)
	for i := 0; i < 49; i++ { // fills the current generation (half the caps)
		c.Put("f"+strconv.Itoa(i), i)
	}
	c.Put("x", 0) // rotates: "a" is now in the old generation
	if _, ok := c.Get("a"); !ok {
		t.Fatal("entry lost at the first rotation")
	}
	for i := 0; i < 49; i++ { // rotates again: the old generation is dropped
		c.Put("g"+strconv.Itoa(i), i)
	}
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Error("an entry read in the old generation was not copied forward")
	}
	// Replacing a value keeps one entry and its bytes counted once.
	c.Flush()
	c.Put("r", 1)
	c.Put("r", 2)
	if n, b := c.Len(); n != 1 || b != 9 {
		t.Errorf("after a replace: %d entries, %d bytes; want 1, 9", n, b)
	}
	if v, _ := c.Get("r"); v != 2 {
		t.Errorf("replaced value %d; want 2", v)
	}
}

// TestGenCacheDeleteAndTake: both drop a key from both generations (a
// copied-forward entry is in both), Take hands the value out once.
func TestGenCacheDeleteAndTake(t *testing.T) {
	size := func(k string, v int) int { return len(k) + 8 }
	c := NewGenCache(4, 1<<20, size, nil) // 2 entries per generation
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3) // a, b move to the old generation
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v", v, ok) // copied forward: in both now
	}
	if v, ok := c.Take("a"); !ok || v != 1 {
		t.Fatalf("Take(a) = %v, %v; want 1, true", v, ok)
	}
	if _, ok := c.Take("a"); ok {
		t.Fatal("second Take(a) found it again")
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get(a) after Take found it")
	}
	c.Delete("b")
	if _, ok := c.Get("b"); ok {
		t.Fatal("Get(b) after Delete found it")
	}
	if n, b := c.Len(); n != 1 || b != size("c", 3) {
		t.Fatalf("Len = %d, %d; want 1 entry of %d bytes", n, b, size("c", 3))
	}
}

// TestGenCacheTakeOnceUnderGets: an entry of the old generation taken
// while other goroutines read it (and copy it forward) is handed out once.
func TestGenCacheTakeOnceUnderGets(t *testing.T) {
	size := func(k string, v int) int { return len(k) + 8 }
	for round := range 200 {
		c := NewGenCache(4, 1<<20, size, nil)
		c.Put("code", round)
		c.Put("a", 0)
		c.Put("b", 0) // "code" and "a" move to the old generation
		var taken atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(2)
			go func() { defer wg.Done(); c.Get("code") }()
			go func() {
				defer wg.Done()
				if _, ok := c.Take("code"); ok {
					taken.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := taken.Load(); n != 1 {
			t.Fatalf("round %d: taken %d times; want once", round, n)
		}
	}
}
