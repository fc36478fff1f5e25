package botdetection

import (
	"hash/fnv"
	"strings"

	"sluice/internal/metrics"
	"sluice/internal/plugin"
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

// verdictCache holds verdicts by User-Agent and configuration, bounded in
// entries and bytes (plugin.GenCache: two generations, hits in the old one
// copied forward).
type verdictCache struct {
	*plugin.GenCache[cacheKey, uint8]
}

func newVerdictCache(entries, bytes int, export bool) *verdictCache {
	var changed func(n, b int)
	if export {
		metricCapacity.With().Set(float64(bytes))
		changed = func(n, b int) {
			metricEntries.With().Set(float64(n))
			metricBytes.With().Set(float64(b))
		}
	}
	size := func(k cacheKey, _ uint8) int { return len(k.ua) + entryOverhead }
	return &verdictCache{plugin.NewGenCache(entries, bytes, size, changed)}
}

// shared is the cache of every instance.
var shared = newVerdictCache(CacheSize, CacheBytes, true)

func (c *verdictCache) get(k cacheKey) (uint8, bool) { return c.Get(k) }

func (c *verdictCache) put(k cacheKey, v uint8) {
	if len(k.ua) > MaxCachedUA {
		return
	}
	k.ua = strings.Clone(k.ua) // do not keep the request's memory alive
	c.Put(k, v)
}

// size returns the entries and bytes held by both generations.
func (c *verdictCache) size() (entries, bytes int) { return c.Len() }

func (c *verdictCache) flush() { c.Flush() }

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
