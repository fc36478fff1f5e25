package proxycache

import (
	"net/http"
	"sync"
	"sync/atomic"

	"sluice/internal/metrics"
)

// Default bounds of the shared store.
const (
	// DefaultCapacity is the byte cap of the store shared by every
	// proxy-cache instance.
	DefaultCapacity = 64 << 20
	// DefaultMaxEntry is the largest entry (body, headers and key) that is
	// stored; larger responses are passed through uncached.
	DefaultMaxEntry = 1 << 20
	// entryOverhead and headerOverhead approximate the bookkeeping of one
	// entry (list node, index slot, Response, header map) and of each
	// header name in it; measured by TestStoreFillBounded, where the heap
	// held by a full store of tiny responses stays close to its cap.
	entryOverhead  = 320
	headerOverhead = 96
)

var (
	metricBytes = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_proxy_cache_bytes",
		Help: "Bytes held by the proxy-cache memory store (cap: sluice_proxy_cache_capacity_bytes).",
	})
	metricCapacity = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_proxy_cache_capacity_bytes",
		Help: "Byte cap of the proxy-cache memory store.",
	})
	metricEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_proxy_cache_entries",
		Help: "Responses held by the proxy-cache memory store.",
	})
	metricEvictions = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_proxy_cache_evictions_total",
		Help: "Responses evicted from the proxy-cache memory store to stay under its byte cap.",
	})
)

// shared is the store of every proxy-cache instance (Kong's shared dict
// outlives plugin rebuilds the same way).
var shared = NewStore(DefaultCapacity, DefaultMaxEntry, true)

// SharedStore returns the process-wide store used by the plugin.
func SharedStore() *Store { return shared }

// Response is one cached response. It is immutable once stored.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Timestamp is when it was stored, in Unix seconds; TTL is the
	// resource TTL (cache_ttl or the Cache-Control derived one).
	Timestamp int64
	TTL       int64
}

type entry struct {
	key        string
	res        *Response
	size       int64
	expires    int64 // Unix seconds, last second served; 0: never
	prev, next *entry
}

// Store is a byte-bounded LRU of responses, safe for concurrent use.
type Store struct {
	capacity, maxEntry int64
	export             bool

	mu         sync.Mutex
	items      map[string]*entry
	head, tail *entry // head is the most recently used
	bytes      int64

	evictions atomic.Int64
}

// NewStore returns a store holding at most capacity bytes, refusing entries
// over maxEntry bytes. export publishes its size on the metrics registry.
func NewStore(capacity, maxEntry int64, export bool) *Store {
	if maxEntry > capacity {
		maxEntry = capacity
	}
	s := &Store{capacity: capacity, maxEntry: maxEntry, export: export, items: map[string]*entry{}}
	if export {
		metricCapacity.With().Set(float64(capacity))
	}
	return s
}

// Size returns the bytes and the number of entries held.
func (s *Store) Size() (bytes int64, entries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, len(s.items)
}

// Capacity is the store's byte cap.
func (s *Store) Capacity() int64 { return s.capacity }

// MaxEntry is the largest entry stored.
func (s *Store) MaxEntry() int64 { return s.maxEntry }

// Evictions counts entries removed to make room.
func (s *Store) Evictions() int64 { return s.evictions.Load() }

// entrySize is the accounted size of a response under key.
func entrySize(key string, r *Response) int64 {
	n := int64(entryOverhead + len(key) + len(r.Body))
	for k, vs := range r.Header {
		n += int64(len(k)) + headerOverhead
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// Get returns the response stored under key unless its storage TTL passed
// at now (Unix seconds).
func (s *Store) Get(key string, now int64) *Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.items[key]
	if e == nil {
		return nil
	}
	if e.expires != 0 && now > e.expires {
		s.remove(e)
		s.publish()
		return nil
	}
	s.unlink(e)
	s.pushFront(e)
	return e.res
}

// Put stores r under key for ttl seconds (0: until evicted). It reports
// false when the entry is over the maximum entry size.
func (s *Store) Put(key string, r *Response, ttl, now int64) bool {
	size := entrySize(key, r)
	if size > s.maxEntry {
		return false
	}
	e := &entry{key: key, res: r, size: size}
	if ttl > 0 {
		e.expires = now + ttl
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.items[key]; old != nil {
		s.remove(old)
	}
	for s.bytes+size > s.capacity && s.tail != nil {
		s.remove(s.tail)
		s.evictions.Add(1)
		if s.export {
			metricEvictions.With().Inc()
		}
	}
	s.items[key] = e
	s.pushFront(e)
	s.bytes += size
	s.publish()
	return true
}

// Delete removes key.
func (s *Store) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.items[key]; e != nil {
		s.remove(e)
		s.publish()
	}
}

// Flush removes every entry.
func (s *Store) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.items)
	s.head, s.tail, s.bytes = nil, nil, 0
	s.publish()
}

func (s *Store) publish() {
	if s.export {
		metricBytes.With().Set(float64(s.bytes))
		metricEntries.With().Set(float64(len(s.items)))
	}
}

func (s *Store) remove(e *entry) {
	s.unlink(e)
	delete(s.items, e.key)
	s.bytes -= e.size
}

func (s *Store) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *Store) pushFront(e *entry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}
