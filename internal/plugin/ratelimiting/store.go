package ratelimiting

import (
	"sync"
	"time"
)

// DefaultMaxKeys bounds the counters one plugin instance keeps (one key per
// identifier and window). When the store is full, expired windows are
// dropped first, then arbitrary ones: an overloaded store under-counts
// rather than grows.
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

// Store holds the local policy's counters. Safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	m         map[counterKey]*counter
	max       int
	lastSweep int64
}

// NewStore returns a store holding at most max keys (DefaultMaxKeys when
// max <= 0).
func NewStore(max int) *Store {
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return &Store{m: make(map[counterKey]*counter), max: max}
}

// Len is the number of counters held (for metrics).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// window is one configured period for a request.
type window struct {
	period uint8
	limit  int64
	start  int64 // unix seconds
	expiry int64 // Kong's EXPIRATION for the period
	usage  int64 // filled by take
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
		if c := s.m[counterKey{id, w.period, w.start}]; c != nil {
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
		c := s.m[k]
		if c == nil {
			if len(s.m) >= s.max {
				s.makeRoom(now)
			}
			c = &counter{expires: w.start + w.expiry}
			s.m[k] = c
		}
		c.n++
	}
	if now-s.lastSweep >= 60 && len(s.m) > 1024 {
		s.sweep(now)
	}
	return -1
}

// sweep drops the counters of finished windows.
func (s *Store) sweep(now int64) {
	s.lastSweep = now
	for k, c := range s.m {
		if c.expires <= now {
			delete(s.m, k)
		}
	}
}

func (s *Store) makeRoom(now int64) {
	s.sweep(now)
	if len(s.m) < s.max {
		return
	}
	// Still full of live windows: drop about 1/8 of them.
	n := s.max / 8
	if n < 1 {
		n = 1
	}
	for k := range s.m {
		delete(s.m, k)
		n--
		if n == 0 {
			return
		}
	}
}

// now is the clock, replaced in tests.
var now = time.Now
