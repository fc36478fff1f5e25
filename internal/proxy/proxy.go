package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/router"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// KongVersion is the Kong version sluice advertises (model.KongVersion).
const KongVersion = model.KongVersion

// Options are the proxy's settings, filled from kong.conf by cmd/sluice.
// The zero value gives Kong's defaults.
type Options struct {
	// KongVersion for Server and Via headers; KongVersion when empty.
	KongVersion string
	// Headers is kong.conf `headers`; nil means Kong's default
	// (server_tokens, latency_tokens, x-kong-request-id); ["off"] disables.
	Headers []string
	// HeadersUpstream is `headers_upstream`; nil means x-kong-request-id.
	HeadersUpstream []string
	// TrustedIPs is `trusted_ips`: CIDRs or addresses whose X-Forwarded-*
	// and real-IP headers are believed.
	TrustedIPs []string
	// RealIPHeader is `real_ip_header` (default X-Real-IP);
	// RealIPRecursive is `real_ip_recursive`.
	RealIPHeader    string
	RealIPRecursive bool
	// ErrorDefaultType is `error_default_type` (default text/plain), used
	// for upstream error bodies when the request has neither Accept nor
	// Content-Type.
	ErrorDefaultType string
	// Upstream keepalive: `upstream_keepalive_pool_size` (default 512),
	// `upstream_keepalive_max_requests` (default 1000; enforced for
	// plain-HTTP services, see the package comment) and
	// `upstream_keepalive_idle_timeout` (60 s). Zero means the default; a
	// negative value is Kong's 0: no keep-alive, no request limit, no idle
	// timeout respectively.
	KeepalivePoolSize    int
	KeepaliveMaxRequests int
	KeepaliveIdleTimeout time.Duration
	// AllowDebugHeader is `allow_debug_header`: a Kong-Debug request header
	// adds Kong-Route-Id/-Name and Kong-Service-Id/-Name to the response.
	AllowDebugHeader bool
	// PortMap is `port_maps`: listening port -> port announced in
	// X-Forwarded-Port and used for host:port route matching.
	PortMap map[int]int
	// MaxReplayBody is the largest request body (bytes, known length) read
	// in full before proxying on routes with request_buffering=true so that
	// it can be retried; larger bodies stream and are retried only when no
	// byte was sent. Default 64 KiB; negative disables buffering.
	MaxReplayBody int64
	// ClientMaxBodySize is `nginx_http_client_max_body_size` in bytes (0:
	// no limit): a request whose body is larger is answered 413, before
	// routing when its Content-Length says so, or when reading it reaches
	// the limit before anything was sent upstream.
	ClientMaxBodySize int64
	// Logger receives error logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Proxy is the data-plane handler. It is safe for concurrent use.
type Proxy struct {
	cur  *snapshot.Current
	opts Options
	log  *slog.Logger

	enabled      enabledHeaders
	realIPKey    string // canonical form of RealIPHeader
	ridUpstream  bool
	trusted      trustedSet
	serverHeader string // "kong/<version>"
	viaOutbound  string // "1.1 kong/<version>"
	viaGRPC      string // "2 kong/<version>"

	buffers *bufferPool
	pool    *transportPool
}

// New returns a proxy serving from cur. Invalid header or trusted_ips
// settings are reported through Check; New logs them and ignores the bad
// entries.
func New(cur *snapshot.Current, opts Options) *Proxy {
	p, err := build(cur, opts)
	if err != nil {
		p.log.Error("proxy settings", "error", err)
	}
	return p
}

// Check validates the settings New would use.
func Check(opts Options) error {
	_, err := build(nil, opts)
	return err
}

func build(cur *snapshot.Current, opts Options) (*Proxy, error) {
	if opts.KongVersion == "" {
		opts.KongVersion = KongVersion
	}
	if opts.RealIPHeader == "" {
		opts.RealIPHeader = "X-Real-IP"
	}
	if opts.ErrorDefaultType == "" {
		opts.ErrorDefaultType = "text/plain"
	}
	if opts.KeepalivePoolSize == 0 {
		opts.KeepalivePoolSize = 512
	}
	if opts.KeepaliveMaxRequests == 0 {
		opts.KeepaliveMaxRequests = 1000
	}
	if opts.KeepaliveIdleTimeout == 0 {
		opts.KeepaliveIdleTimeout = 60 * time.Second
	}
	if opts.MaxReplayBody == 0 {
		opts.MaxReplayBody = 64 << 10
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{cur: cur, opts: opts, log: log.With("component", "proxy"), buffers: newBufferPool()}
	p.serverHeader = "kong/" + opts.KongVersion
	p.realIPKey = http.CanonicalHeaderKey(opts.RealIPHeader)
	p.viaOutbound = "1.1 " + p.serverHeader
	p.viaGRPC = "2 " + p.serverHeader
	var errs []error
	var err error
	if p.enabled, err = parseHeaders(opts.Headers); err != nil {
		errs = append(errs, err)
		p.enabled, _ = parseHeaders(nil)
	}
	if p.ridUpstream, err = parseHeadersUpstream(opts.HeadersUpstream); err != nil {
		errs = append(errs, err)
		p.ridUpstream = true
	}
	if p.trusted, err = parseTrusted(opts.TrustedIPs); err != nil {
		errs = append(errs, err)
	}
	p.pool = newTransportPool(p)
	if cur != nil {
		every := time.Minute + time.Duration(rand.Int64N(int64(10*time.Second)))
		go p.pool.run(every, 5*time.Minute+max(opts.KeepaliveIdleTimeout, 0))
	}
	return p, errors.Join(errs...)
}

// Close stops the transport sweeper and closes idle upstream connections.
func (p *Proxy) Close() { p.pool.close() }

// Handler returns the handler for one listener: port is the local listening
// port (mapped through PortMap), tls whether the listener terminates TLS.
func (p *Proxy) Handler(port int, tls bool) http.Handler {
	if m, ok := p.opts.PortMap[port]; ok {
		port = m
	}
	return &listenerHandler{p: p, port: port, tls: tls}
}

type listenerHandler struct {
	p    *Proxy
	port int
	tls  bool
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.p.serve(w, r, h.port, h.tls || r.TLS != nil)
}

// ServeHTTP serves a request, taking the local port from the connection.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	port := 0
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		port = a.Port
	}
	if m, ok := p.opts.PortMap[port]; ok {
		port = m
	}
	p.serve(w, r, port, r.TLS != nil)
}

