package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sluice/internal/upconn"
)

// ownPath reports whether the request is forwarded by forward (sluice's
// HTTP/1.1 client) rather than httputil.ReverseProxy: plain-HTTP services,
// HTTP/1.x clients, no protocol upgrade.
func ownPath(r *http.Request, se *svcEntry) bool {
	return se.sp.conns != nil && r.ProtoMajor == 1 && r.Header["Upgrade"] == nil && r.Method != http.MethodConnect
}

// forward sends st's request upstream over a pooled connection, with
// Kong's request headers, retries and timeouts, and streams the response
// back with Kong's response headers. It does what ReverseProxy with the
// rewrite, modifyResponse and errorHandler hooks and retryTransport do, on
// the calling goroutine and without building an outbound http.Request.
func (p *Proxy) forward(w http.ResponseWriter, st *reqState, se *svcEntry) {
	var c *upconn.Conn
	var res *upconn.Response
	var err error
	for attempt := 0; ; attempt++ {
		addr := st.targetAddr()
		if st.timed() {
			st.ps.addTry(addr)
		}
		start := time.Now()
		c, res, err = p.exchange(w, st, se.sp.conns, addr)
		if err == nil {
			st.upstreamStart = start
			st.upstreamHeaders = time.Now()
			if st.timed() {
				st.ps.lastTry().Code = res.Status
			}
			break
		}
		st.attemptFailed(err, time.Since(start))
		if attempt >= st.svc.Retries || !st.canRetry(err) || !st.nextPeer() {
			if cb := (*errClientBody)(nil); errors.As(err, &cb) && st.in.Context().Err() == nil {
				if bodyTooLarge(err) {
					p.nginxError(w, st.in, st, http.StatusRequestEntityTooLarge, msgTooLarge, false)
					return
				}
				// The client's body is broken (bad chunked encoding):
				// nginx answers 400, as when it buffers the body.
				p.nginxError(w, st.in, st, http.StatusBadRequest, msgBadRequest, false)
				return
			}
			p.upstreamError(w, st, err)
			return
		}
	}

	h := w.Header()
	copyResponseFields(h, res, st.rv[:])
	status, filter := p.upstreamHead(st, res.Status, h, !c.Done())
	flushEach := !st.route.ResponseBuffering || res.ContentLength < 0 || isEventStream(h)
	if _, ok := h["Content-Type"]; !ok {
		// Like nginx: no Content-Type from the upstream, none to the
		// client (net/http would sniff one from the first write).
		h["Content-Type"] = nil
	}
	w.WriteHeader(status)

	err = p.copyBody(w, st, c, filter, flushEach)
	if err == nil && len(res.Trailers) > 0 && (st.plug == nil || !st.plug.BodyDiscarded()) {
		// Force chunking so the trailers can follow (ReverseProxy does
		// the same).
		_ = http.NewResponseController(w).Flush()
		for _, f := range res.Trailers {
			h[http.TrailerPrefix+f.Name] = append(h[http.TrailerPrefix+f.Name], f.Value)
		}
	}
	c.Release()
	if err != nil {
		p.log.Debug("copying the upstream response", "request_id", st.rid, "error", err)
		// Like ReverseProxy: abort the client connection so that it sees
		// a truncated response, when running under an http.Server.
		if st.in.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// exchange runs one attempt on addr: it writes the request and reads the
// final response head (forwarding 1xx heads but 100 to the client). A
// reused connection the upstream had closed is replaced by a new one when
// the request can be sent again. The connection watches the client's
// context until it is released: a client that goes away ends the exchange.
func (p *Proxy) exchange(w http.ResponseWriter, st *reqState, pool *upconn.Pool, addr string) (*upconn.Conn, *upconn.Response, error) {
	ctx := st.in.Context()
	for try := 0; ; try++ {
		var c *upconn.Conn
		var err error
		if try < 2 {
			c, err = pool.Get(ctx, addr)
		} else {
			c, err = pool.Dial(ctx, addr)
		}
		if err != nil {
			return nil, nil, err
		}
		if c.Reused() && !st.resendable() && !c.Alive() {
			// A request that cannot go again checks the pooled
			// connection first (net/http's idle read loop and nginx's
			// cached-connection read event would have seen the close).
			c.Close()
			continue
		}
		c.Watch(ctx)
		res, err := p.roundTrip(w, st, c)
		if err == nil {
			return c, res, nil
		}
		c.Close()
		if !c.Reused() || c.Received() || !st.resendable() || !staleConnError(err) || ctx.Err() != nil {
			return nil, nil, err
		}
	}
}

// staleConnError tells the errors of a kept-alive connection the upstream
// closed meanwhile.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// resendable reports whether the request can go again on a new connection
// without the upstream seeing it twice: idempotent method, and a body that
// is buffered or was not read yet.
func (st *reqState) resendable() bool {
	switch st.in.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return st.replay != nil || st.bodyRead == 0
}

// canRetry is retryTransport.canRetry for the own path.
func (st *reqState) canRetry(err error) bool {
	if st.in.Context().Err() != nil {
		return false
	}
	var dnsErr *errDNS
	if errors.As(err, &dnsErr) {
		return false
	}
	if st.replay == nil && st.bodyRead > 0 {
		return false // part of a streamed body is gone
	}
	if isConnectError(err) {
		return true
	}
	switch st.in.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// roundTrip writes the request on c and reads the response head.
func (p *Proxy) roundTrip(w http.ResponseWriter, st *reqState, c *upconn.Conn) (*upconn.Response, error) {
	werr := p.writeRequest(st, c)
	var clientErr *errClientBody
	if errors.Is(werr, errBadHeaderName) || errors.Is(werr, errBadHeaderValue) || errors.As(werr, &clientErr) {
		return nil, werr // not the upstream's doing: nothing to read
	}
	if werr != nil && !isTimeout(werr) && (!c.Reused() || st.bodyRead > 0) {
		// The upstream may have answered before reading the whole body
		// (413 and the like): read its response if there is one.
		if res, err := c.ReadResponse(st.in.Method == http.MethodHead); err == nil && res.Status >= 200 {
			res.Close = true
			return res, nil
		}
		return nil, werr
	} else if werr != nil {
		return nil, werr
	}
	for {
		res, err := c.ReadResponse(st.in.Method == http.MethodHead)
		if err != nil {
			return nil, err
		}
		if res.Status >= 200 {
			return res, nil
		}
		if res.Status == http.StatusContinue || st.in.ProtoMinor == 0 {
			// The client had its own 100 from the server; an HTTP/1.0
			// client takes no 1xx (RFC 9110 15.2).
			continue
		}
		// Other 1xx (103 Early Hints): passed on like ReverseProxy does.
		h := w.Header()
		copyResponseFields(h, res, nil)
		w.WriteHeader(res.Status)
		clear(h)
	}
}

var (
	errBadHeaderValue = errors.New("proxy: request header value with a line break")
	errBadHeaderName  = errors.New("proxy: invalid request header name")
)

// tchar is RFC 9110's token character set (header names).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validFieldName reports whether k can be written as a header name (a
// plugin may have set any string).
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tchar[k[i]] {
			return false
		}
	}
	return true
}

// writeRequest writes the request head and body: the client's headers
// minus hop-by-hop ones, with Host and Kong's X-Forwarded-*, X-Real-IP,
// X-Kong-Request-Id and Via (what rewrite sets on the ReverseProxy path).
func (p *Proxy) writeRequest(st *reqState, c *upconn.Conn) error {
	r := st.in
	for i := 0; i < len(st.hostHdr); i++ {
		// A Host set by a plugin (set_header("host")) could carry a
		// line break into the head (net/http checks ValidHostHeader).
		if b := st.hostHdr[i]; b <= ' ' || b == 0x7f {
			return errBadHeaderValue
		}
	}
	bw := c.W()
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(st.upstreamPath)
	if r.URL.RawQuery != "" || st.forceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(st.hostHdr)
	bw.WriteString("\r\n")

	h := r.Header
	connection := h["Connection"]
	for k, vs := range h {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Te", "Trailer",
			"Transfer-Encoding", "Upgrade", "Proxy", "Content-Length", "Host", "Expect",
			"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port",
			"X-Forwarded-Path", "X-Forwarded-Prefix", "X-Real-Ip", "Via":
			continue
		case hdrRequestID:
			if p.ridUpstream {
				continue
			}
		}
		// Forwarded is kept even when listed (rewrite re-adds it).
		if len(connection) > 0 && k != "Forwarded" && listed(connection, k) {
			continue
		}
		if !validFieldName(k) {
			return errBadHeaderName
		}
		for _, v := range vs {
			if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 {
				return errBadHeaderValue
			}
			writeField(bw, k, v)
		}
	}
	if te := h["Te"]; len(te) > 0 && listedToken(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}

	bw.WriteString("X-Forwarded-For: ")
	if prior := h["X-Forwarded-For"]; len(prior) > 0 {
		writeJoined(bw, prior)
		bw.WriteString(", ")
		bw.WriteString(st.peerIP)
	} else {
		bw.WriteString(st.clientIP)
	}
	bw.WriteString("\r\n")
	writeField(bw, "X-Forwarded-Proto", st.fwdProto)
	writeField(bw, "X-Forwarded-Host", st.fwdHost)
	writeField(bw, "X-Forwarded-Port", st.fwdPort)
	writeField(bw, "X-Forwarded-Path", st.fwdPath)
	if st.fwdPrefix != "" {
		writeField(bw, "X-Forwarded-Prefix", st.fwdPrefix)
	}
	writeField(bw, "X-Real-Ip", st.clientIP)
	if p.ridUpstream {
		writeField(bw, hdrRequestID, st.rid)
	}
	bw.WriteString("Via: ")
	if prior := h["Via"]; len(prior) > 0 {
		writeJoined(bw, prior)
		bw.WriteString(", ")
	}
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		bw.WriteString(p.viaOutbound)
	default:
		bw.WriteString(protoVersion(r.ProtoMajor, r.ProtoMinor))
		bw.WriteByte(' ')
		bw.WriteString(p.serverHeader)
	}
	bw.WriteString("\r\n")

	// Body framing, as net/http's transport does it.
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	switch {
	case st.replay != nil:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(st.replay.b)))
		bw.WriteString("\r\n\r\n")
		bw.Write(st.replay.b)
	case hasBody && r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		if err := st.copyRequestBody(bw, r.ContentLength); err != nil {
			return err
		}
	case hasBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if err := st.copyChunkedBody(bw, p.buffers); err != nil {
			return err
		}
	default:
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
	}
	return c.Flush()
}

