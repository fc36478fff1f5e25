package memwatch

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func gogc(t *testing.T) int64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func TestBeginLoad(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	end1 := BeginLoad()
	if g := gogc(t); g != LoadGCPercent {
		t.Fatalf("GOGC during a load = %d; want %d", g, LoadGCPercent)
	}
	end2 := BeginLoad() // overlapping
	end1()
	end1() // a second call does nothing
	load.ending.Wait()
	if g := gogc(t); g != LoadGCPercent {
		t.Fatalf("GOGC while a second load runs = %d; want %d", g, LoadGCPercent)
	}
	end2()
	load.ending.Wait()
	if g := gogc(t); g != 100 {
		t.Fatalf("GOGC after the loads = %d; want 100 restored", g)
	}

	// a tighter GOGC is kept
	debug.SetGCPercent(10)
	end := BeginLoad()
	if g := gogc(t); g != 10 {
		t.Fatalf("GOGC during a load with GOGC=10: %d; want 10 kept", g)
	}
	end()
	load.ending.Wait()
	if g := gogc(t); g != 10 {
		t.Fatalf("GOGC after: %d; want 10", g)
	}
}

func memoryInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// TestWatcherBeginLoad: the memory limit during a load leaves RSS
// LoadRSSMargin over its baseline (at least minLoadRoom over the memory in
// use), and is restored after.
func TestWatcherBeginLoad(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(oldLimit)
	oldGC := debug.SetGCPercent(100)
	defer debug.SetGCPercent(oldGC)

	w, c := synthetic(Options{})
	// no baseline yet: GOGC only
	end := w.BeginLoad()
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("limit without a baseline = %d; want unchanged", l)
	}
	end()
	load.ending.Wait()

	for range 10 {
		feed(w, c, 50*mib, 200*mib)
	}
	before := memoryInUse()
	end = w.BeginLoad()
	after := memoryInUse()
	room := int64(float64(200*mib)*(1+LoadRSSMargin)) - 200*mib
	// in use is read before the load's first collection, which may
	// lower it
	lo, hi := min(before, after), max(before, after)
	if l := debug.SetMemoryLimit(-1); l < lo+room-mib || l > hi+room+mib {
		t.Errorf("limit during a load = %d; want about %d (in use) + %d", l, before, room)
	}
	if g := gogc(t); g != 100 {
		t.Errorf("GOGC during a load paced by the limit = %d; want 100, unchanged", g)
	}
	end()
	load.ending.Wait()
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("limit after the load = %d; want restored", l)
	}

	// RSS already over the margin: minLoadRoom over what is in use
	feed(w, c, 50*mib, 260*mib)
	before = memoryInUse()
	end = w.BeginLoad()
	after = memoryInUse()
	lo, hi = min(before, after), max(before, after)
	if l := debug.SetMemoryLimit(-1); l < lo+minLoadRoom-mib || l > hi+minLoadRoom+mib {
		t.Errorf("limit with RSS over the margin = %d; want about %d + %d", l, before, minLoadRoom)
	}
	end()
	load.ending.Wait()

	// a lower limit already set is kept
	debug.SetMemoryLimit(before / 2)
	end = w.BeginLoad()
	if l := debug.SetMemoryLimit(-1); l != before/2 {
		t.Errorf("limit during a load under a lower limit = %d; want %d kept", l, before/2)
	}
	end()
	load.ending.Wait()
	if l := debug.SetMemoryLimit(-1); l != before/2 {
		t.Errorf("limit after = %d; want %d", l, before/2)
	}
}

// TestBeginLoadCollectsFirst: a load begins with a collection, which
// frees the garbage allocated before it; a load that begins while another
// runs does not collect again.
func TestBeginLoadCollectsFirst(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	load.ending.Wait()
	before := gcCycles()
	end := BeginLoad()
	if got := gcCycles(); got < before+1 {
		t.Fatalf("GC cycles at the start of a load: %d -> %d; want one more", before, got)
	}
	during := gcCycles()
	end2 := BeginLoad()
	if got := gcCycles(); got != during {
		t.Errorf("a second, overlapping load collected: %d -> %d", during, got)
	}
	end2()
	end()
	load.ending.Wait()
}

// TestLoadAfterLoad: a load that begins while the previous one's final
// collection runs keeps GOGC lowered; the last end restores it.
func TestLoadAfterLoad(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	BeginLoad()()
	end := BeginLoad()
	load.ending.Wait()
	if g := gogc(t); g != LoadGCPercent {
		t.Fatalf("GOGC during the second load = %d; want %d", g, LoadGCPercent)
	}
	end()
	load.ending.Wait()
	if g := gogc(t); g != 100 {
		t.Fatalf("GOGC after both = %d; want 100", g)
	}
}

// TestLoadFinalCollection: a load during which the GC ran ends with one
// more collection; a load that did not collect (a request answered at
// once) does not force one.
func TestLoadFinalCollection(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	load.ending.Wait()

	end := BeginLoad() // collects first: the heap at its live size, GOGC 25 does not start a cycle
	before := gcCycles()
	end()
	load.ending.Wait()
	if n := gcCycles() - before; n != 0 {
		t.Errorf("a load without a collection was followed by %d collections; want 0", n)
	}

	end = BeginLoad()
	runtime.GC() // as the load's allocations would trigger
	before = gcCycles()
	end()
	load.ending.Wait()
	if n := gcCycles() - before; n < 1 {
		t.Errorf("a load with a collection was followed by %d collections; want 1", n)
	}
}
