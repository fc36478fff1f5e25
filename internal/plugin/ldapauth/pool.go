package ldapauth

import (
	"slices"
	"sync"
	"time"
)

// maxIdle is how many idle connections an instance keeps (nginx's
// lua_socket_pool_size default is 30).
const maxIdle = 30

// connPool keeps connections between binds, as Kong's setkeepalive does:
// the newest is reused first, and each is closed after idling for ttl
// (0: no limit). A pool with max 0 keeps nothing. Safe for concurrent use.
type connPool struct {
	max int
	ttl time.Duration

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// get takes the most recently used idle connection, or returns nil.
func (p *connPool) get() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if c.idleTimer != nil {
		c.idleTimer.Stop()
		c.idleTimer = nil
	}
	return c
}

// put keeps c for reuse, or closes it when the pool is full or closed.
func (p *connPool) put(c *conn) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.ttl > 0 {
		c.idleTimer = time.AfterFunc(p.ttl, func() { p.expire(c) })
	}
	p.mu.Unlock()
}

// expire closes c if it is still idle.
func (p *connPool) expire(c *conn) {
	p.mu.Lock()
	i := slices.Index(p.idle, c)
	if i < 0 {
		p.mu.Unlock()
		return
	}
	p.idle = slices.Delete(p.idle, i, i+1)
	c.idleTimer = nil
	p.mu.Unlock()
	_ = c.Close()
}

// close closes every idle connection; connections in use are closed when
// they come back.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	for _, c := range idle {
		if c.idleTimer != nil {
			c.idleTimer.Stop()
		}
	}
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

// size is the number of idle connections.
func (p *connPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