// reqState is everything one request needs across the ReverseProxy hooks.
// It is the request's context (so the hooks and the transport find it) and
// lives for one request.
type reqState struct {
	context.Context
	p     *Proxy
	in    *http.Request
	out   http.ResponseWriter // the client's, on the ReverseProxy path
	snap  *snapshot.Snapshot
	start time.Time

	route *model.Route
	svc   *model.Service
	match router.Match
	path  string // the request's normalized path

	rid       string
	scheme    string // "http" or "https" (client side)
	port      int
	peerIP    string // connecting peer (realip_remote_addr)
	clientIP  string // after real-IP processing (remote_addr)
	trusted   bool
	fwdProto  string
	fwdHost   string
	fwdPort   string
	fwdPath   string
	fwdPrefix string

	upstreamPath string
	forceQuery   bool

	// target
	upScheme  string // service protocol mapped to http/https
	balancer  *upstream.Balancer
	pc        upstream.PickContext
	peer      *upstream.Peer
	triedArr  [4]*upstream.Peer
	tried     []*upstream.Peer
	directDst string // host:port for services without an upstream
	hostHdr   string
	sni       atomic.Pointer[string] // TLS server name; read by dialling goroutines
	replay    *replayBody

	hv  [16]string // backing store for single-value header slices
	nhv int
	rv  [20]string // backing store of the upstream response's header values

	upstreamStart   time.Time
	upstreamHeaders time.Time
	status          int
	done            bool

	// plug is the plugin context, nil when no plugin applies to the route;
	// ps holds it with the log phase's measurements.
	plug *plugin.Ctx
	ps   *plugState
	// For the log phase (set only when ps is not nil): when the proxied
	// response headers were processed, the latency reported on a response
	// Kong produced, and the request body of the last attempt.
	headersDone time.Time
	kongLatency time.Duration
	lastBody    *attemptBody
	// bodyRead counts the request body bytes read on the own path.
	bodyRead int64
}

