package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/plugin"
)

// plugState is what a request with a plugin chain needs on top of reqState,
// allocated once per such request: the plugin context, the storage of its
// balancer tries and the byte counter of the response.
type plugState struct {
	c        plugin.Ctx
	tryArr   [4]plugin.Try
	sent     sentCounter
	reqHead  int64 // request line and headers as received
	pickTime time.Duration
	timed    bool // a log-phase plugin may read Timing: measure
}

// timed reports whether the request's Timing is measured.
func (st *reqState) timed() bool { return st.ps != nil && st.ps.timed }

// chainLogs reports whether a plugin of ch has a log phase (a consumer-
// scoped instance counts as one: it is not looked at per request).
func chainLogs(ch *plugin.Chain) bool {
	for _, e := range ch.Entries() {
		if e.Consumer != nil {
			return true
		}
		if e.Base != nil {
			if _, ok := e.Base.Impl.(plugin.Logger); ok {
				return true
			}
		}
	}
	return false
}

// addTry records an attempt on addr (host:port) before it is sent.
func (ps *plugState) addTry(addr string) {
	host, port := addr, 0
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = strings.TrimSuffix(strings.TrimPrefix(addr[:i], "["), "]")
		port, _ = strconv.Atoi(addr[i+1:])
	}
	if ps.c.Timing.Tries == nil {
		ps.c.Timing.Tries = ps.tryArr[:0]
	}
	ps.c.Timing.Tries = append(ps.c.Timing.Tries, plugin.Try{IP: host, Port: port, Balancer: ps.pickTime, Start: time.Now()})
	ps.pickTime = 0
}

// lastTry returns the current attempt, nil when none was recorded.
func (ps *plugState) lastTry() *plugin.Try {
	if n := len(ps.c.Timing.Tries); n > 0 {
		return &ps.c.Timing.Tries[n-1]
	}
	return nil
}

// requestHeadSize is the size of the request line and header block as an
// HTTP/1.x client sent them (nginx's $request_length without the body),
// rebuilt from the parsed request: "Name: value" lines, the Host header
// net/http moves to r.Host and the Transfer-Encoding it removes. Whitespace
// the client put around values is not known; it is counted as one space.
func requestHeadSize(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	for _, te := range r.TransferEncoding {
		n += len("Transfer-Encoding: ") + len(te) + 2
	}
	return int64(n + 2)
}

// fillTiming sets the request's Timing before the log phase.
func (st *reqState) fillTiming(ps *plugState, now time.Time) {
	t := &ps.c.Timing
	t.Start = st.start
	t.Request = now.Sub(st.start)
	if !st.upstreamHeaders.IsZero() {
		t.Upstream = st.upstreamHeaders.Sub(st.upstreamStart)
		t.Kong = st.upstreamStart.Sub(st.start)
		if !st.headersDone.IsZero() {
			t.Kong += st.headersDone.Sub(st.upstreamHeaders)
		}
	} else {
		t.Upstream = -1
		t.Kong = st.kongLatency
		if t.Kong == 0 {
			t.Kong = t.Request
		}
	}
	body := int64(0)
	switch {
	case st.replay != nil:
		body = int64(len(st.replay.b))
	case st.lastBody != nil:
		body = st.lastBody.n.Load()
	default:
		body = st.bodyRead
	}
	t.RequestSize = ps.reqHead + body
	t.ResponseSize = ps.sent.total()
	if st.svc != nil && !st.upstreamStart.IsZero() || len(t.Tries) > 0 {
		t.UpstreamURI = st.upstreamURI()
	}
}

// upstreamURI is the path and query sent upstream.
func (st *reqState) upstreamURI() string {
	q := st.in.URL.RawQuery
	if q == "" && !st.forceQuery {
		return st.upstreamPath
	}
	return st.upstreamPath + "?" + q
}

// bufferBeforeChunking is net/http's response buffer (bufferBeforeChunkingSize):
// the body written before it fills, or before a flush, is what net/http
// sees when it decides on Content-Length versus chunked.
const bufferBeforeChunking = 2048

