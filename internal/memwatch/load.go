// Pacing the GC through a memory-heavy one-off task.

package memwatch

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// LoadGCPercent is the GC target (GOGC) while a config load runs without
// a memory baseline to pace it by (BeginLoad, or Watcher.BeginLoad in its
// first seconds): the heap may grow 25% over the live heap between
// collections instead of 100%.
//
// A config load (POST /config, a declarative reload) raises the live heap
// by its intermediates for a moment and allocates several times the
// config's size. Under the default GOGC the next heap goal is twice that
// raised live heap, so the heap, and RSS with it, jumps by twice the
// intermediates and then stays there until the scavenger returns it.
// Collecting more often during the load keeps the heap near the size it
// had before, for a few extra GC cycles of CPU during the load.
const LoadGCPercent = 25

// LoadRSSMargin is how far over its rolling baseline (the median of the
// last samples) Watcher.BeginLoad lets RSS grow during a load, as a
// fraction: the Go runtime's memory limit is lowered for the load to what
// leaves that much room, so that the GC and the scavenger hold memory
// there, within their CPU cap (the runtime gives the GC at most half the
// CPU when it is held by the limit).
//
// The room is a trade between memory and the CPU the GC takes from
// requests during a load: the GC's workers run at the process's priority,
// not at the load's lowered one, and every cycle marks the whole live
// heap. bench/churn, off mode (3 replicas re-posted 5 000 routes and
// consumers at once on 2 cores):
//   - 5% (2 MiB at least): 8 collections a load; p99 in the 3 s after a
//     change 6.5-7.0 ms against 1.8 ms elsewhere; RSS 55 MiB, spike ratio
//     1.09-1.11 (the lowered limit made the scavenger return pages that
//     the proxy's garbage faulted in again after every load);
//   - 12% (8 MiB): RSS sawed between 55 and 65 MiB (spike ratio
//     1.14-1.22), p99 after a change 6.7-7.6 ms;
//   - 20% (12 MiB): p99 after a change 3.9-4.6 ms against 1.4-1.7 ms; RSS
//     settled at 64-66 MiB after the first load and stayed there (spike
//     ratio 1.01-1.06).
const LoadRSSMargin = 0.20

// minLoadRoom is the least room over its current memory a load gets under
// Watcher.BeginLoad's limit (see LoadRSSMargin; with 2 MiB a load
// collected every few megabytes it allocated).
const minLoadRoom = 12 << 20

var load struct {
	sync.Mutex
	active     int
	paced      bool  // GOGC or the limit are lowered
	gcLowered  bool  // GOGC is, to LoadGCPercent
	saved      int   // GOGC before the first active load, when gcLowered
	savedLimit int64 // memory limit before it, when lowered (limited)
	limited    bool
	cycles     uint64         // GC cycles when the loads began
	ending     sync.WaitGroup // endLoads running (tests wait on it)
}

// BeginLoad collects garbage, then lowers the GC target to LoadGCPercent
// until the returned function is called (call it exactly once). Loads may
// overlap: the target is restored when the last one ends, after one more
// collection (run in the background): the heap goal that follows is twice
// the live heap of the last collection, which during the load counted the
// load's intermediates; without it the heap, and RSS, would grow by twice
// those during the next cycle. When GOGC is already at or below
// LoadGCPercent, or off, it is left alone.
//
// The first collection frees what the process allocated since the last
// one (a proxy's garbage: the heap is anywhere up to twice its live size
// when the load begins), so that the load allocates into those pages
// rather than new ones.
func BeginLoad() (end func()) { return beginLoad(0) }

// BeginLoad is the package's BeginLoad that paces the GC by the Go memory
// limit instead of GOGC: the limit is lowered for the load so that RSS
// stays within LoadRSSMargin of its rolling baseline (never below the
// memory in use plus minLoadRoom, never above the limit already set), and
// GOGC is left as it is. The GC then runs only as often as the limit
// needs: a GOGC lowered for the load also collected where there was room,
// and its low heap goal let the scavenger return the pages the proxy's
// garbage refilled within seconds, so RSS swung by the proxy's garbage
// after every load (bench/churn, off mode: from 40 to 47 MiB and back).
// Without a baseline yet (the first samples) it lowers GOGC as the
// package's BeginLoad does.
func (w *Watcher) BeginLoad() (end func()) {
	w.mu.Lock()
	var base, rss int64
	if w.count >= 2 {
		base, rss = w.baselineLocked(rssOf), w.at(0).RSS
	}
	w.mu.Unlock()
	if base <= 0 || rss <= 0 {
		return beginLoad(0)
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	inUse := int64(metricUint(s[0]) - metricUint(s[1])) // mapped and not returned: what RSS follows
	room := int64(float64(base)*(1+LoadRSSMargin)) - rss
	return beginLoad(inUse + max(room, minLoadRoom))
}

// endLoads collects once more and restores GOGC and the memory limit,
// unless a load began again meanwhile.
func endLoads() {
	load.Lock()
	cycles := load.cycles
	load.Unlock()
	if gcCycles() != cycles {
		// a collection during the load set the heap goal from a live
		// heap that counted the load's intermediates (a load that did not
		// collect, a POST /config answered 304, did not)
		runtime.GC()
	}
	load.Lock()
	defer load.Unlock()
	if load.active > 0 || !load.paced {
		return
	}
	if load.gcLowered {
		debug.SetGCPercent(load.saved)
		load.gcLowered = false
	}
	if load.limited {
		debug.SetMemoryLimit(load.savedLimit)
		load.limited = false
	}
	load.paced = false
}

// beginLoad starts a load; limit, when positive, is the memory limit for
// it, and GOGC is left alone (the first overlapping load's pacing holds
// for all).
func beginLoad(limit int64) (end func()) {
	load.Lock()
	first := !load.paced
	load.Unlock()
	if first {
		runtime.GC() // see BeginLoad
	}
	load.Lock()
	if !load.paced {
		load.paced = true
		load.cycles = gcCycles()
		if limit <= 0 {
			load.saved = debug.SetGCPercent(LoadGCPercent)
			load.gcLowered = true
			if load.saved <= LoadGCPercent { // negative: GC off
				debug.SetGCPercent(load.saved) // already tighter, or off: keep it
				load.gcLowered = false
			}
		}
		if limit > 0 {
			if cur := debug.SetMemoryLimit(-1); limit < cur {
				load.savedLimit, load.limited = debug.SetMemoryLimit(limit), true
			}
		}
	}
	load.active++
	load.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			load.Lock()
			load.active--
			last := load.active == 0
			load.Unlock()
			if last {
				load.ending.Add(1)
				go func() {
					defer load.ending.Done()
					endLoads()
				}()
			}
		})
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return metricUint(s[0])
}