// one returns v as a one-element header value slice without allocating
// (backed by the state; capacity 1 so appends copy).
func (st *reqState) one(v string) []string {
	if st.nhv == len(st.hv) {
		return []string{v}
	}
	i := st.nhv
	st.nhv++
	st.hv[i] = v
	return st.hv[i : i+1 : i+1]
}

type stateKey struct{}

// Value returns the state itself for stateKey.
func (st *reqState) Value(k any) any {
	if k == (stateKey{}) {
		return st
	}
	return st.Context.Value(k)
}

func stateFrom(ctx context.Context) *reqState {
	if s, ok := ctx.(*reqState); ok {
		return s
	}
	s, _ := ctx.Value(stateKey{}).(*reqState)
	return s
}

const hexDigits = "0123456789abcdef"

func newRequestID() string {
	var b [32]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		b[i] = hexDigits[(a>>(4*i))&15]
		b[16+i] = hexDigits[(c>>(4*i))&15]
	}
	return string(b[:])
}

// rawPath is the request path as the client sent it (nginx $request_uri
// without the query).
func rawPath(r *http.Request) string {
	u := r.RequestURI
	if len(u) > 0 && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, port int, isTLS bool) {
	st := &reqState{Context: r.Context(), p: p, in: r, start: time.Now(), port: port, rid: newRequestID()}
	st.tried = st.triedArr[:0]
	st.scheme = "http"
	if isTLS {
		st.scheme = "https"
	}
	if p.cur != nil {
		st.snap = p.cur.Load()
	}
	if limit := p.opts.ClientMaxBodySize; limit > 0 && r.Body != nil && r.Body != http.NoBody {
		// nginx checks client_max_body_size before Kong routes the
		// request; a chunked body is counted as it is read.
		if r.ContentLength > limit {
			p.exitError(w, r, st, http.StatusRequestEntityTooLarge, msgTooLarge)
			return
		}
		if r.ContentLength < 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
	}
	raw := rawPath(r)
	norm := router.NormalizePath(raw)
	st.path = norm
	if st.snap == nil || st.snap.Router == nil {
		p.exitError(w, r, st, http.StatusNotFound, msgNoRoute)
		return
	}
	rr := router.Request{Method: r.Method, Host: r.Host, Path: norm, Header: r.Header, TLS: isTLS, Port: port}
	if r.TLS != nil {
		rr.SNI = r.TLS.ServerName
	}
	m, ok := st.snap.Router.Match(&rr)
	if !ok || m.Route == nil {
		p.exitError(w, r, st, http.StatusNotFound, msgNoRoute)
		return
	}
	st.match, st.route, st.svc = m, m.Route, m.Service
	if st.svc == nil && m.Route.Service != nil {
		st.svc = st.snap.Services[m.Route.Service.ID]
	}
	if st.svc != nil && !st.svc.Enabled {
		// Kong leaves routes of disabled services out of the router.
		p.exitError(w, r, st, http.StatusNotFound, msgNoRoute)
		return
	}
	if p.opts.AllowDebugHeader && r.Header["Kong-Debug"] != nil {
		h := w.Header()
		h.Set("Kong-Route-Id", st.route.ID)
		if st.route.Name != nil {
			h.Set("Kong-Route-Name", *st.route.Name)
		}
		if st.svc != nil {
			h.Set("Kong-Service-Id", st.svc.ID)
			if st.svc.Name != nil {
				h.Set("Kong-Service-Name", *st.svc.Name)
			}
		}
	}

	p.forwarded(st, r, raw)
	if p.protocolChecks(w, r, st) {
		return
	}
	// the upstream path is known before the plugins run (Kong's
	// ngx.var.upstream_uri in the access phase)
	st.upstreamPath = escapePath(m.UpstreamPath(norm))
	if ch := st.snap.Chains[st.route.ID]; ch != nil {
		ps := &plugState{}
		st.ps = ps
		if chainLogs(ch) {
			// Timing is for log-phase plugins only: without one, the
			// counting is skipped.
			ps.timed = true
			ps.reqHead = requestHeadSize(r)
			w = ps.sent.wrap(w, r)
		}
		defer p.logPhase(st)
		if p.runPlugins(w, r, st, ch) {
			return
		}
	}
	if st.svc == nil {
		p.exitError(w, r, st, http.StatusServiceUnavailable, msgNoService)
		return
	}
	svc := st.svc
	st.forceQuery = r.URL.RawQuery == "" && (r.URL.ForceQuery || strings.HasSuffix(r.RequestURI, "?"))
	switch svc.Protocol {
	case "https", "grpcs":
		st.upScheme = "https"
	default:
		st.upScheme = "http"
	}

	// Request body: like nginx with request buffering, read small bodies
	// before connecting so that retries can send them again.
	if st.route.RequestBuffering && svc.Retries > 0 && p.opts.MaxReplayBody > 0 &&
		r.ContentLength > 0 && r.ContentLength <= p.opts.MaxReplayBody {
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			if r.Context().Err() != nil {
				p.log.Debug("client closed the connection while sending the body", "request_id", st.rid)
				return
			}
			p.nginxError(w, r, st, http.StatusBadRequest, msgBadRequest, false)
			return
		}
		st.replay = &replayBody{b: buf}
	}

	// Target: an upstream entity named like service.host, else host:port.
	if b := st.snap.Balancers[svc.Host]; b != nil {
		st.balancer = b
		st.pc = upstream.PickContext{ClientIP: st.clientIP, Captures: m.Captures}
		var t0 time.Time
		if st.timed() {
			t0 = time.Now()
		}
		peer, err := b.Pick(r, &st.pc, nil)
		if st.timed() {
			st.ps.pickTime = time.Since(t0)
		}
		if err != nil || peer == nil {
			if err == nil || errors.Is(err, upstream.ErrNoPeer) {
				p.exitError(w, r, st, http.StatusServiceUnavailable, msgNoPeer)
			} else {
				p.log.Error("balancer failure", "request_id", st.rid, "upstream", svc.Host, "error", err)
				p.exitError(w, r, st, http.StatusInternalServerError, msgUnexpected)
			}
			return
		}
		st.peer = peer
		defer p.finish(st)
	}
	se := p.pool.get(st.snap, svc, st.start.UnixNano())
	if st.balancer == nil {
		st.directDst = se.dst
		if !st.route.PreserveHost {
			st.hostHdr = se.hostHdr
		}
	}
	if st.route.PreserveHost {
		st.hostHdr = r.Host
	}

	if ownPath(r, se) {
		p.forward(w, st, se)
		return
	}
	rp := se.sp.buffered
	if !st.route.ResponseBuffering {
		rp = se.sp.streaming
	}
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		w = no1xx{w}
	}
	st.out = w
	rp.ServeHTTP(w, r.WithContext(st))
}

