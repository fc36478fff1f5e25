// Package stream proxies TCP and TLS connections (Kong's stream
// subsystem): a connection accepted on a stream_listen entry is matched to
// a route of protocol tcp, tls or tls_passthrough and copied, both ways,
// to its service's upstream.
//
// On a plain entry connections are tcp. On an ssl entry the TLS
// ClientHello is read first: when a tls_passthrough route takes its
// server name, the connection is forwarded untouched (the ClientHello
// replayed to the upstream); otherwise sluice terminates TLS with the
// certificate for the name and matches tls routes. A service of protocol
// tls is reached over TLS, tcp in the clear.
package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/router"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// handshakeTimeout bounds the client's TLS handshake (nginx's
// ssl_handshake_timeout default).
const handshakeTimeout = 60 * time.Second

// bufSize is the copy buffer of each direction of a connection.
const bufSize = 16 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Options configures a Proxy.
type Options struct {
	Current *snapshot.Current
	// DefaultCert is served when the snapshot has no certificate for the
	// client's server name.
	DefaultCert                  *tls.Certificate
	TLSMinVersion, TLSMaxVersion uint16
	// Trusted tells the peers whose PROXY header is believed
	// (trusted_ips); nil trusts none.
	Trusted func(netip.Addr) bool
	// PortMaps maps a listening port to the port routes' destinations
	// see (port_maps).
	PortMaps map[int]int
	Log      *slog.Logger
}

// Proxy serves stream connections.
type Proxy struct {
	opts Options
	log  *slog.Logger
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Current == nil {
		opts.Current = &snapshot.Current{}
	}
	return &Proxy{opts: opts, log: opts.Log}
}

// Handshake outcomes decided from the ClientHello.
var (
	errPassthrough = errors.New("tls passthrough")
	errNoRoute     = errors.New("no route")
	errNotTLS      = errors.New("route takes neither tls nor tls_passthrough")
)

// ServeConn proxies one accepted connection (ssl: accepted on an ssl
// entry) and returns when it has ended. The caller closes c.
func (p *Proxy) ServeConn(c net.Conn, ssl bool) {
	snap := p.opts.Current.Load()
	if snap == nil {
		return
	}
	in := router.StreamInput{Src: p.clientAddr(c), Dst: addrPort(c.LocalAddr())}
	if to, ok := p.opts.PortMaps[int(in.Dst.Port())]; ok {
		in.Dst = netip.AddrPortFrom(in.Dst.Addr(), uint16(to))
	}
	client := c
	var replay []byte
	var route *model.Route
	var svc *model.Service
	passthrough := false
	if ssl {
		// Kong routes on the ClientHello: a tls route's connection is
		// terminated here, a tls_passthrough route's forwarded as is.
		probe := &probeConn{Conn: c, recording: true}
		conf := &tls.Config{
			MinVersion: p.opts.TLSMinVersion,
			MaxVersion: p.opts.TLSMaxVersion,
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				in.SNI = h.ServerName
				route, svc = snap.Stream.Match(in)
				switch {
				case route == nil:
					return nil, errNoRoute
				case slices.Contains(route.Protocols, "tls"):
					probe.stopRecording()
					return nil, nil
				case slices.Contains(route.Protocols, "tls_passthrough"):
					passthrough = true
					return nil, errPassthrough
				}
				return nil, errNotTLS
			},
			GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if snap.Certs != nil {
					if ct := snap.Certs.Get(h.ServerName); ct != nil {
						return ct, nil
					}
				}
				if p.opts.DefaultCert != nil {
					return p.opts.DefaultCert, nil
				}
				return nil, errors.New("no certificate configured")
			},
		}
		tc := tls.Server(probe, conf)
		_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
		err := tc.Handshake()
		_ = c.SetDeadline(time.Time{})
		switch {
		case passthrough:
			replay = probe.recorded
		case errors.Is(err, errNoRoute):
			route = nil
		case errors.Is(err, errNotTLS):
			p.log.Error("unexpected protocols in matched Route", "route", route.ID, "protocols", route.Protocols, "client", in.Src.String())
			return
		case err != nil:
			p.log.Debug("stream TLS handshake failed", "client", in.Src.String(), "error", err)
			return
		default:
			client = tc
		}
	} else {
		route, svc = snap.Stream.Match(in)
	}
	if route == nil {
		p.log.Error("no Route found with those values", "client", in.Src.String(), "destination", in.Dst.String(), "sni", in.SNI)
		return
	}
	if svc == nil {
		p.log.Error("stream route has no service", "route", route.ID)
		return
	}
	protocol := "tcp"
	switch {
	case passthrough:
		protocol = "tls_passthrough"
	case ssl:
		protocol = "tls"
	}
	if !p.preread(snap, &plugin.StreamCtx{Route: route, Service: svc, Protocol: protocol, ClientIP: in.Src.Addr().Unmap().String()}, client) {
		return
	}
	up, done, err := p.connect(snap, route, svc, in, passthrough)
	if err != nil {
		p.log.Error("stream upstream unreachable", "route", route.ID, "service", svc.ID, "error", err)
		return
	}
	defer done()
	defer up.Close()
	if len(replay) > 0 {
		if _, err := up.Write(replay); err != nil {
			return
		}
	}
	idle := time.Duration(max(svc.ReadTimeout, svc.WriteTimeout)) * time.Millisecond
	pipe(client, up, idle)
}

