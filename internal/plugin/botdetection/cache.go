package botdetection

import (
	"hash/fnv"
	"strings"
	"sync"

	"sluice/internal/metrics"
)

// Bounds of the verdict cache shared by every bot-detection instance of the
// process. Kong keeps an LRU of 10^4 User-Agents per configuration; sluice
// keeps one cache for all instances so that the bound does not grow with
// the number of routes.
const (
	// CacheSize caps the User-Agents held.
	CacheSize = 10000
	// CacheBytes caps the bytes held (User-Agents plus entryOverhead each).
	CacheBytes = 4 << 20
	// MaxCachedUA is the longest User-Agent cached; longer ones are
	// examined on every request.
	MaxCachedUA = 1024
	// entryOverhead approximates a map entry's bookkeeping.
	entryOverhead = 48
)

var (
	metricEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_bot_detection_cache_entries",
		Help: "User-Agent verdicts held by the bot-detection cache (cap: 10000).",
	})
	metricBytes = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_bot_detection_cache_bytes",
		Help: "Bytes held by the bot-detection verdict cache (cap: sluice_bot_detection_cache_capacity_bytes).",
	})
	metricCapacity = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_bot_detection_cache_capacity_bytes",
		Help: "Byte cap of the bot-detection verdict cache.",
	})
)

// cacheKey is one User-Agent under one allow/deny configuration.
type cacheKey struct {
	cfg uint64 // fingerprint of the allow and deny lists
	ua  string
}

// verdictCache is a two-generation cache: lookups read both generations
// under a read lock; new verdicts go to the current generation, and when
// it reaches half the caps it becomes the old one and the previous old
// generation is dropped. A hit in the old generation is copied forward,
// so entries in use survive (an approximate LRU without per-hit writes).
type verdictCache struct {
	maxEntries, maxBytes int // per generation
	export               bool

	mu                sync.RWMutex
	cur, old          map[cacheKey]uint8
	curBytes, oldByte int
}

func newVerdictCache(entries, bytes int, export bool) *verdictCache {
	c := &verdictCache{maxEntries: entries / 2, maxBytes: bytes / 2, export: export,
		cur: map[cacheKey]uint8{}, old: map[cacheKey]uint8{}}
	if export {
		metricCapacity.With().Set(float64(bytes))
	}
	return c
}

// shared is the cache of every instance.
var shared = newVerdictCache(CacheSize, CacheBytes, true)

func (c *verdictCache) get(k cacheKey) (uint8, bool) {
	c.mu.RLock()
	v, ok := c.cur[k]
	if ok {
		c.mu.RUnlock()
		return v, true
	}
	v, ok = c.old[k]
	c.mu.RUnlock()
	if ok {
		c.put(k, v)
	}
	return v, ok
}

func (c *verdictCache) put(k cacheKey, v uint8) {
	if len(k.ua) > MaxCachedUA {
		return
	}
	size := len(k.ua) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[k]; ok {
		return
	}
	if len(c.cur) >= c.maxEntries || c.curBytes+size > c.maxBytes {
		c.old, c.oldByte = c.cur, c.curBytes
		c.cur, c.curBytes = make(map[cacheKey]uint8, len(c.old)), 0
	}
	k.ua = strings.Clone(k.ua) // do not keep the request's memory alive
	c.cur[k] = v
	c.curBytes += size
	c.publish()
}

// size returns the entries and bytes held by both generations (an entry
// copied forward counts twice until the old generation is dropped).
func (c *verdictCache) size() (entries, bytes int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old), c.curBytes + c.oldByte
}

func (c *verdictCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = map[cacheKey]uint8{}, map[cacheKey]uint8{}
	c.curBytes, c.oldByte = 0, 0
	c.publish()
}

func (c *verdictCache) publish() {
	if c.export {
		metricEntries.With().Set(float64(len(c.cur) + len(c.old)))
		metricBytes.With().Set(float64(c.curBytes + c.oldByte))
	}
}

// fingerprint identifies an allow/deny configuration: instances with the
// same lists share verdicts, also across configuration reloads.
func fingerprint(allow, deny []string) uint64 {
	h := fnv.New64a()
	for _, l := range [][]string{allow, deny} {
		for _, s := range l {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return h.Sum64()
}