// finish reports the outcome of the last attempt to the balancer.
func (p *Proxy) finish(st *reqState) {
	if st.balancer == nil || st.peer == nil || st.done {
		return
	}
	st.done = true
	res := upstream.Result{Status: st.status}
	if !st.upstreamHeaders.IsZero() {
		res.Latency = st.upstreamHeaders.Sub(st.upstreamStart)
	}
	st.balancer.Done(st.peer, res)
}

// forwarded computes the client address and X-Forwarded-* values (Kong's
// access phase, with trusted_ips and the realip module).
func (p *Proxy) forwarded(st *reqState, r *http.Request, raw string) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var peer netip.Addr
	st.peerIP = r.RemoteAddr
	if err == nil {
		peer = ap.Addr().Unmap()
		// The address part of RemoteAddr, without allocating.
		if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
			st.peerIP = strings.TrimSuffix(strings.TrimPrefix(r.RemoteAddr[:i], "["), "]")
		}
		if ap.Addr().Is4In6() {
			st.peerIP = peer.String()
		}
	}
	st.clientIP = st.peerIP
	if v := r.Header[p.realIPKey]; len(v) > 0 && v[0] != "" {
		if ip := p.trusted.realIP(peer, strings.Join(v, ", "), p.opts.RealIPRecursive); ip != "" {
			st.clientIP = ip
		}
	}
	st.trusted = p.trusted.contains(peer)
	host := hostOnly(r.Host)
	st.fwdProto, st.fwdHost, st.fwdPath = st.scheme, host, raw
	st.fwdPort = portString(st.port)
	if st.trusted {
		h := r.Header
		if v := h.Get("X-Forwarded-Proto"); v != "" {
			st.fwdProto = v
		}
		if v := h.Get("X-Forwarded-Host"); v != "" {
			st.fwdHost = v
		}
		if v := h.Get("X-Forwarded-Port"); v != "" {
			st.fwdPort = v
		}
		if v := h.Get("X-Forwarded-Path"); v != "" {
			st.fwdPath = v
		}
		st.fwdPrefix = h.Get("X-Forwarded-Prefix")
	}
	if st.fwdPrefix == "" && st.route.StripPath && st.match.Matched != "" && st.match.Matched != "/" {
		st.fwdPrefix = st.match.Matched
	}
}

