// Pacing the GC through a memory-heavy one-off task.

package memwatch

import (
	"runtime/debug"
	"sync"
)

// LoadGCPercent is the GC target (GOGC) while a config load runs: the heap
// may grow 25% over the live heap between collections instead of 100%.
//
// A config load (POST /config, a declarative reload) raises the live heap
// by its intermediates for a moment and allocates several times the
// config's size. Under the default GOGC the next heap goal is twice that
// raised live heap, so the heap, and RSS with it, jumps by twice the
// intermediates and then stays there until the scavenger returns it.
// Collecting more often during the load keeps the heap near the size it
// had before, for a few extra GC cycles of CPU during the load.
const LoadGCPercent = 25

var load struct {
	sync.Mutex
	active int
	saved  int // GOGC before the first active load
}

// BeginLoad lowers the GC target to LoadGCPercent until the returned
// function is called (call it exactly once). Loads may overlap: the target
// is restored when the last one ends. When GOGC is already at or below
// LoadGCPercent, or off, it is left alone.
func BeginLoad() (end func()) {
	load.Lock()
	if load.active == 0 {
		load.saved = debug.SetGCPercent(LoadGCPercent)
		if load.saved <= LoadGCPercent { // negative: GC off
			debug.SetGCPercent(load.saved) // already tighter, or GC off: keep it
		}
	}
	load.active++
	load.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			load.Lock()
			load.active--
			if load.active == 0 {
				debug.SetGCPercent(load.saved)
			}
			load.Unlock()
		})
	}
}
