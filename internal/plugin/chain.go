package plugin

import (
	"net/http"
	"sort"

	"sluice/internal/model"
)

// Scope says which entities a plugin entity is attached to.
type Scope uint8

// Scope bits; a global plugin has none.
const (
	ScopeRoute Scope = 1 << iota
	ScopeService
	ScopeConsumer
)

// ScopeOf returns the scope of a plugin entity.
func ScopeOf(p *model.Plugin) Scope {
	var s Scope
	if p.Route != nil {
		s |= ScopeRoute
	}
	if p.Service != nil {
		s |= ScopeService
	}
	if p.Consumer != nil {
		s |= ScopeConsumer
	}
	return s
}

// Rank is Kong's precedence of a scope (3.4+ order without consumer
// groups): lower is more specific. consumer+route+service 1, consumer+route
// 3, consumer+service 4, route+service 7, consumer 8, route 10, service 11,
// global 12.
func (s Scope) Rank() int {
	switch s {
	case ScopeConsumer | ScopeRoute | ScopeService:
		return 1
	case ScopeConsumer | ScopeRoute:
		return 3
	case ScopeConsumer | ScopeService:
		return 4
	case ScopeRoute | ScopeService:
		return 7
	case ScopeConsumer:
		return 8
	case ScopeRoute:
		return 10
	case ScopeService:
		return 11
	}
	return 12
}

// Instance is one plugin entity built for one snapshot.
type Instance struct {
	Entity *model.Plugin
	Def    *Definition
	Scope  Scope
	// Impl is what Definition.New returned; nil when Err is set.
	Impl any
	// Err is New's error: the instance answers 500 on the entities it is
	// attached to.
	Err error

	rw Rewriter
	ac Accessor
	hf HeaderFilterer
	bf BodyFilterer
	lg Logger
}

// NewInstance builds an instance of def for the plugin entity p. A failing
// New is recorded in Err, not returned: the caller decides what it disables.
func NewInstance(p *model.Plugin, def *Definition, deps Deps) *Instance {
	in := &Instance{Entity: p, Def: def, Scope: ScopeOf(p)}
	impl, err := def.New(p.Config, deps)
	if err != nil {
		in.Err = err
		return in
	}
	in.Impl = impl
	in.rw, _ = impl.(Rewriter)
	in.ac, _ = impl.(Accessor)
	in.hf, _ = impl.(HeaderFilterer)
	in.bf, _ = impl.(BodyFilterer)
	in.lg, _ = impl.(Logger)
	return in
}

// Close releases the instance's resources if it implements Closer.
func (in *Instance) Close() {
	if c, ok := in.Impl.(Closer); ok {
		c.Close()
	}
}

// Entry is one plugin name in a chain: the instance that applies without a
// consumer and, for consumers with consumer-scoped instances, the winner of
// the precedence between those and Base.
type Entry struct {
	Name     string
	Priority int
	Base     *Instance            // may be nil (consumer-scoped only)
	Consumer map[string]*Instance // by consumer id; nil when none
}

// Chain is the compiled plugin list of one route (global, service, route
// and consumer-scoped instances, precedence applied), ordered by descending
// priority. It is immutable and shared by concurrent requests.
type Chain struct {
	entries []Entry
	rewrite []*Instance
}

// NewChain orders entries by descending priority (ties by name).
func NewChain(entries []Entry) *Chain {
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Priority != entries[j].Priority {
			return entries[i].Priority > entries[j].Priority
		}
		return entries[i].Name < entries[j].Name
	})
	ch := &Chain{entries: entries}
	for _, e := range entries {
		// Kong runs the rewrite phase for global plugins only (the route
		// is not known yet).
		if e.Base != nil && e.Base.Scope == 0 && e.Base.rw != nil {
			ch.rewrite = append(ch.rewrite, e.Base)
		}
	}
	return ch
}

// Entries returns the chain's entries in execution order.
func (ch *Chain) Entries() []Entry { return ch.entries }

// Len is the number of plugin names in the chain.
func (ch *Chain) Len() int {
	if ch == nil {
		return 0
	}
	return len(ch.entries)
}

// Rewrite runs the rewrite phase.
func (ch *Chain) Rewrite(c *Ctx) {
	for _, in := range ch.rewrite {
		if c.exit != nil {
			return
		}
		in.rw.Rewrite(c)
	}
}

// Access resolves each entry against the consumer known at that point
// (auth plugins run first by priority) and runs the access phase. The
// resolved instances are kept in c for the later phases, including those
// after a termination (Kong runs their header_filter on the exit response).
func (ch *Chain) Access(c *Ctx) {
	c.active = c.activeArr[:0]
	for i := range ch.entries {
		e := &ch.entries[i]
		in := e.Base
		if e.Consumer != nil && c.Consumer != nil {
			if x, ok := e.Consumer[c.Consumer.ID]; ok {
				in = x
			}
		}
		if in == nil {
			continue
		}
		c.active = append(c.active, in)
		if c.exit != nil {
			continue
		}
		if in.Err != nil {
			c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
			continue
		}
		if in.ac != nil {
			in.ac.Access(c)
		}
	}
}

// BeginResponse prepares c for header_filter on a response with status and
// header h: the response headers set earlier with SetResponseHeader are
// applied to h.
func (c *Ctx) BeginResponse(status int, h http.Header) {
	c.Status, c.Header = status, h
	if len(c.pending) > 0 {
		vals := make([]string, len(c.pending)) // one backing array
		for i, p := range c.pending {
			vals[i] = p.value
			h[p.name] = vals[i : i+1 : i+1]
		}
	}
	c.pending = nil
}

// HeaderFilter runs the header_filter phase of the resolved instances (call
// BeginResponse first).
func (c *Ctx) HeaderFilter() {
	for _, in := range c.active {
		if in.hf != nil {
			in.hf.HeaderFilter(c)
		}
	}
}

// ExitEmpty, in header_filter, answers status with an empty body in place
// of the response (Kong's kong.response.exit(status) there): the headers
// stay, the body is dropped.
func (c *Ctx) ExitEmpty(status int) {
	c.Status, c.discard = status, true
}

// BodyDiscarded reports whether ExitEmpty dropped the response's body.
func (c *Ctx) BodyDiscarded() bool { return c.discard }

// HasBodyFilter reports whether a resolved instance filters the body, or
// the body is dropped (ExitEmpty).
func (c *Ctx) HasBodyFilter() bool {
	if c.discard {
		return true
	}
	for _, in := range c.active {
		if in.bf != nil {
			return true
		}
	}
	return false
}

// BodyFilter runs the body_filter phase on one chunk.
func (c *Ctx) BodyFilter(chunk []byte, last bool) []byte {
	if c.discard {
		return nil
	}
	for _, in := range c.active {
		if in.bf != nil {
			chunk = in.bf.BodyFilter(c, chunk, last)
		}
	}
	return chunk
}

// Log runs the log phase of the resolved instances.
func (c *Ctx) Log() {
	for _, in := range c.active {
		if in.lg != nil {
			in.lg.Log(c)
		}
	}
}