// sentCounter wraps the client's ResponseWriter on requests with a plugin
// chain and counts the bytes net/http's HTTP/1.x server writes for the
// response (nginx's $bytes_sent): status lines, the header block with the
// headers net/http adds (Date, Content-Length, Content-Type, Transfer-
// Encoding, Connection), and the body with its chunked framing. It follows
// net/http's own decisions (see chunkWriter.writeHeader in net/http), so the
// count matches what a client receives for the responses the proxy writes.
// Bytes written after a connection hijack (Upgrade) are not counted; HTTP/2
// responses count headers and body without framing.
type sentCounter struct {
	http.ResponseWriter
	req *http.Request

	status    int
	head      int64 // status lines and header bytes
	body      int64 // body bytes with chunk framing
	buffered  int   // bytes in net/http's response buffer
	wrote     bool  // a final status was set
	committed bool  // the header block is decided
	chunking  bool
	h2        bool

	hasCL, hasTE, hasDate, hasCT, hasCE, trailers bool
	te                                            string
	clLine, teLine, ctLine, connLine              int
	connClose, upgrade                            bool
	sniffed                                       string
	trailerKeys                                   []string
}

func (s *sentCounter) wrap(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	s.ResponseWriter, s.req, s.h2 = w, r, r.ProtoMajor >= 2
	return s
}

// Unwrap lets http.ResponseController reach the server's writer (hijack,
// deadlines, full duplex).
func (s *sentCounter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func statusLineSize(code int) int {
	if text := http.StatusText(code); text != "" {
		return len("HTTP/1.1 ") + 3 + 1 + len(text) + 2
	}
	return len("HTTP/1.1 ") + 3 + len(" status code ") + len(strconv.Itoa(code)) + 2
}

func headerLine(k, v string) int { return len(k) + 2 + len(strings.TrimSpace(v)) + 2 }

func (s *sentCounter) WriteHeader(code int) {
	if s.wrote {
		s.ResponseWriter.WriteHeader(code)
		return
	}
	h := s.Header()
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		n := statusLineSize(code) + 2
		for k, vs := range h {
			if k == "Content-Length" || k == "Transfer-Encoding" {
				continue
			}
			for _, v := range vs {
				n += headerLine(k, v)
			}
		}
		s.head += int64(n)
		s.ResponseWriter.WriteHeader(code)
		return
	}
	s.wrote, s.status = true, code
	n := statusLineSize(code)
	for k, vs := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			s.trailers = true
			continue
		}
		size := 0
		for _, v := range vs {
			size += headerLine(k, v)
		}
		n += size
		switch k {
		case "Content-Length":
			if v, err := strconv.ParseInt(h.Get(k), 10, 64); err == nil && v >= 0 {
				s.hasCL, s.clLine = true, size
			} else {
				n -= size // net/http drops an invalid one
			}
		case "Transfer-Encoding":
			s.te = h.Get(k)
			s.hasTE, s.teLine = s.te != "", size
		case "Date":
			s.hasDate = true
		case "Content-Type":
			s.hasCT, s.ctLine = true, size
		case "Content-Encoding":
			s.hasCE = h.Get(k) != ""
		case "Connection":
			s.connLine = size
			s.connClose = hasToken(h.Get(k), "close")
		case "Upgrade":
			s.upgrade = true
		case "Trailer":
			s.trailers = true
			for _, v := range vs {
				for f := range strings.SplitSeq(v, ",") {
					if f = strings.TrimSpace(f); f != "" {
						s.trailerKeys = append(s.trailerKeys, http.CanonicalHeaderKey(f))
					}
				}
			}
		}
	}
	s.head += int64(n)
	s.ResponseWriter.WriteHeader(code)
}

func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199) && code != http.StatusNoContent && code != http.StatusNotModified
}

func (s *sentCounter) Write(p []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(p)
	if n == 0 || !bodyAllowed(s.status) {
		return n, err
	}
	if !s.committed && s.buffered == 0 && !s.hasCT && s.sniffed == "" {
		s.sniffed = http.DetectContentType(p[:n])
	}
	if s.h2 {
		s.body += int64(n)
		return n, err
	}
	// net/http's bufio.Writer in front of its chunk writer.
	m := n
	for m > bufferBeforeChunking-s.buffered {
		if s.buffered == 0 {
			s.chunk(m, false)
			m = 0
			break
		}
		m -= bufferBeforeChunking - s.buffered
		s.buffered = bufferBeforeChunking
		s.flushBuffer(false)
	}
	s.buffered += m
	return n, err
}

