// Package server runs sluice's listeners: proxy (HTTP, HTTPS with the
// certificate chosen by SNI from the current snapshot, HTTP/2 and h2c),
// admin and status. It counts connections and requests the way nginx's
// stub_status does (Kong's GET /status "server" block), answers /status and
// /status/ready, and shuts down gracefully: stop accepting, report not
// ready, let in-flight requests finish within a grace period, then close
// what is left.
//
// A Server is one start/stop component: New, Start, then Shutdown (graceful)
// or Close (immediate). Both wait for every goroutine the Server started.
package server

import (
	"sluice/internal/memwatch"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/settings"
	"sluice/internal/snapshot"
)

// Kind names what a listener serves.
type Kind string

// Listener kinds, named after their kong.conf setting.
const (
	KindProxy  Kind = "proxy_listen"
	KindAdmin  Kind = "admin_listen"
	KindStatus Kind = "status_listen"
)

// Options configures a Server.
type Options struct {
	Proxy  []settings.Listen
	Admin  []settings.Listen // opened only when AdminHandler is set
	Status []settings.Listen
	// Stream lists the stream_listen entries, opened only when
	// StreamHandler is set; StreamHandler serves each accepted connection
	// (ssl: the entry has the ssl flag) and returns when it is done.
	Stream        []settings.Listen
	StreamHandler func(c net.Conn, ssl bool)

	ProxyHandler http.Handler
	AdminHandler http.Handler
	// StatusExtra serves status-listener paths other than /status and
	// /status/ready (e.g. /metrics); nil answers them 404.
	StatusExtra http.Handler
	// StatusInfo, when set, adds a "sluice" block of its own fields to
	// GET /status.
	StatusInfo func() map[string]any
	// SharedDicts lists what /status shows as Kong's lua_shared_dicts
	// (sluice's bounded in-memory components); none when nil.
	SharedDicts func() []memwatch.SharedDict

	// Current is the snapshot being served: its certificates answer TLS
	// handshakes on proxy listeners, its presence and hash make the node
	// ready.
	Current *snapshot.Current
	// DefaultCert is served on proxy TLS listeners when the snapshot has no
	// certificate for the name (or there is no snapshot yet).
	DefaultCert *tls.Certificate
	// AdminCert and StatusCert serve TLS admin and status listeners; nil
	// means DefaultCert.
	AdminCert, StatusCert *tls.Certificate
	// TLSMinVersion and TLSMaxVersion bound every TLS listener (0: Go's
	// defaults).
	TLSMinVersion, TLSMaxVersion uint16
	// SessionTicketsDisabled turns TLS session tickets off
	// (ssl_session_tickets = off).
	SessionTicketsDisabled bool

	// DBless selects Kong's DB-less readiness rules: ready only with a
	// non-empty configuration hash.
	DBless bool
	// DBReachable reports whether the database answers; nil means it
	// always does (DB-less, embedded).
	DBReachable func(context.Context) error

	// ReadHeaderTimeout (default 60 s, nginx's client_header_timeout) and
	// IdleTimeout (default 75 s, nginx's keepalive_timeout).
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration

	Log *slog.Logger
}

// Server owns the listeners.
type Server struct {
	opts     Options
	log      *slog.Logger
	counters counters
	draining atomic.Bool

	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
	listeners []*listener
	streamLns []*streamListener
	streams   streamConns
	started   bool
	stopped   bool

	serving sync.WaitGroup
	errc    chan error
}

type listener struct {
	kind Kind
	cfg  settings.Listen
	ln   net.Listener
	hs   *http.Server
}

// New returns a Server; nothing is opened before Start.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ReadHeaderTimeout == 0 {
		opts.ReadHeaderTimeout = 60 * time.Second
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 75 * time.Second
	}
	if opts.Current == nil {
		opts.Current = &snapshot.Current{}
	}
	return &Server{opts: opts, log: opts.Log, conns: map[*trackedConn]struct{}{}}
}