// protocolChecks applies the route's protocol rules (https-only, gRPC).
// It reports whether a response was written.
func (p *Proxy) protocolChecks(w http.ResponseWriter, r *http.Request, st *reqState) bool {
	var hasHTTP, hasHTTPS, hasGRPC, hasGRPCS bool
	for _, proto := range st.route.Protocols {
		switch proto {
		case "http":
			hasHTTP = true
		case "https":
			hasHTTPS = true
		case "grpc":
			hasGRPC = true
		case "grpcs":
			hasGRPCS = true
		}
	}
	if hasHTTPS && !hasHTTP && st.fwdProto != "https" {
		code := st.route.HTTPSRedirectStatusCode
		switch code {
		case 301, 302, 307, 308:
			w.Header().Set("Location", "https://"+st.fwdHost+r.RequestURI)
			p.exit(w, st, code, nil, "")
			return true
		default:
			h := w.Header()
			h.Set("Connection", "Upgrade")
			h.Set("Upgrade", "TLS/1.2, HTTP/1.1")
			p.exitError(w, r, st, http.StatusUpgradeRequired, msgUseHTTPS)
			return true
		}
	}
	if hasGRPC || hasGRPCS {
		if strings.HasPrefix(r.Header.Get("Content-Type"), mimeGRPC) {
			if r.ProtoMajor != 2 {
				h := w.Header()
				h.Set("Connection", "Upgrade")
				h.Set("Upgrade", "HTTP/2")
				p.exitError(w, r, st, http.StatusUpgradeRequired, msgUseHTTP2)
				return true
			}
		} else {
			p.exitError(w, r, st, http.StatusUnsupportedMediaType, msgNonGRPC)
			return true
		}
		if !hasGRPC && st.fwdProto != "https" {
			h := w.Header()
			h.Set("Content-Type", mimeGRPC)
			h.Set("Grpc-Status", "1")
			h.Set("Grpc-Message", msgGRPCMatchedS)
			p.exit(w, st, http.StatusOK, nil, mimeGRPC)
			return true
		}
	}
	return false
}

// target points req at the current peer: URL host (the address dialled and
// the connection-pool key), Host header and TLS server name.
func (st *reqState) target(req *http.Request) {
	req.URL.Host = st.targetAddr()
	req.Host = st.hostHdr
	if st.upScheme == "https" {
		sni := hostOnly(st.hostHdr)
		st.sni.Store(&sni)
	}
}

// targetAddr returns the address of the current peer and sets the Host
// header for it.
func (st *reqState) targetAddr() string {
	addr := st.directDst
	if st.peer != nil {
		addr = st.peer.Addr
		if !st.route.PreserveHost {
			host := st.peer.Host // the upstream's host_header when set
			if host == "" {
				host, _, _ = net.SplitHostPort(st.peer.Addr)
			}
			st.hostHdr = hostWithPort(host, st.peer.Port, st.svc.Protocol)
		}
	}
	// A plugin's kong.service.request.set_header("host") wins over the
	// service, the upstream's host_header and preserve_host.
	if st.plug != nil {
		if h := st.plug.UpstreamHost(); h != "" {
			st.hostHdr = h
		}
	}
	return addr
}

// attemptFailed reports a failed attempt to the balancer.
func (st *reqState) attemptFailed(err error, d time.Duration) {
	if st.balancer == nil || st.peer == nil {
		return
	}
	to := isTimeout(err)
	st.balancer.Done(st.peer, upstream.Result{TCPFailure: !to, Timeout: to, Latency: d})
	st.tried = append(st.tried, st.peer)
	st.done = true
}

