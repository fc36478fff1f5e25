// Package sched lets long CPU-bound work off the request path (parsing a
// re-posted configuration, building a snapshot, encoding the answer to
// POST /config) give the processor back to requests every so often.
//
// Go's scheduler polls the network only when a processor looks for work:
// while every processor is busy (with GOMAXPROCS 2, one running a config
// parse and one a garbage collector's dedicated mark worker), a request
// whose bytes have arrived waits until sysmon polls, about every 10 ms,
// and then for a processor. runtime.Gosched does not help: the yielding
// goroutine goes to the run queue, which the scheduler reads before it
// polls the network. Point parks the calling goroutine briefly instead,
// so that its processor polls the network and runs what is ready.
package sched

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Slice is how long work between Points runs before one yields, and Pause
// how long a yield parks the goroutine: long enough that the processor
// reaches its network poll before the goroutine is ready again. The
// runtime rounds a short sleep up to its network poll's millisecond when
// nothing else is ready, so a yield costs up to about 1 ms: it is made
// only when every processor is busy (see busy), when a request could
// otherwise wait for sysmon.
const (
	Slice = 500 * time.Microsecond
	Pause = 20 * time.Microsecond
)

var (
	start = time.Now()
	calls atomic.Uint32
	due   atomic.Int64 // time since start when the next yield is due
)

// checkEvery is how many calls of Point pass between clock reads.
const checkEvery = 32

// Point marks a place in a loop of background work where it may yield:
// about every Slice of work (counted over all goroutines calling Point),
// when every processor is busy, it parks the caller for Pause. Call it once per iteration of work that
// takes at least a microsecond or so; it costs nanoseconds otherwise.
// Never call it on the request path.
func Point() {
	if calls.Add(1)%checkEvery != 0 {
		return
	}
	now := int64(time.Since(start))
	next := due.Load()
	if now < next || !due.CompareAndSwap(next, now+int64(Slice)) {
		return
	}
	if busy() {
		time.Sleep(Pause)
	}
}

// busy reports whether every processor runs a goroutine (GC workers
// included). Otherwise an idle processor's thread waits in the network
// poll and runs a request as soon as its bytes arrive: no yield needed.
func busy() bool {
	s := [1]metrics.Sample{{Name: "/sched/goroutines/running:goroutines"}}
	metrics.Read(s[:])
	return s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() >= uint64(runtime.GOMAXPROCS(0))
}