// preread runs the preread phase of the route's plugins that apply to the
// connection's protocol; it reports false when one refused it (its
// message then sent, except to a passed-through connection).
func (p *Proxy) preread(snap *snapshot.Snapshot, sc *plugin.StreamCtx, client net.Conn) bool {
	ch := snap.Chains[sc.Route.ID]
	if ch == nil {
		return true
	}
	for _, e := range ch.Entries() {
		in := e.Base
		if in == nil || !slices.Contains(in.Entity.Protocols, sc.Protocol) {
			continue
		}
		if in.Err != nil {
			p.log.Error("stream plugin cannot run", "plugin", in.Entity.Name, "route", sc.Route.ID, "error", in.Err)
			return false
		}
		pr, ok := in.Impl.(plugin.Prereader)
		if !ok {
			continue
		}
		if ex := pr.Preread(sc); ex != nil {
			p.log.Debug("stream connection refused by a plugin", "plugin", in.Entity.Name, "route", sc.Route.ID, "client", sc.ClientIP, "status", ex.Status)
			if sc.Protocol != "tls_passthrough" {
				_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
				body := ex.Body
				if body == nil {
					body = plugin.JSONMessage(ex.Message)
				}
				_, _ = client.Write(body)
				lingerClose(client)
			}
			return false
		}
	}
	return true
}

// lingerClose ends our side and reads what the client still sends for a
// moment, so that closing does not reset the connection before the
// client has read our last bytes.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// clientAddr is the client's address: the PROXY header's when the peer
// that sent it is trusted, else the peer's.
func (p *Proxy) clientAddr(c net.Conn) netip.AddrPort {
	src := addrPort(c.RemoteAddr())
	if pc, ok := c.(interface{ PeerAddr() net.Addr }); ok {
		peer := addrPort(pc.PeerAddr())
		if p.opts.Trusted == nil || !p.opts.Trusted(peer.Addr().Unmap()) {
			return peer
		}
	}
	return src
}