// nextPeer picks the peer for a retry. Services without an upstream retry
// the same host (DNS may answer another address).
func (st *reqState) nextPeer() bool {
	if st.balancer == nil {
		return true
	}
	var t0 time.Time
	if st.timed() {
		t0 = time.Now()
	}
	peer, err := st.balancer.Pick(st.in, &st.pc, st.tried)
	if st.timed() {
		st.ps.pickTime = time.Since(t0)
	}
	if err != nil || peer == nil {
		return false
	}
	st.peer, st.done = peer, false
	return true
}

// rewrite builds the outbound request (ReverseProxy.Rewrite).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st := stateFrom(pr.In.Context())
	in, out := pr.In, pr.Out
	u := out.URL
	u.Scheme = st.upScheme
	u.Host = st.directDst
	if len(st.upstreamPath) > 1 && st.upstreamPath[1] == '/' {
		u.Opaque = ""
		u.Path = st.upstreamPath
		u.RawPath = ""
	} else {
		u.Opaque = st.upstreamPath
		u.Path, u.RawPath = "", ""
	}
	u.RawQuery = in.URL.RawQuery
	u.ForceQuery = st.forceQuery
	u.Fragment, u.RawFragment = "", ""
	out.Host = st.hostHdr

	h := out.Header
	// Headers Kong passes that ReverseProxy treats as hop-by-hop or
	// forwarding headers.
	if v := in.Header["Proxy-Authorization"]; v != nil && !connectionListed(in.Header, "Proxy-Authorization") {
		h["Proxy-Authorization"] = v
	}
	if v := in.Header["Forwarded"]; v != nil {
		h["Forwarded"] = v
	}
	delete(h, "Proxy")
	// nginx does not pass Expect upstream (the server already answered
	// 100 Continue to the client); the own HTTP/1.1 path drops it too.
	delete(h, "Expect")

	if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
		h["X-Forwarded-For"] = st.one(strings.Join(prior, ", ") + ", " + st.peerIP)
	} else {
		h["X-Forwarded-For"] = st.one(st.clientIP)
	}
	h["X-Forwarded-Proto"] = st.one(st.fwdProto)
	h["X-Forwarded-Host"] = st.one(st.fwdHost)
	h["X-Forwarded-Port"] = st.one(st.fwdPort)
	h["X-Forwarded-Path"] = st.one(st.fwdPath)
	if st.fwdPrefix != "" {
		h["X-Forwarded-Prefix"] = st.one(st.fwdPrefix)
	} else {
		delete(h, "X-Forwarded-Prefix")
	}
	h["X-Real-Ip"] = st.one(st.clientIP)
	if p.ridUpstream {
		h[hdrRequestID] = st.one(st.rid)
	}
	var via string
	switch {
	case in.ProtoMajor == 1 && in.ProtoMinor == 1:
		via = p.viaOutbound
	case in.ProtoMajor == 2:
		via = p.viaGRPC
	default:
		via = protoVersion(in.ProtoMajor, in.ProtoMinor) + " " + p.serverHeader
	}
	if prior := in.Header["Via"]; len(prior) > 0 {
		via = strings.Join(prior, ", ") + ", " + via
	}
	h["Via"] = st.one(via)
}

