package ratelimiting

import (
	"sync"
	"time"

	"sluice/internal/metrics"
)

// DefaultMaxKeys bounds the counters one plugin instance keeps (one key per
// identifier and window). An overloaded store under-counts rather than
// grows: see Store.
const DefaultMaxKeys = 1 << 16

type counterKey struct {
	id     string
	period uint8
	start  int64 // window start, unix seconds
}

type counter struct {
	n       int64
	expires int64 // unix seconds after which the window is over
}

// The local policy's stores publish process-wide totals (no per-plugin
// label: the series stay bounded whatever the number of plugin entities).
var (
	metricCounters = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_rate_limiting_counters",
		Help: "Counters held by rate-limiting's local policy, all plugin entities together (each store is capped at sluice_rate_limiting_counters_cap).",
	}).With()
	metricCap = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_rate_limiting_counters_cap",
		Help: "Most counters one rate-limiting plugin entity keeps (local policy).",
	}).With()
	metricStores = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_rate_limiting_counter_stores",
		Help: "Rate-limiting plugin entities counting locally (each holds at most sluice_rate_limiting_counters_cap counters).",
	}).With()
	metricEvicted = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_rate_limiting_counters_evicted_total",
		Help: "Counters of running windows dropped because their store was full (those clients start counting again).",
	}).With()
)

// Store holds the local policy's counters, at most max of them, in two
// generations of at most max/2 each: new counters go to cur, a counter
// found in old moves to cur, and when cur is full old is dropped whole
// and cur becomes old. So a flood of new identifiers evicts the clients
// that were not seen for the longest, active clients keep their counts,
// and no map ever holds the tombstones of in-place deletes (Go maps do
// not shrink: deleting from a full map and inserting again grows it).
// Finished windows are swept by copying the live counters into fresh
// maps. Safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	cur, old  map[counterKey]*counter
	max       int
	lastSweep int64
	export    bool // publishes to the metrics; false once closed
}

// NewStore returns a store holding at most max keys (DefaultMaxKeys when
// max <= 0). It is not counted in the metrics.
func NewStore(max int) *Store { return newStore(max, false) }

// newStore returns a store; export counts it in the metrics until Close.
func newStore(max int, export bool) *Store {
	if max < 2 {
		max = DefaultMaxKeys
	}
	if export {
		metricStores.Add(1)
		metricCap.Set(float64(max))
	}
	return &Store{cur: map[counterKey]*counter{}, old: map[counterKey]*counter{}, max: max, export: export}
}

// Close takes the store out of the metrics; plugin.StatePool calls it when
// the plugin entity leaves the configuration. A request still running on
// the store may finish.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.export {
		s.export = false
		metricStores.Add(-1)
		metricCounters.Add(-float64(len(s.cur) + len(s.old)))
	}
}

// Cap is the most keys the store holds.
func (s *Store) Cap() int { return s.max }

// Len is the number of counters held (for metrics).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cur) + len(s.old)
}

// window is one configured period for a request.
type window struct {
	period uint8
	limit  int64
	start  int64 // unix seconds
	expiry int64 // Kong's EXPIRATION for the period
	usage  int64 // filled by take
}

// lookup finds a counter, moving it from old to cur.
func (s *Store) lookup(k counterKey, now int64) *counter {
	if c := s.cur[k]; c != nil {
		return c
	}
	c := s.old[k]
	if c != nil {
		delete(s.old, k)
		s.insert(k, c, now)
	}
	return c
}

// insert adds a counter to cur, turning the generations first when cur is
// full.
func (s *Store) insert(k counterKey, c *counter, now int64) {
	if len(s.cur) >= s.max/2 {
		var live int
		for _, o := range s.old {
			if o.expires > now {
				live++
			}
		}
		if s.export {
			metricCounters.Add(-float64(len(s.old)))
			metricEvicted.Add(float64(live))
		}
		s.old = s.cur
		s.cur = make(map[counterKey]*counter, len(s.old)/4)
	}
	s.cur[k] = c
}

// take reads the usage of every window and, unless one is exhausted,
// counts the request in all of them. It returns the index of the first
// exhausted window, or -1.
func (s *Store) take(id string, ws []window, now int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	stop := -1
	for i := range ws {
		w := &ws[i]
		w.usage = 0
		if c := s.lookup(counterKey{id, w.period, w.start}, now); c != nil {
			w.usage = c.n
		}
		if stop < 0 && w.limit-w.usage <= 0 {
			stop = i
		}
	}
	if stop >= 0 {
		return stop
	}
	for i := range ws {
		w := &ws[i]
		k := counterKey{id, w.period, w.start}
		c := s.cur[k] // lookup above moved it to cur, unless cur turned since
		if c == nil {
			c = s.lookup(k, now)
		}
		if c == nil {
			c = &counter{expires: w.start + w.expiry}
			s.insert(k, c, now)
			if s.export {
				metricCounters.Add(1)
			}
		}
		c.n++
	}
	if now-s.lastSweep >= 60 && len(s.cur)+len(s.old) > 1024 {
		s.sweep(now)
	}
	return -1
}

// sweep drops the counters of finished windows, copying the live ones into
// fresh maps.
func (s *Store) sweep(now int64) {
	s.lastSweep = now
	n := len(s.cur) + len(s.old)
	s.cur, s.old = live(s.cur, now), live(s.old, now)
	if s.export {
		metricCounters.Add(float64(len(s.cur) + len(s.old) - n))
	}
}

func live(m map[counterKey]*counter, now int64) map[counterKey]*counter {
	var n int
	for _, c := range m {
		if c.expires > now {
			n++
		}
	}
	out := make(map[counterKey]*counter, n)
	for k, c := range m {
		if c.expires > now {
			out[k] = c
		}
	}
	return out
}

// now is the clock, replaced in tests.
var now = time.Now
