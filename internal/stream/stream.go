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
	"strconv"
	"sync"
	"time"

	"sluice/internal/model"
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
	Log                          *slog.Logger
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

// errPassthrough stops the handshake of a connection to forward as is.
var errPassthrough = errors.New("tls passthrough")

// ServeConn proxies one accepted connection (ssl: accepted on an ssl
// entry) and returns when it has ended. The caller closes c.
func (p *Proxy) ServeConn(c net.Conn, ssl bool) {
	snap := p.opts.Current.Load()
	if snap == nil {
		return
	}
	in := router.StreamInput{Protocol: "tcp", Src: addrPort(c.RemoteAddr()), Dst: addrPort(c.LocalAddr())}
	client := c
	var replay []byte
	var route *model.Route
	var svc *model.Service
	if ssl {
		probe := &probeConn{Conn: c, recording: true}
		passthrough := false
		conf := &tls.Config{
			MinVersion: p.opts.TLSMinVersion,
			MaxVersion: p.opts.TLSMaxVersion,
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				in.SNI = h.ServerName
				pin := in
				pin.Protocol = "tls_passthrough"
				if r, s := snap.Stream.Match(pin); r != nil {
					passthrough, route, svc = true, r, s
					return nil, errPassthrough
				}
				probe.stopRecording()
				return nil, nil
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
		case err != nil:
			p.log.Debug("stream TLS handshake failed", "client", in.Src.String(), "error", err)
			return
		default:
			in.Protocol = "tls"
			client = tc
		}
	}
	if route == nil {
		route, svc = snap.Stream.Match(in)
	}
	if route == nil {
		p.log.Info("no stream route matched", "protocol", in.Protocol, "client", in.Src.String(), "destination", in.Dst.String(), "sni", in.SNI)
		return
	}
	up, err := p.connect(snap, svc, in)
	if err != nil {
		p.log.Error("stream upstream unreachable", "route", route.ID, "service", svc.ID, "error", err)
		return
	}
	defer up.Close()
	if len(replay) > 0 {
		if _, err := up.Write(replay); err != nil {
			return
		}
	}
	idle := time.Duration(max(svc.ReadTimeout, svc.WriteTimeout)) * time.Millisecond
	pipe(client, up, idle)
}

// connect reaches the service: through its upstream's balancer when one is
// named like its host, else host:port; failed attempts are retried on
// other peers up to the service's retries. A tls service is reached over
// TLS.
func (p *Proxy) connect(snap *snapshot.Snapshot, svc *model.Service, in router.StreamInput) (net.Conn, error) {
	timeout := time.Duration(svc.ConnectTimeout) * time.Millisecond
	b := snap.Balancers[svc.Host]
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
				return nil, lastErr
			}
			tried = append(tried, peer)
			addr, host = peer.Addr, peer.Host
		}
		start := time.Now()
		c, err := dial(addr, host, svc, timeout)
		if peer != nil {
			b.Done(peer, upstream.Result{TCPFailure: err != nil, Timeout: isTimeout(err), Latency: time.Since(start)})
		}
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// pickRequest stands for the request a balancer may hash on: a stream
// connection has no headers, cookies or path.
var pickRequest = &http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Header: http.Header{}}

func dial(addr, host string, svc *model.Service, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || svc.Protocol != "tls" {
		return c, err
	}
	conf := &tls.Config{InsecureSkipVerify: svc.TLSVerify == nil || !*svc.TLSVerify} //nolint:gosec // Kong verifies upstreams only with tls_verify
	if _, err := netip.ParseAddr(host); err != nil {
		conf.ServerName = host
	}
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
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
// end is passed on as a half-close) or one fails; idle bounds the wait
// for each read (nginx's proxy_timeout).
func pipe(client, up net.Conn, idle time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !copyHalf(up, client, idle) {
			client.Close()
			up.Close()
		}
	}()
	if !copyHalf(client, up, idle) {
		client.Close()
		up.Close()
	}
	<-done
}

// copyHalf copies src to dst; at src's end it half-closes dst. It reports
// false on a failure (either side), when both must be closed.
func copyHalf(dst, src net.Conn, idle time.Duration) bool {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := *bp
	for {
		if idle > 0 {
			_ = src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
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
