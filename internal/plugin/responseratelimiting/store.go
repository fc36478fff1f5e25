package responseratelimiting

import (
	"strconv"
	"sync"
	"time"

	"sluice/internal/plugin"
)

// DefaultMaxKeys bounds the counters one plugin instance keeps locally (one
// per identifier, limit, period and window). A full store drops the
// counters not used for the longest: see Store.
const DefaultMaxKeys = 1 << 16

type cell struct {
	n       int64
	expires int64 // unix seconds at which the window is over
}

// Store holds the local policy's counters, at most max of them, in two
// generations of at most max/2 each: new counters go to cur, a counter
// found in old moves to cur, and when cur is full old is dropped whole and
// cur becomes old (rate-limiting's store does the same). Safe for
// concurrent use.
type Store struct {
	mu       sync.Mutex
	cur, old map[string]cell
	max      int
}

// NewStore returns a store holding at most max keys (DefaultMaxKeys when
// max < 2).
func NewStore(max int) *Store {
	if max < 2 {
		max = DefaultMaxKeys
	}
	return &Store{cur: map[string]cell{}, old: map[string]cell{}, max: max}
}

// Len is the number of counters held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cur) + len(s.old)
}

func key(identifier, name string, per int, start int64) string {
	return identifier + "\x00" + name + "\x00" + strconv.Itoa(per) + "\x00" + strconv.FormatInt(start, 10)
}

// Get returns the count of a limit's period window at t (0 when none).
func (s *Store) Get(identifier, name string, per int, t time.Time) int64 {
	k := key(identifier, name, per, plugin.PeriodStart(per, t))
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cur[k]
	if !ok {
		c, ok = s.old[k]
	}
	if !ok || c.expires <= t.Unix() {
		return 0
	}
	return c.n
}

// Add adds n to the windows at t of all six periods of a limit.
func (s *Store) Add(identifier, name string, t time.Time, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for per := range plugin.PeriodNames {
		start := plugin.PeriodStart(per, t)
		k := key(identifier, name, per, start)
		c, ok := s.cur[k]
		if !ok {
			if c, ok = s.old[k]; ok {
				delete(s.old, k)
			} else {
				c = cell{expires: windowEnd(per, start)}
			}
			if len(s.cur) >= s.max/2 {
				s.old, s.cur = s.cur, make(map[string]cell, len(s.cur))
			}
		}
		c.n += n
		s.cur[k] = c
	}
}

// windowEnd is when the window of period per starting at start ends.
func windowEnd(per int, start int64) int64 {
	t := time.Unix(start, 0).UTC()
	switch per {
	case 4:
		return t.AddDate(0, 1, 0).Unix()
	case 5:
		return t.AddDate(1, 0, 0).Unix()
	}
	return start + plugin.PeriodSeconds[per]
}
