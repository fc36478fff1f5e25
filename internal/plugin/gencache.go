package plugin

import "sync"

// GenCache is a map for plugin caches, bounded in entries and bytes and
// kept in two generations: lookups read both under a read lock; new
// entries go to the current generation, and when it reaches half of
// either cap it becomes the old one and the previous old generation is
// dropped whole (Go maps never shrink, so dropping whole maps is what keeps
// memory bounded). A hit in the old generation is copied forward, so
// entries in use survive: an approximate LRU without a write per hit.
// Safe for concurrent use.
type GenCache[K comparable, V any] struct {
	maxEntries, maxBytes int // per generation
	size                 func(K, V) int
	changed              func(entries, bytes int)

	mu                 sync.RWMutex
	cur, old           map[K]V
	curBytes, oldBytes int
}

// NewGenCache returns a cache holding at most entries entries and bytes
// bytes over both generations. size is the bytes one entry is counted for
// (its key and value plus the map's bookkeeping); changed, when not nil, is
// called with the new totals after each change (for gauges), under the
// cache's lock.
func NewGenCache[K comparable, V any](entries, bytes int, size func(K, V) int, changed func(entries, bytes int)) *GenCache[K, V] {
	return &GenCache[K, V]{maxEntries: entries / 2, maxBytes: bytes / 2, size: size, changed: changed,
		cur: map[K]V{}, old: map[K]V{}}
}

// Get returns the value kept under k.
func (c *GenCache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.cur[k]
	if ok {
		c.mu.RUnlock()
		return v, true
	}
	_, ok = c.old[k]
	c.mu.RUnlock()
	if !ok {
		return v, false
	}
	// Copy forward under the write lock, if the entry is still there: a
	// Delete, Take or newer Put since the read wins.
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok = c.cur[k]; ok {
		return v, true
	}
	if v, ok = c.old[k]; !ok {
		return v, false
	}
	c.putLocked(k, v)
	return v, true
}

// Put keeps v under k, replacing a value k had in the current generation.
// The caller passes a key that does not pin request memory (clone strings
// taken from a request).
func (c *GenCache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *GenCache[K, V]) putLocked(k K, v V) {
	size := c.size(k, v)
	if prev, ok := c.cur[k]; ok {
		c.curBytes -= c.size(k, prev)
	} else if len(c.cur) >= c.maxEntries || c.curBytes+size > c.maxBytes {
		c.old, c.oldBytes = c.cur, c.curBytes
		c.cur, c.curBytes = make(map[K]V, len(c.old)), 0
	}
	c.cur[k] = v
	c.curBytes += size
	c.publish()
}

// Delete drops k from both generations.
func (c *GenCache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		c.curBytes -= c.size(k, v)
		delete(c.cur, k)
	}
	if v, ok := c.old[k]; ok {
		c.oldBytes -= c.size(k, v)
		delete(c.old, k)
	}
	c.publish()
}

// Take returns the value kept under k and drops it, in one step: of
// concurrent callers with the same key, one gets it.
func (c *GenCache[K, V]) Take(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, inCur := c.cur[k]
	if inCur {
		c.curBytes -= c.size(k, v)
		delete(c.cur, k)
	}
	ov, inOld := c.old[k] // a copy forward leaves one here too
	if inOld {
		c.oldBytes -= c.size(k, ov)
		delete(c.old, k)
		if !inCur {
			v = ov
		}
	}
	if inCur || inOld {
		c.publish()
	}
	return v, inCur || inOld
}

// Range calls fn for every entry (an entry in both generations once, the
// current one's value) until fn returns false. fn must not call the
// cache's methods.
func (c *GenCache[K, V]) Range(fn func(K, V) bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, v := range c.cur {
		if !fn(k, v) {
			return
		}
	}
	for k, v := range c.old {
		if _, dup := c.cur[k]; dup {
			continue
		}
		if !fn(k, v) {
			return
		}
	}
}

// Len returns the entries and bytes held by both generations (an entry
// copied forward counts twice until the old generation is dropped).
func (c *GenCache[K, V]) Len() (entries, bytes int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old), c.curBytes + c.oldBytes
}

// Flush drops every entry.
func (c *GenCache[K, V]) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = map[K]V{}, map[K]V{}
	c.curBytes, c.oldBytes = 0, 0
	c.publish()
}

func (c *GenCache[K, V]) publish() {
	if c.changed != nil {
		c.changed(len(c.cur)+len(c.old), c.curBytes+c.oldBytes)
	}
}
