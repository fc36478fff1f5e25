package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/model"
	"sluice/internal/snapshot"
	"sluice/internal/upconn"
)

const copyBufferSize = 32 << 10

// bufferPool is the 32 KiB copy-buffer pool shared by every ReverseProxy.
// It stores array pointers so that Put does not allocate.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[copyBufferSize]byte)[:] }

func (b *bufferPool) Put(v []byte) {
	if cap(v) >= copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(v[:copyBufferSize]))
	}
}

// transportKey identifies a transport: every field that changes how
// connections are made. Plain-text services with equal keys share one
// transport and so one keep-alive pool per upstream address, as Kong keys
// its upstream pools by address: at 10 000 services, a transport per
// service kept an idle connection (two buffers, two goroutines) per service.
// TLS services keep a transport of their own (serviceID set), because Go's
// transport pools connections by address, not by TLS server name, and two
// services reaching one address may need different server names.
type transportKey struct {
	serviceID      string
	protocol       string
	connectTimeout int
	writeTimeout   int
	readTimeout    int
	tlsVerify      int8 // -1 unset, 0 false, 1 true
	clientCert     string
	caCerts        string
}

func keyFor(s *model.Service) transportKey {
	k := transportKey{protocol: s.Protocol, connectTimeout: s.ConnectTimeout,
		writeTimeout: s.WriteTimeout, readTimeout: s.ReadTimeout, tlsVerify: -1}
	if s.Protocol == "https" || s.Protocol == "grpcs" || s.Protocol == "tls" {
		k.serviceID = s.ID
	}
	if s.TLSVerify != nil {
		k.tlsVerify = 0
		if *s.TLSVerify {
			k.tlsVerify = 1
		}
	}
	if s.ClientCertificate != nil {
		k.clientCert = s.ClientCertificate.ID
	}
	if len(s.CACertificates) > 0 {
		k.caCerts = strings.Join(s.CACertificates, ",")
	}
	return k
}

// svcProxy is the forwarding machinery of one transport key: the transport
// wrapped with retries, and two ReverseProxies over it (buffered and
// streaming responses). Built once, reused by every request.
type svcProxy struct {
	key       transportKey
	transport *http.Transport
	// conns is sluice's own HTTP/1.1 client for plain-HTTP services (nil
	// for the others), used by forward; transport serves the rest.
	conns     *upconn.Pool
	buffered  *httputil.ReverseProxy
	streaming *httputil.ReverseProxy
	lastUsed  atomic.Int64 // unix nanoseconds
}

// svcEntry is what one service version needs per request: its svcProxy and
// the precomputed address and Host header for services without an upstream.
type svcEntry struct {
	sp      *svcProxy
	dst     string // host:port
	hostHdr string // Host header when preserve_host is off
}

// transportPool keeps svcProxies across snapshots, keyed by identity, and
// evicts the ones nobody used for a while.
type transportPool struct {
	p      *Proxy
	byPtr  sync.Map // *model.Service -> *svcEntry (fast path)
	mu     sync.Mutex
	byKey  map[transportKey]*svcProxy
	stop   chan struct{}
	closed sync.Once

	// Pruning of byPtr when a newer snapshot shows up: entries of service
	// versions that left the configuration are dropped so that frequent
	// reloads do not grow the map.
	seenVersion atomic.Uint64
	pruning     sync.Mutex
}

func newTransportPool(p *Proxy) *transportPool {
	return &transportPool{p: p, byKey: map[transportKey]*svcProxy{}, stop: make(chan struct{})}
}

// get returns the svcEntry for s, creating its svcProxy on first use.
func (tp *transportPool) get(snap *snapshot.Snapshot, s *model.Service, now int64) *svcEntry {
	if v := tp.seenVersion.Load(); snap != nil && snap.Version > v && tp.seenVersion.CompareAndSwap(v, snap.Version) && v != 0 {
		go tp.prune(snap)
	}
	if v, ok := tp.byPtr.Load(s); ok {
		se := v.(*svcEntry)
		if se.sp.lastUsed.Load() < now-int64(time.Second) { // avoid a store per request
			se.sp.lastUsed.Store(now)
		}
		return se
	}
	k := keyFor(s)
	tp.mu.Lock()
	sp := tp.byKey[k]
	if sp == nil {
		sp = tp.p.newSvcProxy(snap, s, k)
		tp.byKey[k] = sp
	}
	tp.mu.Unlock()
	sp.lastUsed.Store(now)
	port := s.Port
	if port == 0 {
		port = 80
		if s.Protocol == "https" || s.Protocol == "grpcs" {
			port = 443
		}
	}
	se := &svcEntry{sp: sp, dst: net.JoinHostPort(s.Host, strconv.Itoa(port)), hostHdr: hostWithPort(s.Host, port, s.Protocol)}
	tp.byPtr.Store(s, se)
	return se
}

