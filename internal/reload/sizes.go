package reload

import (
	"sync"
	"weak"

	"sluice/internal/snapshot"
)

// sizes tracks the estimated bytes (snapshot.Size) of the snapshot being
// served and of the one it replaced. The replaced one is held through a weak
// pointer: it counts until it is garbage collected (no request in flight
// still uses it), then its bytes drop to zero.
type sizes struct {
	mu       sync.Mutex
	cur      int64
	prev     weak.Pointer[snapshot.Snapshot]
	prevSize int64
}

// published records that next replaced old; nextSize is Size(next).
func (s *sizes) published(old, next *snapshot.Snapshot, nextSize int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old != nil {
		s.prev, s.prevSize = weak.Make(old), s.cur
	}
	s.cur = nextSize
}

func (s *sizes) current() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *sizes) previous() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prevSize == 0 || s.prev.Value() == nil {
		s.prevSize = 0
		return 0
	}
	return s.prevSize
}

// SnapshotBytes returns the estimated bytes of the snapshot being served
// and of the previous one while it is still alive (0 once collected). See
// snapshot.Size for what the estimate counts.
func (r *Reloader) SnapshotBytes() (current, previous int64) {
	return r.sizes.current(), r.sizes.previous()
}
