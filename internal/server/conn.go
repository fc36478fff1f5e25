package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection phases, as nginx's stub_status counts them.
const (
	phaseReading int32 = iota + 1 // reading a request (new connections too)
	phaseWriting                  // a request is being handled
	phaseWaiting                  // idle keep-alive connection
	phaseClosed
)

// Stats are Kong's `server` counters of GET /status (nginx stub_status
// semantics), over every listener of the Server.
type Stats struct {
	TotalRequests       int64 `json:"total_requests"`
	ConnectionsActive   int64 `json:"connections_active"`
	ConnectionsAccepted int64 `json:"connections_accepted"`
	ConnectionsHandled  int64 `json:"connections_handled"`
	ConnectionsReading  int64 `json:"connections_reading"`
	ConnectionsWriting  int64 `json:"connections_writing"`
	ConnectionsWaiting  int64 `json:"connections_waiting"`
}

type counters struct {
	requests, active, accepted, handled atomic.Int64
	phase                               [phaseClosed + 1]atomic.Int64 // by phase
}

func (c *counters) stats() Stats {
	return Stats{
		TotalRequests:       c.requests.Load(),
		ConnectionsActive:   c.active.Load(),
		ConnectionsAccepted: c.accepted.Load(),
		ConnectionsHandled:  c.handled.Load(),
		ConnectionsReading:  c.phase[phaseReading].Load(),
		ConnectionsWriting:  c.phase[phaseWriting].Load(),
		ConnectionsWaiting:  c.phase[phaseWaiting].Load(),
	}
}

// trackedConn is every accepted connection: it keeps the counters right
// whatever ends it (http.Server, a hijacker, a forced close) and, on
// proxy_protocol listeners, reads the PROXY header before the first byte
// of the request.
type trackedConn struct {
	net.Conn
	l        *trackingListener
	phase    atomic.Int32
	inflight atomic.Int32
	hijacked atomic.Bool
	started  atomic.Bool // a request byte has been read (StateActive seen)

	// PROXY protocol.
	pp       bool
	ppOnce   sync.Once
	ppReader *bufio.Reader
	ppRemote net.Addr
	ppErr    error
}

// setPhase moves the connection to phase p, unless it is closed.
func (c *trackedConn) setPhase(p int32) {
	for {
		old := c.phase.Load()
		if old == phaseClosed || old == p {
			return
		}
		if c.phase.CompareAndSwap(old, p) {
			cs := &c.l.srv.counters
			cs.phase[old].Add(-1)
			cs.phase[p].Add(1)
			return
		}
	}
}

// finish accounts for the end of the connection, once.
func (c *trackedConn) finish() {
	for {
		old := c.phase.Load()
		if old == phaseClosed {
			return
		}
		if c.phase.CompareAndSwap(old, phaseClosed) {
			cs := &c.l.srv.counters
			cs.phase[old].Add(-1)
			cs.active.Add(-1)
			c.l.srv.forget(c)
			return
		}
	}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.finish()
	return err
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if c.pp {
		c.readProxyHeader()
		if c.ppErr != nil {
			return 0, c.ppErr
		}
		return c.ppReader.Read(p)
	}
	return c.Conn.Read(p)
}

// RemoteAddr is the client's address: from the PROXY header on
// proxy_protocol listeners.
func (c *trackedConn) RemoteAddr() net.Addr {
	if c.pp {
		c.readProxyHeader()
		if c.ppRemote != nil {
			return c.ppRemote
		}
	}
	return c.Conn.RemoteAddr()
}

// proxyHeaderTimeout bounds the wait for a PROXY header.
const proxyHeaderTimeout = 10 * time.Second

func (c *trackedConn) readProxyHeader() {
	c.ppOnce.Do(func() {
		c.ppReader = bufio.NewReaderSize(c.Conn, 512)
		_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
		c.ppRemote, c.ppErr = readProxyHeader(c.ppReader)
		_ = c.SetReadDeadline(time.Time{})
		if c.ppErr != nil {
			c.l.srv.log.Debug("PROXY protocol header rejected", "remote", c.Conn.RemoteAddr().String(), "error", c.ppErr)
			// Nothing may be answered on a connection whose sender is
			// unknown.
			c.Conn.Close()
		}
	})
}

// trackingListener wraps accepted connections in trackedConn.
type trackingListener struct {
	net.Listener
	srv *Server
	pp  bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l, pp: l.pp}
	cs := &l.srv.counters
	cs.accepted.Add(1)
	cs.handled.Add(1)
	cs.active.Add(1)
	tc.phase.Store(phaseReading)
	cs.phase[phaseReading].Add(1)
	l.srv.remember(tc)
	return tc, nil
}

// connOf finds the trackedConn under a connection http.Server hands out.
func connOf(c net.Conn) *trackedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tc, _ := c.(*trackedConn)
	return tc
}

type connKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc := connOf(c); tc != nil {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}
