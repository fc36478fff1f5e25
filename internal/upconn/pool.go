package upconn

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a Pool.
type Options struct {
	// Dial opens a connection (connect timeout and name resolution are its
	// business). Required.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReadTimeout and WriteTimeout bound each read and each write; zero
	// means none.
	ReadTimeout, WriteTimeout time.Duration
	// MaxIdle is the number of idle connections kept per address (default
	// 512, negative: none, no keep-alive); IdleTimeout closes connections
	// idle for longer (default 60 s);
	// MaxRequests retires a connection after that many requests (0: no
	// limit).
	MaxIdle     int
	IdleTimeout time.Duration
	MaxRequests int
	// MaxHeaderBytes caps a response head (status line and headers) and a
	// trailer block; default 64 KiB.
	MaxHeaderBytes int
}

// Pool keeps keep-alive connections per upstream address. It is safe for
// concurrent use.
type Pool struct {
	o      Options
	mu     sync.RWMutex
	hosts  map[string]*hostPool
	closed atomic.Bool
}

type hostPool struct {
	mu   sync.Mutex
	idle []*Conn // most recently used last
}

// peekAfter is the idle time after which a pooled connection is checked
// for a close by the upstream before reuse. Under load connections come
// back within microseconds and are not checked.
const peekAfter = 50 * time.Millisecond

// New returns a pool.
func New(o Options) *Pool {
	if o.MaxIdle == 0 {
		o.MaxIdle = 512
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	return &Pool{o: o, hosts: map[string]*hostPool{}}
}

func (p *Pool) host(addr string) *hostPool {
	p.mu.RLock()
	h := p.hosts[addr]
	p.mu.RUnlock()
	if h != nil {
		return h
	}
	p.mu.Lock()
	if h = p.hosts[addr]; h == nil {
		h = &hostPool{}
		p.hosts[addr] = h
	}
	p.mu.Unlock()
	return h
}

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("upconn: pool closed")

// Get returns an idle connection to addr, or dials a new one with ctx.
func (p *Pool) Get(ctx context.Context, addr string) (*Conn, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	h := p.host(addr)
	var now time.Time
	for {
		h.mu.Lock()
		n := len(h.idle)
		if n == 0 {
			h.mu.Unlock()
			break
		}
		c := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		if now.IsZero() {
			now = time.Now()
		}
		idle := now.Sub(c.idleSince)
		if idle > p.o.IdleTimeout || ((idle > peekAfter || c.bodiless) && !c.alive()) {
			c.close()
			continue
		}
		c.reuse()
		return c, nil
	}
	nc, err := p.o.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return p.newConn(nc, addr), nil
}

// Dial opens a new connection to addr, bypassing the idle ones.
func (p *Pool) Dial(ctx context.Context, addr string) (*Conn, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	nc, err := p.o.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return p.newConn(nc, addr), nil
}

// put returns c to its address's idle list, or closes it.
func (p *Pool) put(c *Conn) {
	if p.closed.Load() {
		c.close()
		return
	}
	c.idleSince = time.Now()
	h := p.host(c.addr) // not c's list of origin: CloseIdle may have dropped it
	h.mu.Lock()
	if len(h.idle) >= p.o.MaxIdle {
		h.mu.Unlock()
		c.close()
		return
	}
	h.idle = append(h.idle, c)
	h.mu.Unlock()
}

// CloseIdle closes the connections idle since before cutoff (a time in the
// future closes all) and forgets addresses with no idle connection left.
// It returns the number closed.
func (p *Pool) CloseIdle(cutoff time.Time) int {
	n := 0
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, h := range p.hosts {
		h.mu.Lock()
		keep := h.idle[:0]
		for _, c := range h.idle {
			if c.idleSince.Before(cutoff) {
				c.close()
				n++
			} else {
				keep = append(keep, c)
			}
		}
		clear(h.idle[len(keep):])
		h.idle = keep
		empty := len(keep) == 0
		h.mu.Unlock()
		if empty {
			// Connections in use go back through p.host, which
			// recreates the list: the map holds only addresses with
			// idle connections.
			delete(p.hosts, addr)
		}
	}
	return n
}

// Idle returns the number of idle connections (for tests and metrics).
func (p *Pool) Idle() int {
	n := 0
	p.mu.RLock()
	for _, h := range p.hosts {
		h.mu.Lock()
		n += len(h.idle)
		h.mu.Unlock()
	}
	p.mu.RUnlock()
	return n
}

// Close closes the idle connections; connections in use are closed when
// released.
func (p *Pool) Close() {
	p.closed.Store(true)
	p.CloseIdle(time.Now().Add(time.Hour))
}

func (p *Pool) newConn(nc net.Conn, addr string) *Conn {
	c := &Conn{p: p, addr: addr, nc: nc}
	c.dc = deadlineConn{c: c, read: p.o.ReadTimeout, write: p.o.WriteTimeout}
	c.br = bufio.NewReaderSize(&c.dc, 8<<10)
	c.bw = bufio.NewWriterSize(&c.dc, 4<<10)
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.peekFn = func(fd uintptr) bool {
				c.peekN, c.peekErr = peek(fd, c.peekBuf[:])
				return true
			}
		}
	}
	c.AbortFunc = c.abort
	return c
}