// Start opens every listener and starts serving. If one cannot be opened,
// the ones already open are closed and the error names the setting and
// address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server already started")
	}
	s.started = true
	type entry struct {
		kind Kind
		cfg  settings.Listen
		h    http.Handler
	}
	var entries []entry
	for _, l := range s.opts.Proxy {
		entries = append(entries, entry{KindProxy, l, s.opts.ProxyHandler})
	}
	if s.opts.AdminHandler != nil {
		for _, l := range s.opts.Admin {
			entries = append(entries, entry{KindAdmin, l, s.opts.AdminHandler})
		}
	}
	for _, l := range s.opts.Status {
		entries = append(entries, entry{KindStatus, l, s.StatusHandler()})
	}
	for _, e := range entries {
		if e.h == nil {
			e.h = http.NotFoundHandler()
		}
		l, err := s.open(e.kind, e.cfg, e.h)
		if err != nil {
			for _, o := range s.listeners {
				o.ln.Close()
			}
			s.listeners = nil
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	if s.opts.StreamHandler != nil {
		for _, cfg := range s.opts.Stream {
			ln, err := s.listenSocket(KindStream, cfg)
			if err != nil {
				for _, o := range s.listeners {
					o.ln.Close()
				}
				for _, o := range s.streamLns {
					o.ln.Close()
				}
				s.listeners, s.streamLns = nil, nil
				return err
			}
			s.streamLns = append(s.streamLns, &streamListener{cfg: cfg, ln: ln})
		}
	}
	s.errc = make(chan error, len(s.listeners))
	for _, l := range s.streamLns {
		s.serving.Add(1)
		go s.serveStream(l)
		s.log.Info("listening", "setting", string(KindStream), "address", l.ln.Addr().String(), "entry", l.cfg.String())
	}
	for _, l := range s.listeners {
		s.serving.Add(1)
		go s.serve(l)
		s.log.Info("listening", "setting", string(l.kind), "address", l.ln.Addr().String(), "entry", l.cfg.String())
	}
	return nil
}

func (s *Server) open(kind Kind, cfg settings.Listen, h http.Handler) (*listener, error) {
	ln, err := s.listenSocket(kind, cfg)
	if err != nil {
		return nil, err
	}
	return s.httpListener(kind, cfg, ln, h), nil
}

// listenSocket opens the socket of a listen entry.
func (s *Server) listenSocket(kind Kind, cfg settings.Listen) (net.Listener, error) {
	// As nginx: an IPv4 address listens on IPv4 only (Go's "tcp" would
	// open 0.0.0.0 dual-stack), an IPv6 one on IPv6 only unless
	// ipv6only=off, so that "[::]:8000, 0.0.0.0:8000" binds both.
	network := "tcp"
	if a, err := netip.ParseAddr(cfg.Host); err == nil {
		switch {
		case a.Is4():
			network = "tcp4"
		case cfg.IPv6Only != "off":
			network = "tcp6"
		}
	}
	lc := net.ListenConfig{Control: control(cfg)}
	switch cfg.SOKeepalive {
	case "off":
		lc.KeepAlive = -1
	case "", "on":
	default:
		lc.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: cfg.KeepIdle, Interval: cfg.KeepIntvl, Count: cfg.KeepCnt}
	}
	ln, err := lc.Listen(context.Background(), network, cfg.Addr())
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, cfg.String(), err)
	}
	return ln, nil
}

func (s *Server) httpListener(kind Kind, cfg settings.Listen, ln net.Listener, h http.Handler) *listener {
	var protos http.Protocols
	protos.SetHTTP1(true)
	if cfg.SSL {
		if cfg.HTTP2 {
			protos.SetHTTP2(true)
		}
	} else {
		// h2c with prior knowledge on every plain listener, so gRPC
		// works without extra settings.
		protos.SetUnencryptedHTTP2(true)
	}
	hs := &http.Server{
		Handler:           s.count(h),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		ConnState:         s.connState,
		ConnContext:       connContext,
		Protocols:         &protos,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if cfg.SSL {
		hs.TLSConfig = s.tlsConfig(kind)
	}
	return &listener{kind: kind, cfg: cfg, ln: &trackingListener{Listener: ln, srv: s, pp: cfg.ProxyProtocol}, hs: hs}
}

func (s *Server) tlsConfig(kind Kind) *tls.Config {
	c := &tls.Config{MinVersion: s.opts.TLSMinVersion, MaxVersion: s.opts.TLSMaxVersion,
		SessionTicketsDisabled: s.opts.SessionTicketsDisabled}
	switch kind {
	case KindProxy:
		cur, def := s.opts.Current, s.opts.DefaultCert
		c.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if snap := cur.Load(); snap != nil && snap.Certs != nil {
				if ct := snap.Certs.Get(hello.ServerName); ct != nil {
					return ct, nil
				}
			}
			if def != nil {
				return def, nil
			}
			return nil, errors.New("no certificate configured")
		}
	default:
		ct := s.opts.DefaultCert
		if kind == KindAdmin && s.opts.AdminCert != nil {
			ct = s.opts.AdminCert
		}
		if kind == KindStatus && s.opts.StatusCert != nil {
			ct = s.opts.StatusCert
		}
		c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if ct == nil {
				return nil, errors.New("no certificate configured")
			}
			return ct, nil
		}
	}
	return c
}

func (s *Server) serve(l *listener) {
	defer s.serving.Done()
	var err error
	if l.cfg.SSL {
		err = l.hs.ServeTLS(l.ln, "", "")
	} else {
		err = l.hs.Serve(l.ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		err = fmt.Errorf("%s %s: %w", l.kind, l.cfg.String(), err)
		s.log.Error("listener stopped", "error", err)
		s.errc <- err
	}
}

// Err delivers the error of a listener that stopped serving on its own.
// It is nil before Start.
func (s *Server) Err() <-chan error { return s.errc }

// Addrs returns the bound addresses of the listeners of kind, in the order
// of the setting (useful with port 0).
func (s *Server) Addrs(kind Kind) []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		if l.kind == kind {
			out = append(out, l.ln.Addr())
		}
	}
	if kind == KindStream {
		for _, l := range s.streamLns {
			out = append(out, l.ln.Addr())
		}
	}
	return out
}