func (s *sentCounter) flushBuffer(done bool) {
	if s.buffered > 0 {
		s.chunk(s.buffered, done)
		s.buffered = 0
	}
}

// chunk is one write of n body bytes by net/http's chunk writer.
func (s *sentCounter) chunk(n int, done bool) {
	if !s.committed {
		s.commit(n, done)
	}
	if s.req.Method == http.MethodHead {
		return
	}
	s.body += int64(n)
	if s.chunking {
		s.body += int64(len(strconv.FormatInt(int64(n), 16)) + 4)
	}
}

// commit decides the header block the way net/http's
// chunkWriter.writeHeader does; first is the size of the first body write,
// done whether the handler had returned.
func (s *sentCounter) commit(first int, done bool) {
	s.committed = true
	head := 0
	isHEAD := s.req.Method == http.MethodHead
	allowed := bodyAllowed(s.status)
	if done && !s.trailers && !s.hasTE && allowed && !s.hasCL && (!isHEAD || first > 0) {
		s.hasCL = true
		s.clLine = len("Content-Length: ") + len(strconv.Itoa(first)) + 2
		head += s.clLine
	}
	closeAfter := false
	keepAlive10 := s.req.ProtoMajor == 1 && s.req.ProtoMinor == 0 && hasToken(s.req.Header.Get("Connection"), "keep-alive")
	switch {
	case keepAlive10 && (isHEAD || s.hasCL || !allowed):
		if s.connLine == 0 {
			head += len("Connection: keep-alive\r\n")
		}
	case !s.req.ProtoAtLeast(1, 1) || s.req.Close:
		closeAfter = true
	}
	if s.connClose {
		closeAfter = true
	}
	if allowed {
		if !s.hasCE && !s.hasCT && !s.hasTE && first > 0 {
			head += len("Content-Type: ") + len(s.sniffed) + 2
		}
	} else {
		if s.status == http.StatusNotModified {
			head -= s.ctLine
		}
		head -= s.clLine + s.teLine
		s.clLine, s.teLine = 0, 0
	}
	if !s.hasDate {
		head += len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	}
	if s.hasCL && s.hasTE && s.te != "identity" {
		head -= s.clLine
		s.hasCL, s.clLine = false, 0
	}
	switch {
	case isHEAD || !allowed:
		head -= s.teLine
	case s.hasCL:
		head -= s.teLine
	case s.req.ProtoAtLeast(1, 1):
		if s.hasTE && s.te == "identity" {
			closeAfter = true
			head -= s.teLine
		} else {
			s.chunking = true
			head += len("Transfer-Encoding: chunked\r\n")
			if s.hasTE && s.te == "chunked" {
				head -= s.teLine
			}
		}
	default:
		closeAfter = true
		head -= s.teLine
	}
	if s.chunking {
		head -= s.clLine
	}
	if closeAfter && !s.connClose && !(s.status == http.StatusSwitchingProtocols && s.upgrade) {
		head -= s.connLine
		if s.req.ProtoAtLeast(1, 1) {
			head += len("Connection: close\r\n")
		}
	}
	s.head += int64(head + 2)
}

// FlushError flushes like net/http's response (buffer, then headers).
func (s *sentCounter) FlushError() error {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	if !s.h2 {
		s.flushBuffer(false)
		if !s.committed {
			s.commit(0, false)
		}
	}
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (s *sentCounter) Flush() { _ = s.FlushError() }

// total returns the bytes the response will have sent once net/http
// finishes it (its finishRequest: last buffer flush, final chunk and
// trailers).
func (s *sentCounter) total() int64 {
	if !s.wrote {
		return s.head
	}
	if s.h2 {
		return s.head + 2 + s.body
	}
	s.flushBuffer(true)
	if !s.committed {
		s.commit(0, true)
	}
	if s.chunking {
		s.body += int64(len("0\r\n\r\n"))
		h := s.Header()
		for k, vs := range h {
			if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vs {
					s.body += int64(headerLine(kk, v))
				}
			}
		}
		for _, k := range s.trailerKeys {
			for _, v := range h[k] {
				s.body += int64(headerLine(k, v))
			}
		}
	}
	return s.head + s.body
}