func connectionListed(h http.Header, name string) bool {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// modifyResponse adds Kong's downstream headers to a proxied response.
func (p *Proxy) modifyResponse(res *http.Response) error {
	st := stateFrom(res.Request.Context())
	if st == nil {
		return nil
	}
	var filter bool
	res.StatusCode, filter = p.upstreamHead(st, res.StatusCode, res.Header, res.Body != nil && res.Body != http.NoBody)
	if _, ok := res.Header["Content-Type"]; !ok && st.out != nil {
		// Like nginx and the own HTTP/1.1 path: no Content-Type from the
		// upstream, none to the client (net/http would sniff one from the
		// first write; ReverseProxy copies only fields with values, so the
		// nil entry is set on the client's header map).
		st.out.Header()["Content-Type"] = nil
	}
	if filter {
		res.ContentLength = -1
		res.Body = &filteredBody{src: res.Body, c: st.plug, pool: p.buffers}
		// The transport fills res.Trailer as the body reaches EOF, before
		// the body filter's last call.
		st.plug.SetResponseTrailers(&res.Trailer)
	}
	return nil
}

// upstreamHead adds Kong's downstream headers to an upstream response head
// and runs the header filter. It returns the status to send and whether
// the body must go through the body filter (Content-Length is then
// removed: the size may change and the body goes out chunked).
func (p *Proxy) upstreamHead(st *reqState, status int, h http.Header, hasBody bool) (int, bool) {
	st.status = status
	if p.enabled.upstreamStatus {
		h[hdrUpstreamStatus] = st.one(strconv.Itoa(status))
	}
	if st.peer != nil && st.peer.SetCookie != nil {
		h.Add("Set-Cookie", st.peer.SetCookie.String())
	}
	p.proxiedHeaders(st, h)
	filter := false
	if st.plug != nil {
		status = p.headerFilter(st, status, h)
		if st.plug.HasBodyFilter() && hasBody {
			delete(h, "Content-Length")
			filter = true
		}
		if st.ps.timed {
			st.headersDone = time.Now()
		}
	}
	return status, filter
}

// proxiedHeaders sets the headers of a response that went through the
// upstream (or failed there): latencies, Via, Server when absent, request id.
func (p *Proxy) proxiedHeaders(st *reqState, h http.Header) {
	now := time.Now()
	if st.timed() && st.upstreamHeaders.IsZero() {
		st.kongLatency = now.Sub(st.start)
	}
	if p.enabled.upstreamLatency {
		var d time.Duration
		if !st.upstreamStart.IsZero() {
			end := st.upstreamHeaders
			if end.IsZero() {
				end = now
			}
			d = end.Sub(st.upstreamStart)
		}
		h[hdrUpstreamLatency] = st.one(msString(d))
	}
	if p.enabled.proxyLatency {
		var d time.Duration
		if !st.upstreamStart.IsZero() {
			d = st.upstreamStart.Sub(st.start)
		}
		h[hdrProxyLatency] = st.one(msString(d))
	}
	if p.enabled.via {
		via := p.viaOutbound
		if st.svc != nil && (st.svc.Protocol == "grpc" || st.svc.Protocol == "grpcs") {
			via = p.viaGRPC
		}
		if prior := h["Via"]; len(prior) > 0 {
			via = strings.Join(prior, ", ") + ", " + via
		}
		h["Via"] = st.one(via)
	}
	if p.enabled.server && len(h[hdrServer]) == 0 {
		h[hdrServer] = st.one(p.serverHeader)
	}
	if p.enabled.requestID {
		h[hdrRequestID] = st.one(st.rid)
	}
}

// generatedHeaders sets the headers of a response Kong produced itself.
func (p *Proxy) generatedHeaders(st *reqState, h http.Header) {
	if p.enabled.responseLatency || st.timed() {
		d := time.Since(st.start)
		st.kongLatency = d
		if p.enabled.responseLatency {
			h[hdrResponseLatency] = st.one(msString(d))
		}
	}
	if !p.enabled.via || h.Get("Via") != p.serverHeader {
		if p.enabled.server {
			h[hdrServer] = st.one(p.serverHeader)
		} else {
			delete(h, hdrServer)
		}
	}
	if p.enabled.requestID {
		h[hdrRequestID] = st.one(st.rid)
	}
}

// errorHandler answers a failed upstream exchange (ReverseProxy.ErrorHandler).
func (p *Proxy) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	st := stateFrom(req.Context())
	if st == nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	p.upstreamError(w, st, err)
}

// upstreamError answers a failed upstream exchange.
func (p *Proxy) upstreamError(w http.ResponseWriter, st *reqState, err error) {
	status, msg := errorStatus(st.in.Context(), err)
	if st.status == 0 {
		st.status = status
	}
	if status == statusClientClosed {
		p.log.Debug("client closed the connection", "request_id", st.rid, "error", err)
		return
	}
	if status == http.StatusServiceUnavailable {
		// Balancer-stage failures (DNS): Kong answers before proxying.
		p.log.Error("upstream unavailable", "request_id", st.rid, "service", st.svc.ID, "error", err)
		p.exitError(w, st.in, st, status, msg)
		return
	}
	p.log.Error("upstream error", "request_id", st.rid, "service", st.svc.ID, "status", status, "error", err)
	p.nginxError(w, st.in, st, status, msg, true)
}

