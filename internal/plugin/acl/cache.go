package acl

import (
	"strings"
	"sync"

	"sluice/internal/metrics"
)

// Bounds of the X-Consumer-Groups cache shared by every acl instance.
const (
	// CacheSize caps the consumers whose joined groups are kept.
	CacheSize = 10000
	// CacheBytes caps the bytes kept (consumer ids, joined values and
	// entryOverhead each).
	CacheBytes = 4 << 20
	// MaxCachedValue is the longest joined value kept; longer ones are
	// joined on every request.
	MaxCachedValue = 4096
	entryOverhead  = 96
)

var (
	metricEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_acl_groups_cache_entries",
		Help: "Consumers whose X-Consumer-Groups value the acl plugin keeps (cap: 10000).",
	})
	metricBytes = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_acl_groups_cache_bytes",
		Help: "Bytes held by the acl plugin's X-Consumer-Groups cache (cap: 4 MiB).",
	})
)

// joined is a consumer's groups joined with ", ", valid for the groups
// slice it was made from (compared by identity: the snapshot's slice is
// shared and immutable, a changed list is a new slice).
type joined struct {
	first *string // &groups[0]
	n     int
	value string
}

// joinCache keeps the X-Consumer-Groups values of consumers with several
// groups, in two generations (see bot-detection's verdict cache): reads
// take a read lock, a full generation replaces the older one.
type joinCache struct {
	maxEntries, maxBytes int // per generation
	export               bool

	mu                 sync.RWMutex
	cur, old           map[string]joined
	curBytes, oldBytes int
}

func newJoinCache(entries, bytes int, export bool) *joinCache {
	return &joinCache{maxEntries: entries / 2, maxBytes: bytes / 2, export: export,
		cur: map[string]joined{}, old: map[string]joined{}}
}

var shared = newJoinCache(CacheSize, CacheBytes, true)

// value returns groups joined with ", " for the consumer.
func (c *joinCache) value(consumerID string, groups []string) string {
	c.mu.RLock()
	j, ok := c.cur[consumerID]
	if !ok {
		j, ok = c.old[consumerID]
	}
	c.mu.RUnlock()
	if ok && j.first == &groups[0] && j.n == len(groups) {
		return j.value
	}
	v := strings.Join(groups, ", ")
	if len(v) <= MaxCachedValue {
		c.put(consumerID, joined{first: &groups[0], n: len(groups), value: v})
	}
	return v
}

func (c *joinCache) put(id string, j joined) {
	size := len(id) + len(j.value) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.cur[id]; ok {
		c.curBytes -= len(id) + len(old.value) + entryOverhead
	} else if len(c.cur) >= c.maxEntries || c.curBytes+size > c.maxBytes {
		c.old, c.oldBytes = c.cur, c.curBytes
		c.cur, c.curBytes = make(map[string]joined, len(c.old)), 0
	}
	c.cur[strings.Clone(id)] = j
	c.curBytes += size
	c.publish()
}

func (c *joinCache) size() (entries, bytes int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old), c.curBytes + c.oldBytes
}

func (c *joinCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = map[string]joined{}, map[string]joined{}
	c.curBytes, c.oldBytes = 0, 0
	c.publish()
}

func (c *joinCache) publish() {
	if c.export {
		metricEntries.With().Set(float64(len(c.cur) + len(c.old)))
		metricBytes.With().Set(float64(c.curBytes + c.oldBytes))
	}
}