// prune drops the fast-path entries of services that are not in snap (by
// pointer). Transports stay: they are shared by key and evicted by sweep.
func (tp *transportPool) prune(snap *snapshot.Snapshot) {
	if !tp.pruning.TryLock() {
		return // a prune is running; the next snapshot prunes again
	}
	defer tp.pruning.Unlock()
	tp.byPtr.Range(func(key, _ any) bool {
		s := key.(*model.Service)
		if snap.Services[s.ID] != s {
			tp.byPtr.Delete(key)
		}
		return true
	})
}

// entries returns the number of fast-path entries (for tests).
func (tp *transportPool) entries() int {
	n := 0
	tp.byPtr.Range(func(_, _ any) bool { n++; return true })
	return n
}

// sweep evicts entries unused since before cutoff (unix nanoseconds).
func (tp *transportPool) sweep(cutoff int64) int {
	n := 0
	tp.mu.Lock()
	for k, sp := range tp.byKey {
		if sp.lastUsed.Load() < cutoff {
			delete(tp.byKey, k)
			sp.transport.CloseIdleConnections()
			if sp.conns != nil {
				sp.conns.Close()
			}
			n++
		}
	}
	tp.mu.Unlock()
	tp.byPtr.Range(func(key, v any) bool {
		if v.(*svcEntry).sp.lastUsed.Load() < cutoff {
			tp.byPtr.Delete(key)
		}
		return true
	})
	return n
}

func (tp *transportPool) run(every, maxIdle time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-tp.stop:
			return
		case now := <-t.C:
			tp.sweep(now.Add(-maxIdle).UnixNano())
			if idle := tp.p.opts.KeepaliveIdleTimeout; idle > 0 {
				tp.closeIdleConns(now.Add(-idle))
			}
		}
	}
}

// closeIdleConns closes the own client's connections idle since before
// cutoff (upstream_keepalive_idle_timeout).
func (tp *transportPool) closeIdleConns(cutoff time.Time) {
	tp.mu.Lock()
	sps := make([]*svcProxy, 0, len(tp.byKey))
	for _, sp := range tp.byKey {
		if sp.conns != nil {
			sps = append(sps, sp)
		}
	}
	tp.mu.Unlock()
	for _, sp := range sps {
		sp.conns.CloseIdle(cutoff)
	}
}

func (tp *transportPool) close() {
	tp.closed.Do(func() { close(tp.stop) })
	tp.sweep(int64(^uint64(0) >> 1))
}

func msDuration(ms int, def time.Duration) time.Duration {
	if ms <= 0 {
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

func (p *Proxy) newSvcProxy(snap *snapshot.Snapshot, s *model.Service, k transportKey) *svcProxy {
	connectTO := msDuration(s.ConnectTimeout, 60*time.Second)
	readTO := msDuration(s.ReadTimeout, 60*time.Second)
	writeTO := msDuration(s.WriteTimeout, 60*time.Second)
	dialer := &net.Dialer{Timeout: connectTO, KeepAlive: 60 * time.Second}
	rawDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				return nil, &errDNS{err: err}
			}
			return nil, err
		}
		return c, nil
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := rawDial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: c, read: readTO, write: writeTO}, nil
	}
	tr := &http.Transport{
		DialContext:           dial,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   p.opts.KeepalivePoolSize,
		IdleConnTimeout:       p.opts.KeepaliveIdleTimeout,
		ExpectContinueTimeout: 0,
		DisableCompression:    true,
		WriteBufferSize:       8 << 10,
		ReadBufferSize:        8 << 10,
	}
	secure := s.Protocol == "https" || s.Protocol == "grpcs"
	if secure {
		cfg := p.tlsConfig(snap, s)
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c := cfg.Clone()
			if st := stateFrom(ctx); st != nil && st.sni.Load() != nil && *st.sni.Load() != "" {
				c.ServerName = *st.sni.Load()
			} else if h, _, err := net.SplitHostPort(addr); err == nil {
				c.ServerName = h
			}
			if net.ParseIP(c.ServerName) != nil {
				c.ServerName = ""
			}
			tc := tls.Client(raw, c)
			hctx, cancel := context.WithTimeout(ctx, connectTO)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				raw.Close()
				return nil, err
			}
			return tc, nil
		}
	}
	var protos http.Protocols
	switch s.Protocol {
	case "grpc":
		protos.SetUnencryptedHTTP2(true)
	case "grpcs":
		protos.SetHTTP2(true)
		tr.TLSClientConfig = &tls.Config{NextProtos: []string{"h2"}}
	default:
		protos.SetHTTP1(true)
	}
	tr.Protocols = &protos

	sp := &svcProxy{key: k, transport: tr}
	if s.Protocol == "http" {
		idleTO := p.opts.KeepaliveIdleTimeout
		if idleTO < 0 {
			idleTO = math.MaxInt64 // Kong's 0: no idle timeout
		}
		sp.conns = upconn.New(upconn.Options{Dial: rawDial, ReadTimeout: readTO, WriteTimeout: writeTO,
			MaxIdle: p.opts.KeepalivePoolSize, IdleTimeout: idleTO,
			MaxRequests: max(p.opts.KeepaliveMaxRequests, 0)})
	}
	rt := &retryTransport{base: tr, p: p}
	mk := func(flush time.Duration) *httputil.ReverseProxy {
		return &httputil.ReverseProxy{
			Rewrite:        p.rewrite,
			Transport:      rt,
			FlushInterval:  flush,
			BufferPool:     p.buffers,
			ErrorHandler:   p.errorHandler,
			ModifyResponse: p.modifyResponse,
			ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		}
	}
	sp.streaming = mk(-1)
	if s.Protocol == "grpc" || s.Protocol == "grpcs" {
		sp.buffered = sp.streaming
	} else {
		sp.buffered = mk(0)
	}
	return sp
}

