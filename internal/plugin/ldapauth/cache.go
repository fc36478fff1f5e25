package ldapauth

import (
	"sync"
	"time"

	"sluice/internal/plugin"
)

// Bounds of each instance's cache of bind answers.
const (
	// CacheEntries caps the username/password pairs remembered.
	CacheEntries = 10000
	// CacheBytes caps the bytes counted for them (entryBytes each).
	CacheBytes = 4 << 20
	entryBytes = 128 // key, value and the map's bookkeeping
)

// cacheKey is the SHA-256 of "username:password": the password itself is
// never kept.
type cacheKey [32]byte

// cached is a remembered bind answer.
type cached struct {
	ok      bool  // bindSucceeded; false for bindRejected
	expires int64 // unix nanoseconds; 0: never (cache_ttl 0, as in Kong)
}

// bindCache remembers bind answers for cache_ttl and lets concurrent
// requests with the same credentials share one bind (Kong's mlcache
// lock). Safe for concurrent use.
type bindCache struct {
	entries *plugin.GenCache[cacheKey, cached]

	mu      sync.Mutex
	flights map[cacheKey]*flight
}

// bindResult is the answer of one bind.
type bindResult struct {
	out outcome
	err error
}

// flight is a bind in progress that other requests wait for.
type flight struct {
	done chan struct{}
	res  bindResult
}

func newBindCache() *bindCache {
	size := func(cacheKey, cached) int { return entryBytes }
	return &bindCache{entries: plugin.NewGenCache(CacheEntries, CacheBytes, size, nil),
		flights: map[cacheKey]*flight{}}
}

// lookup returns a remembered answer that has not expired.
func (b *bindCache) lookup(k cacheKey, now time.Time) (ok, found bool) {
	e, found := b.entries.Get(k)
	if !found || e.expires != 0 && now.UnixNano() >= e.expires {
		return false, false
	}
	return e.ok, true
}

// do runs bind for k unless another request is already doing it, in
// which case it waits for that one's answer (shared is then true).
func (b *bindCache) do(k cacheKey, bind func() bindResult) (res bindResult, shared bool) {
	b.mu.Lock()
	if f, ok := b.flights[k]; ok {
		b.mu.Unlock()
		<-f.done
		return f.res, true
	}
	f := &flight{done: make(chan struct{})}
	b.flights[k] = f
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.flights, k)
		b.mu.Unlock()
		close(f.done)
	}()
	f.res = bind()
	return f.res, false
}

// remember keeps an answer for ttl (0: until evicted).
func (b *bindCache) remember(k cacheKey, ok bool, ttl time.Duration, now time.Time) {
	e := cached{ok: ok}
	if ttl > 0 {
		e.expires = now.Add(ttl).UnixNano()
	}
	b.entries.Put(k, e)
}

// sharedCache is kept in the plugin's state pool so that a configuration
// reload does not forget every answer: a new instance reuses its
// predecessor's cache when the settings that decide a bind's answer are
// unchanged (Kong's cache key holds them too).
type sharedCache struct {
	mu          sync.Mutex
	fingerprint string
	cache       *bindCache
}

// cacheFor returns the cache an instance with these settings uses.
func cacheFor(deps plugin.Deps, fingerprint string) *bindCache {
	if deps.State == nil || deps.PluginID == "" {
		return newBindCache()
	}
	s, ok := deps.State.Get(deps.PluginID+"/"+Name, func() any { return &sharedCache{} }).(*sharedCache)
	if !ok {
		return newBindCache()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil || s.fingerprint != fingerprint {
		s.cache, s.fingerprint = newBindCache(), fingerprint
	}
	return s.cache
}