// connect reaches the service: through its upstream's balancer when one is
// named like its host, else host:port; failed attempts are retried on
// other peers up to the service's retries. A tls service is reached over
// TLS, except for a passed-through connection, which carries the client's
// own TLS.
func (p *Proxy) connect(snap *snapshot.Snapshot, route *model.Route, svc *model.Service, in router.StreamInput, passthrough bool) (net.Conn, func(), error) {
	timeout := time.Duration(svc.ConnectTimeout) * time.Millisecond
	b := snap.Balancers[svc.Host]
	useTLS := svc.Protocol == "tls" && !passthrough
	var tried []*upstream.Peer
	var lastErr error
	for attempt := 0; attempt <= svc.Retries; attempt++ {
		addr, host := net.JoinHostPort(svc.Host, strconv.Itoa(svc.Port)), svc.Host
		var peer *upstream.Peer
		if b != nil {
			var err error
			peer, err = b.Pick(pickRequest, &upstream.PickContext{ClientIP: in.Src.Addr().String()}, tried)
			if err != nil || peer == nil {
				if lastErr == nil {
					lastErr = upstream.ErrNoPeer
				}
				return nil, nil, lastErr
			}
			tried = append(tried, peer)
			addr, host = peer.Addr, peer.Host
		}
		if route.PreserveHost && in.SNI != "" {
			host = in.SNI
		}
		start := time.Now()
		c, err := dial(addr, host, svc, useTLS, timeout)
		if err == nil {
			// The peer is reported when the session ends, so that
			// least-connections counts it while it lasts.
			latency := time.Since(start)
			return c, func() {
				if peer != nil {
					b.Done(peer, upstream.Result{Latency: latency})
				}
			}, nil
		}
		if peer != nil {
			b.Done(peer, upstream.Result{TCPFailure: true, Timeout: isTimeout(err), Latency: time.Since(start)})
		}
		lastErr = err
	}
	return nil, nil, lastErr
}

// pickRequest stands for the request a balancer may hash on: a stream
// connection has no headers, cookies or path.
var pickRequest = &http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Header: http.Header{}}

// dial connects within timeout, then, for TLS, handshakes within
// another (nginx applies proxy_connect_timeout to each).
func dial(addr, host string, svc *model.Service, useTLS bool, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || !useTLS {
		return c, err
	}
	conf := &tls.Config{InsecureSkipVerify: svc.TLSVerify == nil || !*svc.TLSVerify} //nolint:gosec // Kong verifies upstreams only with tls_verify
	if _, err := netip.ParseAddr(host); err != nil {
		conf.ServerName = host
	}
	hctx, hcancel := context.WithTimeout(context.Background(), timeout)
	defer hcancel()
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pipe copies both ways until each side has ended its sending (a side's
// end is passed on as a half-close) or one fails. idle bounds the time
// without traffic in either direction (nginx's proxy_timeout: one timer
// for the session).
func pipe(client, up net.Conn, idle time.Duration) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !copyHalf(up, client, idle, &last) {
			client.Close()
			up.Close()
		}
	}()
	if !copyHalf(client, up, idle, &last) {
		client.Close()
		up.Close()
	}
	<-done
}

// copyHalf copies src to dst; at src's end it half-closes dst. It reports
// false on a failure (either side), or when the session was idle for
// idle, when both must be closed.
func copyHalf(dst, src net.Conn, idle time.Duration, last *atomic.Int64) bool {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	for {
		if idle > 0 {
			_ = src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if idle > 0 {
				_ = dst.SetWriteDeadline(time.Now().Add(idle))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				return cw.CloseWrite() == nil
			}
			return false
		}
		if err != nil {
			if isTimeout(err) && idle > 0 && time.Since(time.Unix(0, last.Load())) < idle {
				continue // the other direction moved: the session is not idle
			}
			return false
		}
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// probeConn records what is read during a ClientHello and drops what the
// TLS stack writes until the connection is known to be terminated here:
// a passthrough connection must reach the upstream as the client sent it.
type probeConn struct {
	net.Conn
	mu        sync.Mutex
	recording bool
	recorded  []byte
}

func (c *probeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if c.recording && n > 0 {
		c.recorded = append(c.recorded, b[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *probeConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	rec := c.recording
	c.mu.Unlock()
	if rec {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *probeConn) stopRecording() {
	c.mu.Lock()
	c.recording, c.recorded = false, nil
	c.mu.Unlock()
}