// tlsConfig builds the upstream TLS configuration of s: Kong does not verify
// upstream certificates unless tls_verify is true (nginx proxy_ssl_verify
// defaults to off).
func (p *Proxy) tlsConfig(snap *snapshot.Snapshot, s *model.Service) *tls.Config {
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	if s.Protocol == "grpcs" {
		cfg.NextProtos = []string{"h2"}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if s.TLSVerify != nil && *s.TLSVerify {
		cfg.InsecureSkipVerify = false
		if len(s.CACertificates) > 0 && snap != nil && snap.Config != nil {
			pool := x509.NewCertPool()
			for _, id := range s.CACertificates {
				for _, ca := range snap.Config.CACertificates {
					if ca.ID == id {
						pool.AppendCertsFromPEM([]byte(ca.Cert))
					}
				}
			}
			cfg.RootCAs = pool
		}
	}
	if s.ClientCertificate != nil && snap != nil && snap.Config != nil {
		for _, c := range snap.Config.Certificates {
			if c.ID == s.ClientCertificate.ID {
				if kp, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key)); err == nil {
					cfg.Certificates = []tls.Certificate{kp}
				} else {
					p.log.Error("service client certificate unusable", "service", s.ID, "certificate", c.ID, "error", err)
				}
			}
		}
	}
	return cfg
}

// deadlineConn applies proxy_read_timeout / proxy_send_timeout the way
// nginx does: as the longest wait for each read or write.
type deadlineConn struct {
	net.Conn
	read, write time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.read)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// retryTransport sends one request, retrying on the next peer after
// connection failures and timeouts (Kong's service.retries, nginx
// proxy_next_upstream "error timeout"), only while nothing was received and
// the request body can be sent again.
type retryTransport struct {
	base http.RoundTripper
	p    *Proxy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	if st == nil {
		return t.base.RoundTrip(req)
	}
	var body *attemptBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &attemptBody{src: req.Body}
		if st.replay != nil {
			body.src = st.replay.reader()
		}
		req.Body = body
	}
	for attempt := 0; ; attempt++ {
		st.target(req)
		if st.timed() {
			st.ps.addTry(req.URL.Host)
			st.lastBody = body
		}
		start := time.Now()
		res, err := t.base.RoundTrip(req)
		if err == nil {
			st.upstreamStart = start
			st.upstreamHeaders = time.Now()
			if st.timed() {
				st.ps.lastTry().Code = res.StatusCode
			}
			return res, nil
		}
		if body != nil {
			body.dead.Store(true)
		}
		st.attemptFailed(err, time.Since(start))
		if attempt >= st.svc.Retries || !t.canRetry(st, req, body, err) {
			return nil, err
		}
		if !st.nextPeer() {
			return nil, err
		}
		r2 := req.Clone(req.Context())
		if body != nil {
			src := body.src
			if st.replay != nil {
				src = st.replay.reader()
			}
			body = &attemptBody{src: src}
			r2.Body = body
		}
		req = r2
	}
}

func (t *retryTransport) canRetry(st *reqState, req *http.Request, body *attemptBody, err error) bool {
	if st.in.Context().Err() != nil {
		return false
	}
	var dnsErr *errDNS
	if errors.As(err, &dnsErr) {
		return false
	}
	if body != nil && st.replay == nil && body.n.Load() > 0 {
		return false // part of a streamed body is gone
	}
	if isConnectError(err) {
		return true
	}
	// The request may have reached the upstream: nginx retries only
	// idempotent methods then.
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// attemptBody is the request body of one attempt. It never closes the
// source (a later attempt may need it) and counts what the transport read.
type attemptBody struct {
	src  io.Reader
	n    atomic.Int64
	dead atomic.Bool
}

var errAttemptOver = errors.New("proxy: read from the body of a finished attempt")

func (b *attemptBody) Read(p []byte) (int, error) {
	if b.dead.Load() {
		return 0, errAttemptOver
	}
	n, err := b.src.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *attemptBody) Close() error { return nil }

// replayBody is a request body read in full before proxying so that it can
// be sent again on a retry (request_buffering=true, body up to the cap).
type replayBody struct{ b []byte }

func (r *replayBody) reader() io.Reader { return &byteReader{b: r.b} }

type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// hostWithPort renders a Host header: the port is added unless it is the
// scheme's default (Kong's set_host_header).
func hostWithPort(host string, port int, scheme string) string {
	if (port == 80 && (scheme == "http" || scheme == "grpc")) || (port == 443 && (scheme == "https" || scheme == "grpcs")) {
		return host
	}
	if strings.IndexByte(host, ':') >= 0 && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
