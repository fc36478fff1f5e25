package acl

import (
	"strings"

	"sluice/internal/metrics"
	"sluice/internal/plugin"
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
		Help: "Bytes held by the acl plugin's X-Consumer-Groups cache (cap: sluice_acl_groups_cache_capacity_bytes).",
	})
	metricCapacity = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_acl_groups_cache_capacity_bytes",
		Help: "Byte cap of the acl plugin's X-Consumer-Groups cache.",
	})
)

func init() { metricCapacity.With().Set(CacheBytes) }

// joined is a consumer's groups joined with ", ", valid for the groups
// slice it was made from (compared by identity: the snapshot's slice is
// shared and immutable, a changed list is a new slice).
type joined struct {
	first *string // &groups[0]
	n     int
	value string
}

// joinCache keeps the X-Consumer-Groups values of consumers with several
// groups, bounded in entries and bytes (plugin.GenCache).
type joinCache struct {
	*plugin.GenCache[string, joined]
}

func newJoinCache(entries, bytes int, export bool) *joinCache {
	var changed func(n, b int)
	if export {
		changed = func(n, b int) {
			metricEntries.With().Set(float64(n))
			metricBytes.With().Set(float64(b))
		}
	}
	size := func(id string, j joined) int { return len(id) + len(j.value) + entryOverhead }
	return &joinCache{plugin.NewGenCache(entries, bytes, size, changed)}
}

var shared = newJoinCache(CacheSize, CacheBytes, true)

// value returns groups joined with ", " for the consumer.
func (c *joinCache) value(consumerID string, groups []string) string {
	if j, ok := c.Get(consumerID); ok && j.first == &groups[0] && j.n == len(groups) {
		return j.value
	}
	v := strings.Join(groups, ", ")
	if len(v) <= MaxCachedValue {
		c.Put(strings.Clone(consumerID), joined{first: &groups[0], n: len(groups), value: v})
	}
	return v
}

func (c *joinCache) size() (entries, bytes int) { return c.Len() }

func (c *joinCache) flush() { c.Flush() }