// Stats returns the connection and request counters.
func (s *Server) Stats() Stats { return s.counters.stats() }

// Draining reports whether a shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// count counts requests and marks their connection as writing.
func (s *Server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.counters.requests.Add(1)
		if tc, ok := r.Context().Value(connKey{}).(*trackedConn); ok {
			tc.inflight.Add(1)
			tc.setPhase(phaseWriting)
			defer tc.inflight.Add(-1)
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	tc := connOf(c)
	if tc == nil {
		return
	}
	switch st {
	case http.StateActive:
		tc.started.Store(true)
		if tc.inflight.Load() == 0 {
			tc.setPhase(phaseReading)
		}
	case http.StateIdle:
		tc.setPhase(phaseWaiting)
	case http.StateHijacked:
		tc.hijacked.Store(true)
		tc.setPhase(phaseWriting)
	case http.StateClosed:
		tc.finish()
	}
}

func (s *Server) remember(c *trackedConn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) forget(c *trackedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// openConns returns the live connections accepted by listeners of the
// given kinds.
func (s *Server) openConns(kinds ...Kind) []*trackedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kl []*trackingListener
	for _, l := range s.listeners {
		for _, k := range kinds {
			if l.kind == k {
				kl = append(kl, l.ln.(*trackingListener))
			}
		}
	}
	var out []*trackedConn
	for c := range s.conns {
		for _, l := range kl {
			if c.l == l {
				out = append(out, c)
			}
		}
	}
	return out
}

func (s *Server) listenersOf(kinds ...Kind) []*listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*listener
	for _, l := range s.listeners {
		for _, k := range kinds {
			if l.kind == k {
				out = append(out, l)
			}
		}
	}
	return out
}

// ErrForced is returned by Shutdown when the grace period ended before
// every request finished and connections were closed.
var ErrForced = errors.New("grace period over: remaining connections closed")

// Shutdown stops gracefully: the node reports not ready at once, proxy and
// admin listeners stop accepting, in-flight requests (and upgraded
// connections such as WebSockets) may finish until ctx is done, after which
// what is left is closed. The status listener keeps answering (503 on
// /status/ready) until the proxy has drained, then stops too. Shutdown
// returns when every goroutine of the Server has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.beginStop() {
		return nil
	}
	s.draining.Store(true)
	s.log.Info("draining: not accepting new connections, waiting for in-flight requests")
	streamsForced := make(chan bool, 1)
	go func() { streamsForced <- s.stopStreams(ctx) }()
	forced := s.drain(ctx, KindProxy, KindAdmin)
	forced = <-streamsForced || forced
	// The status listener has nothing long-running; give it a moment.
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.drain(sctx, KindStatus)
	s.serving.Wait()
	if forced {
		return ErrForced
	}
	return nil
}

// drain shuts down the listeners of kinds; it reports whether connections
// had to be closed.
func (s *Server) drain(ctx context.Context, kinds ...Kind) bool {
	ls := s.listenersOf(kinds...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = l.hs.Shutdown(ctx)
			}()
		}
		wg.Wait()
	}()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		// Like nginx, close connections that have not sent a byte of a
		// request: nothing is lost (http.Server would wait 5 s for them).
		// Hijacked connections (WebSockets) are not tracked by
		// http.Server.Shutdown: wait for them here.
		open := s.openConns(kinds...)
		for _, c := range open {
			if !c.started.Load() && !c.hijacked.Load() && c.inflight.Load() == 0 {
				_ = c.Close()
			}
		}
		select {
		case <-done:
			if len(open) == 0 {
				return false
			}
		default:
		}
		select {
		case <-ctx.Done():
			<-done
			left := s.openConns(kinds...)
			for _, l := range ls {
				_ = l.hs.Close()
			}
			for _, c := range left {
				_ = c.Close()
			}
			if len(left) > 0 {
				s.log.Warn("grace period over, connections closed", "connections", len(left))
			}
			return len(left) > 0
		case <-t.C:
		}
	}
}

// Close stops at once: listeners and every connection are closed.
func (s *Server) Close() error {
	if !s.beginStop() {
		return nil
	}
	s.draining.Store(true)
	for _, l := range s.listenersOf(KindProxy, KindAdmin, KindStatus) {
		_ = l.hs.Close()
	}
	for _, c := range s.openConns(KindProxy, KindAdmin, KindStatus) {
		_ = c.Close()
	}
	now, cancel := context.WithCancel(context.Background())
	cancel()
	s.stopStreams(now)
	s.serving.Wait()
	return nil
}

// beginStop returns false when a stop has already begun.
func (s *Server) beginStop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.stopped = true
	return true
}
