package server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"sluice/internal/settings"
)

// KindStream is the kind of stream (TCP and TLS) listeners.
const KindStream Kind = "stream_listen"

// streamListener is an open stream_listen socket.
type streamListener struct {
	cfg settings.Listen
	ln  net.Listener
}

// streamConns tracks the live stream connections, for shutdown.
type streamConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (sc *streamConns) add(c net.Conn) {
	sc.mu.Lock()
	if sc.conns == nil {
		sc.conns = map[net.Conn]struct{}{}
	}
	sc.conns[c] = struct{}{}
	sc.mu.Unlock()
	sc.wg.Add(1)
}

func (sc *streamConns) remove(c net.Conn) {
	sc.mu.Lock()
	delete(sc.conns, c)
	sc.mu.Unlock()
	sc.wg.Done()
}

func (sc *streamConns) closeAll() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for c := range sc.conns {
		_ = c.Close()
	}
	return len(sc.conns)
}

// serveStream accepts connections of a stream listener and hands each to
// the StreamHandler on its own goroutine.
func (s *Server) serveStream(l *streamListener) {
	defer s.serving.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Error("stream accept failed", "entry", l.cfg.String(), "error", err)
			time.Sleep(50 * time.Millisecond) // descriptors exhausted: let some close
			continue
		}
		s.streams.add(c)
		go func() {
			defer s.streams.remove(c)
			defer c.Close()
			if l.cfg.ProxyProtocol {
				pc, err := withProxyHeader(c)
				if err != nil {
					s.log.Debug("PROXY protocol header rejected", "remote", c.RemoteAddr().String(), "error", err)
					return
				}
				c = pc
			}
			s.opts.StreamHandler(c, l.cfg.SSL)
		}()
	}
}

// ppConn is a connection whose PROXY header was read: the client's
// address is the header's.
type ppConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
}

func (c *ppConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *ppConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// PeerAddr is the address of the peer that sent the PROXY header.
func (c *ppConn) PeerAddr() net.Addr { return c.Conn.RemoteAddr() }

// CloseWrite half-closes the underlying TCP connection.
func (c *ppConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func withProxyHeader(c net.Conn) (net.Conn, error) {
	br := bufio.NewReaderSize(c, 512)
	_ = c.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
	addr, err := readProxyHeader(br)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	return &ppConn{Conn: c, r: br, remote: addr}, nil
}

// stopStreams closes the stream listeners and, once ctx is done, the
// connections still open; it returns when every connection has ended and
// reports whether any had to be closed.
func (s *Server) stopStreams(ctx context.Context) bool {
	s.mu.Lock()
	ls := s.streamLns
	s.mu.Unlock()
	for _, l := range ls {
		_ = l.ln.Close()
	}
	done := make(chan struct{})
	go func() {
		s.streams.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return false
	case <-ctx.Done():
		n := s.streams.closeAll()
		if n > 0 {
			s.log.Warn("grace period over, stream connections closed", "connections", n)
		}
		<-done
		return n > 0
	}
}