// exitError is kong.response.error: the body format follows Accept
// (default JSON); gRPC requests get grpc-status / grpc-message instead.
func (p *Proxy) exitError(w http.ResponseWriter, r *http.Request, st *reqState, status int, msg string) {
	h := w.Header()
	if isGRPCRequest(r) {
		h.Set("Content-Type", mimeGRPC)
		gs := httpToGRPC(status)
		h.Set("Grpc-Status", strconv.Itoa(gs))
		if gs < len(grpcMessages) {
			h.Set("Grpc-Message", grpcMessages[gs])
		}
		p.exit(w, st, status, nil, mimeGRPC)
		return
	}
	mime := negotiate(strings.Join(r.Header["Accept"], ","))
	if mime == mimeGRPC {
		mime = mimeJSON
	}
	p.exit(w, st, status, errorBody(mime, msg, st.rid), mime)
}

// nginxError is kong/error_handlers.lua: the format follows Accept, then
// Content-Type, then error_default_type. proxied tells whether the request
// reached the proxying stage (Kong then sends the proxied-response headers).
func (p *Proxy) nginxError(w http.ResponseWriter, r *http.Request, st *reqState, status int, msg string, proxied bool) {
	accept := strings.Join(r.Header["Accept"], ",")
	if accept == "" {
		accept = r.Header.Get("Content-Type")
		if accept == "" {
			accept = p.opts.ErrorDefaultType
		}
	}
	h := w.Header()
	var body []byte
	var ctype string
	if strings.HasPrefix(accept, mimeGRPC) {
		if isGRPCRequest(r) {
			gs := httpToGRPC(status)
			h.Set("Grpc-Status", strconv.Itoa(gs))
			h.Set("Grpc-Message", msg)
		} else {
			body = []byte(`{"message":"` + msg + `"}`)
			ctype = mimeJSON
		}
	} else {
		ctype = negotiate(accept)
		if ctype == mimeGRPC {
			ctype = mimeJSON
		}
		body = errorBody(ctype, msg, st.rid)
	}
	if proxied {
		p.proxiedHeaders(st, h)
		if st.plug != nil {
			if ctype != "" {
				h.Set("Content-Type", ctype)
				ctype = ""
			}
			status = p.headerFilter(st, status, h)
			if st.plug.BodyDiscarded() {
				body = nil
			}
		}
		p.write(w, status, body, ctype)
		return
	}
	p.exit(w, st, status, body, ctype)
}

// exit writes a response Kong produced itself, with Kong's headers.
func (p *Proxy) exit(w http.ResponseWriter, st *reqState, status int, body []byte, ctype string) {
	p.generatedHeaders(st, w.Header())
	if st.plug != nil {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
			ctype = ""
		}
		status = p.headerFilter(st, status, w.Header())
		if st.plug.BodyDiscarded() {
			body = nil
		}
	}
	p.write(w, status, body, ctype)
}

func (p *Proxy) write(w http.ResponseWriter, status int, body []byte, ctype string) {
	h := w.Header()
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if len(body) > 0 {
		if _, err := w.Write(body); err != nil {
			p.log.Debug("writing response", "error", err)
		}
	}
}

// String describes the proxy for logs.
func (p *Proxy) String() string {
	return fmt.Sprintf("proxy(kong/%s)", p.opts.KongVersion)
}

// msStrings caches the renderings of small millisecond counts.
var msStrings = func() (t [1000]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// msString renders d in whole milliseconds.
func msString(d time.Duration) string {
	ms := d.Milliseconds()
	if ms >= 0 && ms < int64(len(msStrings)) {
		return msStrings[ms]
	}
	return strconv.FormatInt(ms, 10)
}

// portString renders a port; common proxy ports are cached.
func portString(p int) string {
	switch p {
	case 80:
		return "80"
	case 443:
		return "443"
	case 8000:
		return "8000"
	case 8443:
		return "8443"
	}
	return strconv.Itoa(p)
}

// no1xx keeps ReverseProxy from forwarding informational responses to an
// HTTP/1.0 client, which cannot tell them from the response (RFC 9110
// 15.2); the own HTTP/1.1 path does the same.
type no1xx struct{ http.ResponseWriter }

func (w no1xx) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (w no1xx) Unwrap() http.ResponseWriter { return w.ResponseWriter }
