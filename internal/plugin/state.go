package plugin

import "sync"

// StatePool keeps per-plugin values that must outlive one snapshot, such as
// rate-limiting counters: a rebuilt instance finds its predecessor's value
// under the same key. snapshot.Build calls Retain after each successful
// build, so values of removed plugin entities are dropped (and closed when
// they implement Closer). Safe for concurrent use.
type StatePool struct {
	mu sync.Mutex
	m  map[string]any
}

// NewStatePool returns an empty pool.
func NewStatePool() *StatePool { return &StatePool{m: map[string]any{}} }

// Get returns the value stored under key, creating it with init when
// absent. Keys start with the plugin entity id (Deps.PluginID).
func (p *StatePool) Get(key string, init func() any) any {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[key]
	if !ok {
		v = init()
		p.m[key] = v
	}
	return v
}

// Retain drops the values whose key is not kept by keep.
func (p *StatePool) Retain(keep func(key string) bool) {
	p.mu.Lock()
	var dropped []any
	for k, v := range p.m {
		if !keep(k) {
			delete(p.m, k)
			dropped = append(dropped, v)
		}
	}
	p.mu.Unlock()
	for _, v := range dropped {
		if c, ok := v.(Closer); ok {
			c.Close()
		}
	}
}

// Len is the number of values held.
func (p *StatePool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}