func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

func writeJoined(bw *bufio.Writer, vs []string) {
	for i, v := range vs {
		if i > 0 {
			bw.WriteString(", ")
		}
		bw.WriteString(v)
	}
}

// listed reports whether name is one of the Connection header's tokens.
func listed(connection []string, name string) bool {
	for _, v := range connection {
		if listed1(v, name) {
			return true
		}
	}
	return false
}

// listed1 reports whether name is one of the tokens of the list v.
func listed1(v, name string) bool {
	for len(v) > 0 {
		i := strings.IndexByte(v, ',')
		f := v
		if i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			v = ""
		}
		if strings.EqualFold(strings.TrimSpace(f), name) {
			return true
		}
	}
	return false
}

func listedToken(vs []string, token string) bool { return listed(vs, token) }

// errClientBody marks a failure to read the client's request body.
type errClientBody struct{ err error }

func (e *errClientBody) Error() string { return "reading the request body: " + e.err.Error() }
func (e *errClientBody) Unwrap() error { return e.err }

// copyRequestBody copies n bytes of the client's body into bw.
func (st *reqState) copyRequestBody(bw *bufio.Writer, n int64) error {
	body := st.in.Body
	for n > 0 {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()[:min(int64(bw.Available()), n)]
		m, err := body.Read(buf)
		if m > 0 {
			bw.Write(buf[:m])
			n -= int64(m)
			st.bodyRead += int64(m)
			if !st.route.RequestBuffering && n > 0 {
				// Streamed: the upstream sees each part as it comes.
				if err := bw.Flush(); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return &errClientBody{err: err}
		}
	}
	return nil
}

// copyChunkedBody copies a body of unknown length as chunks, then the
// request's trailers.
func (st *reqState) copyChunkedBody(bw *bufio.Writer, pool *bufferPool) error {
	buf := pool.Get()
	defer pool.Put(buf)
	body := st.in.Body
	var hex [16]byte
	for {
		m, err := body.Read(buf)
		if m > 0 {
			bw.Write(strconv.AppendInt(hex[:0], int64(m), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:m])
			bw.WriteString("\r\n")
			st.bodyRead += int64(m)
			// A body of unknown length is a stream: the upstream sees
			// each part as it comes.
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &errClientBody{err: err}
		}
	}
	bw.WriteString("0\r\n")
	for k, vs := range st.in.Trailer {
		for _, v := range vs {
			if strings.IndexByte(v, '\n') < 0 && strings.IndexByte(v, '\r') < 0 {
				writeField(bw, k, v)
			}
		}
	}
	bw.WriteString("\r\n")
	return nil
}

// copyResponseFields adds the response's fields to h, without hop-by-hop
// fields and those the Connection field lists, like ReverseProxy. One
// []string backs every single value: backing when it is large enough.
func copyResponseFields(h http.Header, res *upconn.Response, backing []string) {
	var connection []string
	for i, f := range res.Fields {
		if f.Name == "Connection" {
			connection = append(connection, res.Fields[i].Value)
		}
	}
	vals := backing
	if len(vals) < len(res.Fields) {
		vals = make([]string, len(res.Fields))
	}
	for i, f := range res.Fields {
		switch f.Name {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Transfer-Encoding", "Upgrade":
			continue
		case "Trailer":
			if !res.Chunked {
				continue
			}
		case "Content-Length":
			if res.Chunked {
				continue
			}
		}
		if len(connection) > 0 && listed(connection, f.Name) {
			continue
		}
		if old, ok := h[f.Name]; ok {
			h[f.Name] = append(old, f.Value)
			continue
		}
		vals[i] = f.Value
		h[f.Name] = vals[i : i+1 : i+1]
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	v := ct[0]
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.EqualFold(strings.TrimSpace(v), "text/event-stream")
}

// copyBody streams the response body to the client, through the body
// filter when filter is set, flushing after each write when flushEach.
func (p *Proxy) copyBody(w http.ResponseWriter, st *reqState, c *upconn.Conn, filter, flushEach bool) error {
	var fl http.Flusher
	if flushEach {
		fl, _ = w.(http.Flusher)
	}
	if filter {
		f := &filteredBody{src: io.NopCloser(c), c: st.plug, pool: p.buffers}
		defer f.release()
		return p.copyReader(w, f, fl)
	}
	var buf []byte
	defer func() {
		if buf != nil {
			p.buffers.Put(buf)
		}
	}()
	for {
		if b := c.Buffered(); len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				c.Close()
				return err
			}
			if fl != nil {
				fl.Flush()
			}
			continue
		}
		if c.Done() {
			return nil
		}
		if buf == nil {
			buf = p.buffers.Get()
		}
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				c.Close()
				return werr
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			c.Close()
			return err
		}
	}
}

func (p *Proxy) copyReader(w http.ResponseWriter, r io.Reader, fl http.Flusher) error {
	buf := p.buffers.Get()
	defer p.buffers.Put(buf)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
