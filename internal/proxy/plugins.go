package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"sluice/internal/plugin"
)

// runPlugins runs the rewrite and access phases of the route's chain. It
// reports whether a plugin produced the response (which is then written).
// Plugins change the incoming request in place (headers, query); the
// outbound request is built from it afterwards.
func (p *Proxy) runPlugins(w http.ResponseWriter, r *http.Request, st *reqState, ch *plugin.Chain) bool {
	c := &st.ps.c
	c.Request, c.Route, c.Service, c.ClientIP, c.Captures = r, st.route, st.svc, st.clientIP, st.match.Captures
	c.RequestID, c.UpstreamPath, c.TrustedClient, c.Path = st.rid, st.upstreamPath, st.trusted, st.path
	c.Timing.Kong, c.Timing.Upstream, c.Timing.Request = -1, -1, -1
	st.plug = c
	if st.clientIP != st.peerIP {
		// Plugins that read RemoteAddr see the real client address.
		_, port, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			port = "0"
		}
		r.RemoteAddr = net.JoinHostPort(st.clientIP, port)
	}
	ch.Rewrite(c)
	if c.Exited() == nil {
		ch.Access(c)
	}
	// a plugin may have set the upstream path (Kong's ngx.var.upstream_uri)
	if c.UpstreamPath != st.upstreamPath {
		st.upstreamPath = pluginPath(c.UpstreamPath)
	}
	e := c.Exited()
	if e == nil {
		return false
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	if e.Stream != nil {
		p.exitStream(w, r, st, e.Status, e.Stream)
		return true
	}
	if e.Body == nil && e.Message != "" {
		p.exitError(w, r, st, e.Status, e.Message)
		return true
	}
	p.exit(w, st, e.Status, e.Body, "")
	return true
}

// headerFilter runs the header_filter phase on a response about to be sent
// (proxied or produced by Kong) and returns the status to send.
func (p *Proxy) headerFilter(st *reqState, status int, h http.Header) int {
	c := st.plug
	if c.Header != nil {
		return status // already ran for this request
	}
	c.BeginResponse(status, h)
	c.HeaderFilter()
	st.status = c.Status
	return c.Status
}

// logPhase runs the log phase after the response was written. Log-phase
// work that does I/O must hand off to bounded queues; it runs on the
// request's goroutine.
func (p *Proxy) logPhase(st *reqState) {
	c := st.plug
	if c == nil {
		return
	}
	if c.Header != nil {
		c.Status = st.status
	}
	if st.ps.timed {
		st.fillTiming(st.ps, time.Now())
	}
	c.Log()
}

// filteredBody runs the body_filter phase on an upstream response body as
// it is read: each chunk read from the upstream goes through the plugins,
// the last call has last=true (with the final bytes or none).
type filteredBody struct {
	src  io.ReadCloser
	c    *plugin.Ctx
	pool *bufferPool // source of buf when set; release returns it
	buf  []byte
	out  []byte
	done bool
}

// release returns the read buffer to the pool.
func (f *filteredBody) release() {
	if f.pool != nil && f.buf != nil {
		f.pool.Put(f.buf)
		f.buf = nil
	}
}

func (f *filteredBody) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.done {
			return 0, io.EOF
		}
		if f.buf == nil {
			if f.pool != nil {
				f.buf = f.pool.Get()
			} else {
				f.buf = make([]byte, 32<<10)
			}
		}
		n, err := f.src.Read(f.buf)
		last := errors.Is(err, io.EOF)
		if err != nil && !last {
			return 0, err
		}
		if n > 0 || last {
			f.out = f.c.BodyFilter(f.buf[:n], last)
		}
		f.done = last
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *filteredBody) Close() error {
	err := f.src.Close()
	f.release()
	return err
}

// pluginPath makes a path a plugin set fit the request line: bytes Kong's
// uri.escape would encode (controls, blanks, non-ASCII) are encoded, and
// it starts with "/".
func pluginPath(p string) string {
	p = escapePath(p)
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}

// exitStream sends a plugin's streamed answer: headers (after the
// header_filter phase), then each chunk the stream gives, flushed as it
// comes; the stream is closed at the end.
func (p *Proxy) exitStream(w http.ResponseWriter, r *http.Request, st *reqState, status int, body io.ReadCloser) {
	defer body.Close()
	p.generatedHeaders(st, w.Header())
	discard := false
	if st.plug != nil {
		status = p.headerFilter(st, status, w.Header())
		discard = st.plug.BodyDiscarded()
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	if discard || r.Method == http.MethodHead {
		return // no body to send: stop the stream (Close) at once
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	buf := make([]byte, 16<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				p.log.Debug("writing a streamed answer", "error", werr)
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}
