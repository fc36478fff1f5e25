package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
)

// Edge cases of the own HTTP/1.1 client (package upconn) as the proxy uses
// it, against upstreams that write exact bytes. The reference is what the
// ReverseProxy path did (net/http's Transport), which the proxy still uses
// for HTTP/2 clients: TestUpconnMatchesReverseProxy sends every case
// through both paths and compares what the client gets.

// rawUp is an upstream that runs handle on each connection and counts
// accepted and open connections.
type rawUp struct {
	ln       net.Listener
	accepted atomic.Int32
	open     atomic.Int32
	mu       sync.Mutex
	seen     []seenReq // requests read by serveRequests
}

type seenReq struct {
	conn int32
	uri  string
	req  *http.Request
	body []byte
}

func newRawUp(t testing.TB, handle func(u *rawUp, id int32, c net.Conn, br *bufio.Reader)) *rawUp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUp{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id := u.accepted.Add(1)
			u.open.Add(1)
			go func() {
				defer u.open.Add(-1)
				defer c.Close()
				handle(u, id, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return u
}

func (u *rawUp) url() string { return "http://" + u.ln.Addr().String() }

// record reads one request with its body and records it.
func (u *rawUp) record(id int32, br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.seen = append(u.seen, seenReq{conn: id, uri: req.RequestURI, req: req, body: b})
	u.mu.Unlock()
	return req, nil
}

func (u *rawUp) last() seenReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return seenReq{}
	}
	return u.seen[len(u.seen)-1]
}

// eventually polls cond for up to 5 s (a bound for slow machines, not a
// timing assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("still not true after 5 s: %s", what)
}

// rawCases are upstream responses keyed by request path. A response
// ending in "\x00close" is followed by the upstream closing the
// connection (the marker is not sent).
var rawCases = map[string]string{
	"/cl":       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: a\r\nX-Multi: b\r\nContent-Length: 5\r\n\r\nhello",
	"/chunked":  "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 42\r\nX-Late: undeclared\r\n\r\n",
	"/chunked0": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"/eof":      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread to the end\x00close",
	"/h10":      "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	"/h10ka":    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
	"/h10eof":   "HTTP/1.0 200 OK\r\n\r\nold style\x00close",
	"/h10te":    "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\x00close",
	"/204":      "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
	"/304":      "HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\nContent-Length: 10\r\n\r\n",
	"/head":     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n",
	"/headte":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"/tecl":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"/dupcl":    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"/badcl":    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	"/listcl":   "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
	"/signcl":   "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
	"/emptycl":  "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nabc",
	"/gzipte":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"/twote":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"/status":   "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
	"/proto":    "HTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"/h2status": "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	"/noreason": "HTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok",
	"/badname":  "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
	"/nocolon":  "HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
	"/early":    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/cont":     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/101":      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"/close":    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
	"/hop": "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\nTe: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n" +
		"X-Public: p\r\nContent-Length: 2\r\n\r\nok",
	"/empty-val": "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces:   v   \r\nContent-Length: 0\r\n\r\n",
	"/lf":        "HTTP/1.1 200 OK\nContent-Length: 2\nX-Lf: 1\n\nok",
	"/short":     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello\x00close",
	"/badchunk":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n\x00close",
	"/cutchunk":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\x00close",
	"/empty":     "\x00close",
	"/halfhead":  "HTTP/1.1 200 OK\r\nContent-Le\x00close",
}

func init() {
	// A long field line (past the 8 KiB read buffer, under the 64 KiB cap)
	// and a 1 MiB chunked body in chunks of every size from 1 to ~9 KiB.
	rawCases["/longhead"] = "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("0123456789", 2000) + "\r\nContent-Length: 2\r\n\r\nok"
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	n := 0
	for size := 1; n < 1<<20; size = (size*7 + 13) % 9000 {
		if size == 0 {
			size = 1
		}
		fmt.Fprintf(&b, "%x\r\n", size)
		for i := 0; i < size; i++ {
			b.WriteByte(byte('a' + (n+i)%26))
		}
		b.WriteString("\r\n")
		n += size
	}
	b.WriteString("0\r\n\r\n")
	rawCases["/bigchunked"] = b.String()
	bigChunkedLen = n
}

var bigChunkedLen int

// serveRaw answers each request with rawCases[path] and reports the
// connection it came on.
func serveRaw(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
	for {
		req, err := u.record(id, br)
		if err != nil {
			return
		}
		raw, ok := rawCases[req.URL.Path]
		if !ok {
			raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		}
		raw, closing := strings.CutSuffix(raw, "\x00close")
		if req.URL.Path == "/fold" {
			raw = "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok"
		}
		if req.URL.Path == "/bighead" {
			raw = "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("v", 70<<10) + "\r\nContent-Length: 2\r\n\r\nok"
		}
		if _, err := io.WriteString(c, raw); err != nil || closing {
			return
		}
	}
}

// outcome is what a client got, reduced to what both paths must agree on.
type outcome struct {
	status  int
	header  http.Header
	body    string
	bodyErr bool
	trailer http.Header
	hints   []string // 1xx statuses seen
	// headLength is the Content-Length announced to a HEAD.
	headLength int64
}

func (o outcome) String() string {
	var keys []string
	for k := range o.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "status %d, 1xx %v, body %q (error %v), trailer %v, HEAD length %d, header:", o.status, o.hints, o.body, o.bodyErr, o.trailer, o.headLength)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, o.header[k])
	}
	return b.String()
}

// fetch sends method path with c and reduces the response.
func fetch(t *testing.T, c *http.Client, base, method, path string) outcome {
	t.Helper()
	var o outcome
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		o.hints = append(o.hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	res, err := c.Do(req)
	if err != nil {
		// Aborted before the head reached the client (a body error
		// with nothing flushed yet): as good as a truncated body.
		o.bodyErr = true
		return o
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	o.status, o.body, o.bodyErr, o.trailer = res.StatusCode, string(b), err != nil, res.Trailer
	if method == "HEAD" {
		o.headLength = res.ContentLength
	}
	if len(o.trailer) == 0 {
		o.trailer = nil
	}
	o.header = res.Header.Clone()
	for _, k := range []string{"Date", "X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency", "X-Kong-Response-Latency",
		"X-Kong-Request-Id", "Content-Length", "Connection", "Trailer"} {
		delete(o.header, k)
	}
	if len(o.body) > 1<<10 {
		o.body = fmt.Sprintf("%d bytes, sha256 %s", len(o.body), bodySum([]byte(o.body)))
	}
	if o.status >= 500 {
		o.body = "" // the request id differs
	}
	return o
}

// TestUpconnMatchesReverseProxy sends every raw case through the own
// client (HTTP/1.1 client) and through ReverseProxy (HTTP/2 client, same
// proxy and service) and compares status, headers, body and trailers.
func TestUpconnMatchesReverseProxy(t *testing.T) {
	u := newRawUp(t, serveRaw)
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	h2 := httptest.NewUnstartedServer(e.proxy)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	h2c := h2.Client()
	h2c.Timeout = 20 * time.Second
	h1c := &http.Client{Timeout: 20 * time.Second}

	// Where the own client answers differently from net/http on purpose.
	deviations := map[string]string{
		// nginx rejects obs-fold in an upstream response ("upstream sent
		// invalid header", 502); net/http unfolds it. RFC 9112 5.2 allows
		// both for a proxy.
		"/fold": "502",
		// The own client caps a response head at 64 KiB (nginx: 502 over
		// proxy_buffer_size, 4-8 KiB by default); net/http at 10 MiB.
		"/bighead": "502",
		// A space in a field name: nginx answers 502 (invalid header);
		// net/http drops the field.
		"/badname": "502",
		// A status line of another major version: net/http takes it.
		"/h2status": "502",
	}
	// Where ReverseProxy differs and the own client is the reference.
	rpArtifacts := map[string]string{
		// HTTP/2 to the client: the upstream's Content-Length: 10 is
		// forwarded on a 304 and the client reports a short body.
		"/304": "body error",
		// ReverseProxy forwards an unsolicited 100 Continue; the own
		// client drops every 100 (the server sends its own to a client
		// that asked), like nginx.
		"/cont": "100 forwarded",
	}
	paths := make([]string, 0, len(rawCases)+2)
	for p := range rawCases {
		paths = append(paths, p)
	}
	paths = append(paths, "/fold", "/bighead")
	sort.Strings(paths)
	for _, path := range paths {
		method := "GET"
		if strings.HasPrefix(path, "/head") {
			method = "HEAD"
		}
		own := fetch(t, h1c, e.front.URL, method, path)
		switch path {
		case "/early":
			if fmt.Sprint(own.hints) != "[103 </style.css>; rel=preload]" {
				t.Errorf("/early: 1xx seen %v; want the 103 with its Link", own.hints)
			}
		case "/head":
			if own.headLength != 1000 {
				t.Errorf("/head: Content-Length %d; want the upstream's 1000", own.headLength)
			}
		case "/chunked":
			if own.trailer.Get("X-Sum") != "42" || own.trailer.Get("X-Late") != "undeclared" {
				t.Errorf("/chunked: trailers %v", own.trailer)
			}
		case "/bigchunked", "/longhead":
			if own.status != 200 || own.bodyErr || (path == "/bigchunked" && !strings.HasPrefix(own.body, fmt.Sprintf("%d bytes", bigChunkedLen))) {
				t.Errorf("%s: %v", path, own)
			}
		case "/hop":
			for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Upgrade"} {
				if v, ok := own.header[k]; ok {
					t.Errorf("/hop: hop-by-hop %s: %q forwarded", k, v)
				}
			}
			if own.header.Get("X-Public") != "p" {
				t.Errorf("/hop: X-Public lost: %v", own.header)
			}
		}
		if dev, ok := deviations[path]; ok {
			if fmt.Sprint(own.status) != dev {
				t.Errorf("%s: own client %v; want %s", path, own, dev)
			}
			continue
		}
		if own.status < 500 && !strings.Contains(rawCases[path], "Content-Type") && own.header["Content-Type"] != nil {
			t.Errorf("%s: Content-Type %q sniffed; the upstream sent none", path, own.header["Content-Type"])
		}
		rp := fetch(t, h2c, h2.URL, method, path)
		if rp.status < 500 && !strings.Contains(rawCases[path], "Content-Type") && rp.header["Content-Type"] != nil {
			t.Errorf("%s: ReverseProxy path: Content-Type %q sniffed; the upstream sent none", path, rp.header["Content-Type"])
		}
		if _, ok := rpArtifacts[path]; ok {
			continue
		}
		if own.String() != rp.String() {
			t.Errorf("%s %s:\n own client    %v\n ReverseProxy  %v", method, path, own, rp)
		}
	}
}

// TestUpconnReuse checks after which responses the upstream connection is
// used again: never after a close-delimited body, Connection: close, an
// HTTP/1.0 response without keep-alive, an error, or a response followed
// by bytes nobody asked for (net/http closes on those: "Unsolicited
// response received on idle HTTP channel").
func TestUpconnReuse(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := u.record(id, br)
			if err != nil {
				return
			}
			var raw string
			switch req.URL.Path {
			case "/extra":
				// A second response nobody asked for, in the same write.
				raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
			case "/headbody":
				// A body sent to a HEAD request.
				raw = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
			case "/204body":
				raw = "HTTP/1.1 204 No Content\r\n\r\nevil"
			case "/next":
				raw = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
			default:
				raw = rawCases[req.URL.Path]
			}
			raw, closing := strings.CutSuffix(raw, "\x00close")
			if _, err := io.WriteString(c, raw); err != nil || closing {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	cases := []struct {
		path, method string
		reuse        bool
	}{
		{"/cl", "GET", true},
		{"/chunked", "GET", true},
		{"/chunked0", "GET", true},
		{"/204", "GET", true},
		{"/304", "GET", true},
		{"/head", "HEAD", true},
		{"/headte", "HEAD", true},
		{"/tecl", "GET", false},
		{"/dupcl", "GET", true},
		{"/early", "GET", true},
		{"/cont", "GET", true},
		{"/h10ka", "GET", true},
		{"/lf", "GET", true},
		{"/h10", "GET", false},
		{"/h10te", "GET", false},
		{"/eof", "GET", false},
		{"/close", "GET", false},
		{"/badcl", "GET", false},
		{"/badname", "GET", false},
		{"/short", "GET", false},
		{"/badchunk", "GET", false},
		{"/extra", "GET", false},
		{"/headbody", "HEAD", false},
		{"/204body", "GET", false},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, e.front.URL+tc.path, nil)
		if res, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		first := u.last()
		res, body := e.do(t, "GET", "/next", nil, nil)
		next := u.last()
		if res.StatusCode != 200 || body != "next" {
			t.Errorf("after %s: /next answered %d %q; want 200 \"next\"", tc.path, res.StatusCode, body)
		}
		if first.uri != tc.path || next.uri != "/next" {
			t.Fatalf("after %s: upstream saw %q then %q", tc.path, first.uri, next.uri)
		}
		if got := next.conn == first.conn; got != tc.reuse {
			t.Errorf("after %s: connection reused %v; want %v", tc.path, got, tc.reuse)
		}
	}
}

// TestUpconnStaleConnection: an upstream that closes each connection right
// after its response, without announcing it (Connection: close missing),
// leaves a dead connection in the pool. The next request, sent at once,
// must not fail, whatever its method (net/http's Transport sees the close
// on the idle connection and drops it; nginx drops a cached connection
// whose read event fired). No service retry is involved: retries 0.
func TestUpconnStaleConnection(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		if _, err := u.record(id, br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Let the proxy take the response first and pool the connection.
		time.Sleep(2 * time.Millisecond)
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	stream := routeTo(s, "/stream")
	stream.RequestBuffering, stream.StripPath = false, false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/"), stream}}, Options{})
	for i := 0; i < 10; i++ {
		for _, m := range []struct{ method, path, body string }{
			{"GET", "/get", ""},
			{"POST", "/post", "payload"},
			{"PATCH", "/patch", "payload"},
			{"POST", "/stream/post", "streamed payload"},
			{"DELETE", "/delete", ""},
		} {
			var body io.Reader
			if m.body != "" {
				body = strings.NewReader(m.body)
			}
			res, b := e.do(t, m.method, m.path, nil, body)
			if res.StatusCode != 200 || b != "ok" {
				t.Fatalf("%s %s (round %d): %d %q; want 200 ok", m.method, m.path, i, res.StatusCode, b)
			}
			if got := u.last(); got.uri != m.path || string(got.body) != m.body {
				t.Fatalf("%s %s: upstream saw %q with body %q", m.method, m.path, got.uri, got.body)
			}
			time.Sleep(5 * time.Millisecond) // the close reaches the proxy
		}
	}
}

// bodyEcho is an upstream answering with what it got of the request body:
// "<length> <sha256> <transfer-encoding> <trailer X-Trail>". An Expect
// field gets 417: nginx does not forward it (ngx_http_proxy_headers sets
// it empty), the proxy answers the client's expectation itself.
func bodyEcho(t testing.TB) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := r.Header["Expect"]; e != nil {
			http.Error(w, fmt.Sprintf("Expect forwarded: %q", e), http.StatusExpectationFailed)
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		fmt.Fprintf(w, "%d %s %v %q", n, hex.EncodeToString(h.Sum(nil))[:16], r.TransferEncoding, r.Trailer.Get("X-Trail"))
	}))
	t.Cleanup(up.Close)
	return up
}

func bodySum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// onlyReader hides the length of a body (the client sends it chunked).
type onlyReader struct{ io.Reader }

// TestUpconnRequestBodies: bodies with Content-Length and chunked, larger
// than every buffer, on buffered and streamed routes, and the client's
// request trailers.
func TestUpconnRequestBodies(t *testing.T) {
	up := bodyEcho(t)
	s := svcTo(t, up.URL)
	stream := routeTo(s, "/stream")
	stream.RequestBuffering, stream.StripPath = false, false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/"), stream}}, Options{})
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	small := big[:1000]
	for _, path := range []string{"/buf", "/stream/x"} {
		for _, body := range [][]byte{small, big} {
			res, got := e.do(t, "POST", path, nil, bytes.NewReader(body))
			if want := fmt.Sprintf("%d %s [] \"\"", len(body), bodySum(body)); res.StatusCode != 200 || got != want {
				t.Errorf("POST %s, %d bytes with Content-Length: %d %q; want %q", path, len(body), res.StatusCode, got, want)
			}
			req, _ := http.NewRequest("PUT", e.front.URL+path, onlyReader{bytes.NewReader(body)})
			req.Trailer = http.Header{"X-Trail": nil}
			pr, pw := io.Pipe()
			req.Body = pr
			go func() {
				_, _ = pw.Write(body)
				req.Trailer.Set("X-Trail", "t1")
				pw.Close()
			}()
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if want := fmt.Sprintf("%d %s [chunked] \"t1\"", len(body), bodySum(body)); res.StatusCode != 200 || string(b) != want {
				t.Errorf("PUT %s, %d bytes chunked: %d %q; want %q", path, len(body), res.StatusCode, b, want)
			}
		}
	}
	// GET and POST without a body: no framing, Content-Length: 0 (net/http's).
	res, got := e.do(t, "POST", "/buf", nil, nil)
	if res.StatusCode != 200 || got != "0 e3b0c44298fc1c14 [] \"\"" {
		t.Errorf("empty POST: %d %q", res.StatusCode, got)
	}
}

// TestUpconnExpectContinue: a client sending Expect: 100-continue gets
// the 100 and its body reaches the upstream, buffered or streamed.
func TestUpconnExpectContinue(t *testing.T) {
	up := bodyEcho(t)
	s := svcTo(t, up.URL)
	stream := routeTo(s, "/stream")
	stream.RequestBuffering, stream.StripPath = false, false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/"), stream}}, Options{})
	body := bytes.Repeat([]byte("0123456789"), 20000)
	for _, path := range []string{"/buf", "/stream/x"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", path, len(body))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("%s: first line %q (%v); want the 100 Continue", path, line, err)
		}
		if l, _ := br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("%s: after the 100: %q", path, l)
		}
		if _, err := c.Write(body); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		if want := fmt.Sprintf("%d %s [] \"\"", len(body), bodySum(body)); res.StatusCode != 200 || string(b) != want {
			t.Errorf("%s: %d %q; want %q", path, res.StatusCode, b, want)
		}
		c.Close()
	}
}

// TestUpconnClientBodyFailures: a client that disconnects in the middle of
// its body, or sends a broken chunked body, ends the upstream exchange at
// once (the connection is closed, not pooled, and nothing waits for the
// read timeout), and the proxy keeps serving.
func TestUpconnClientBodyFailures(t *testing.T) {
	got := make(chan string, 8)
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			n, err := io.Copy(io.Discard, req.Body)
			if err != nil {
				got <- fmt.Sprintf("%s: %d bytes, then %v", req.URL.Path, n, err)
				return
			}
			got <- fmt.Sprintf("%s: %d bytes", req.URL.Path, n)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	s.ReadTimeout, s.WriteTimeout = 60000, 60000
	r := routeTo(s, "/")
	r.RequestBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	front := strings.TrimPrefix(e.front.URL, "http://")

	// Disconnect after 100 KiB of a 1 MiB body.
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<20)
	_, _ = c.Write(make([]byte, 100<<10))
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case m := <-got:
		if !strings.HasPrefix(m, "/gone: ") || strings.HasSuffix(m, " bytes") {
			t.Errorf("upstream: %s; want the body cut short", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upstream still waiting for the body of a client that left")
	}

	// A broken chunked body, the client waiting for an answer.
	c, err = net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /broken HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("broken chunked body: %v (no answer)", err)
	}
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 400 || !strings.Contains(string(b), "Bad request") {
		t.Errorf("broken chunked body: %d %q; want Kong's 400 Bad request", res.StatusCode, b)
	}
	select {
	case m := <-got:
		if !strings.HasPrefix(m, "/broken: ") || strings.HasSuffix(m, " bytes") {
			t.Errorf("upstream: %s; want the body cut short", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upstream connection left open after a broken client body")
	}

	if res, b := e.do(t, "POST", "/after", nil, strings.NewReader("x")); res.StatusCode != 200 || b != "ok" {
		t.Errorf("next request: %d %q", res.StatusCode, b)
	}
	if m := <-got; m != "/after: 1 bytes" {
		t.Errorf("upstream: %s", m)
	}
}

// TestUpconnTimeouts: read_timeout and write_timeout answer Kong's 504
// with its body; a body that stalls past read_timeout after the head cuts
// the response short; the timed-out connections are closed.
func TestUpconnTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var closed atomic.Int32 // connections the proxy closed after a timeout
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/silent":
			_, _ = io.Copy(io.Discard, req.Body)
		case "/stall":
			_, _ = io.Copy(io.Discard, req.Body)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
		case "/noread":
			// Never reads the body.
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); errors.Is(err, io.EOF) {
			closed.Add(1)
		}
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	s.ReadTimeout, s.WriteTimeout = 100, 100
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for _, tc := range []struct {
		method, path string
		body         io.Reader
	}{
		{"GET", "/silent", nil},
		{"POST", "/noread", bytes.NewReader(make([]byte, 32<<20))},
	} {
		res, body := e.do(t, tc.method, tc.path, map[string]string{"Accept": "application/json"}, tc.body)
		if res.StatusCode != 504 || !strings.Contains(body, `"message":"The upstream server is timing out"`) {
			t.Errorf("%s %s: %d %q; want Kong's 504", tc.method, tc.path, res.StatusCode, body)
		}
	}
	// Nothing was flushed yet (buffered route): the client connection is
	// closed without a response, as ReverseProxy did; a flushed head
	// would be followed by a cut body.
	if res, err := client.Get(e.front.URL + "/stall"); err == nil {
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("stalled body: %d %q read without error; want the response cut short", res.StatusCode, b)
		}
	}
	eventually(t, "timed-out upstream connections closed", func() bool { return closed.Load() == 2 })
}

// TestUpconnClientGoneMidResponse: a client that leaves during a long
// response, or stops reading and closes, makes the proxy close the
// upstream connection (not pool it with a body half read); the next
// request gets a fresh connection and a clean response.
func TestUpconnClientGoneMidResponse(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := u.record(id, br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/trickle":
				// A head and a first chunk, then one chunk every 20 ms.
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
				for i := 0; i < 500; i++ {
					time.Sleep(20 * time.Millisecond)
					if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
						return
					}
				}
				return
			case "/huge":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n")
				chunk := make([]byte, 64<<10)
				for i := 0; i < 1024; i++ {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
				return
			default:
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
			}
		}
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for _, path := range []string{"/trickle", "/huge"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatalf("%s: no status line: %v", path, err)
		}
		c.Close()
		first := u.last()
		eventually(t, path+": upstream connection closed after the client left", func() bool { return u.open.Load() == 0 })
		if res, body := e.do(t, "GET", "/next", nil, nil); res.StatusCode != 200 || body != "next" {
			t.Errorf("after %s: %d %q", path, res.StatusCode, body)
		}
		if next := u.last(); first.uri != path || next.conn == first.conn {
			t.Errorf("after %s (connection %d): /next on connection %d", first.uri, first.conn, next.conn)
		}
	}
}

// TestUpconnPoolBounds: upstream_keepalive_pool_size bounds the idle
// connections kept per address, upstream_keepalive_max_requests retires a
// connection, upstream_keepalive_idle_timeout drops an idle one.
func TestUpconnPoolBounds(t *testing.T) {
	const n = 8
	var inflight atomic.Int32
	gate := make(chan struct{})
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := u.record(id, br)
			if err != nil {
				return
			}
			if req.URL.Path == "/hold" && inflight.Add(1) == n {
				close(gate)
			}
			if req.URL.Path == "/hold" {
				<-gate
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	cfg := &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}

	e := newEnv(t, cfg, Options{KeepalivePoolSize: 2})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, body := e.do(t, "GET", "/hold", nil, nil); res.StatusCode != 200 || body != "ok" {
				t.Errorf("held request: %d %q", res.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if got := u.accepted.Load(); got != n {
		t.Fatalf("%d upstream connections for %d concurrent requests", got, n)
	}
	eventually(t, "connections over the pool size closed", func() bool { return u.open.Load() == 2 })
	for i := 0; i < 5; i++ {
		e.do(t, "GET", "/again", nil, nil)
	}
	if got := u.accepted.Load(); got != n {
		t.Errorf("%d new connections for sequential requests with 2 idle", got-n)
	}
	e.proxy.Close()
	eventually(t, "idle connections closed with the proxy", func() bool { return u.open.Load() == 0 })

	base := u.accepted.Load()
	e = newEnv(t, cfg, Options{KeepaliveMaxRequests: 3})
	for i := 0; i < 7; i++ {
		e.do(t, "GET", "/seq", nil, nil)
	}
	if got := u.accepted.Load() - base; got != 3 {
		t.Errorf("%d connections for 7 requests with max_requests 3; want 3", got)
	}

	base = u.accepted.Load()
	e = newEnv(t, cfg, Options{KeepaliveIdleTimeout: 30 * time.Millisecond})
	e.do(t, "GET", "/first", nil, nil)
	time.Sleep(80 * time.Millisecond)
	e.do(t, "GET", "/second", nil, nil)
	if got := u.accepted.Load() - base; got != 2 {
		t.Errorf("%d connections for two requests 80 ms apart with idle_timeout 30 ms; want 2", got)
	}
}

// TestUpconnConcurrentNoLeak: many clients at once, with bodies both
// ways, some leaving early; every response is right and no upstream
// connection is left open beyond the pool once the proxy closes.
func TestUpconnConcurrentNoLeak(t *testing.T) {
	var open atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write(b)
			w.(http.Flusher).Flush()
			w.Write(b)
		case "/big":
			w.Write(bytes.Repeat([]byte("z"), 256<<10))
		default:
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b)
		}
	}))
	up.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{KeepalivePoolSize: 8})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	var bad atomic.Int32
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				payload := strings.Repeat(fmt.Sprintf("%d-%d;", w, i), 1+i*50)
				var path, want string
				switch i % 4 {
				case 0:
					path, want = "/cl", payload
				case 1:
					path, want = "/chunked", payload+payload
				case 2:
					path = "/big"
				case 3:
					path = "/leave"
				}
				req, _ := http.NewRequest("POST", e.front.URL+path, strings.NewReader(payload))
				res, err := client.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				if path == "/leave" {
					res.Body.Close() // unread: the client connection goes
					continue
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || (path == "/big" && len(b) != 256<<10) || (path != "/big" && string(b) != want) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d requests failed or came back wrong", n, workers*each)
	}
	eventually(t, "open upstream connections within the pool", func() bool { return open.Load() <= 8 })
	e.proxy.Close()
	eventually(t, "no upstream connection left after Close", func() bool { return open.Load() == 0 })
}

// TestUpconnKeepaliveZero: Kong's upstream_keepalive_pool_size = 0
// disables keep-alive, upstream_keepalive_max_requests = 0 lifts the
// limit, upstream_keepalive_idle_timeout = 0 keeps idle connections
// (kong.conf.default); cmd/sluice passes those zeros as negative values.
func TestUpconnKeepaliveZero(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := u.record(id, br); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	cfg := &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}

	e := newEnv(t, cfg, Options{KeepalivePoolSize: -1})
	for i := 0; i < 4; i++ {
		e.do(t, "GET", "/nokeepalive", nil, nil)
	}
	if got := u.accepted.Load(); got != 4 {
		t.Errorf("pool size 0: %d connections for 4 requests; want 4", got)
	}
	eventually(t, "no idle connection kept", func() bool { return u.open.Load() == 0 })

	base := u.accepted.Load()
	e = newEnv(t, cfg, Options{KeepaliveMaxRequests: -1})
	for i := 0; i < 1100; i++ {
		e.do(t, "GET", "/unlimited", nil, nil)
	}
	if got := u.accepted.Load() - base; got != 1 {
		t.Errorf("max requests 0: %d connections for 1100 requests; want 1", got)
	}

	base = u.accepted.Load()
	e = newEnv(t, cfg, Options{KeepaliveIdleTimeout: -1})
	e.do(t, "GET", "/first", nil, nil)
	time.Sleep(80 * time.Millisecond)
	e.do(t, "GET", "/second", nil, nil)
	if got := u.accepted.Load() - base; got != 1 {
		t.Errorf("idle timeout 0: %d connections for two requests 80 ms apart; want 1", got)
	}
}

// TestUpconnRequestMatchesReverseProxy: the request line (escaped paths
// and queries byte for byte), Host and every forwarded header the upstream
// gets are the same on the own client and on ReverseProxy (HTTP/2 client,
// same proxy), but for Via's protocol version.
func TestUpconnRequestMatchesReverseProxy(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := u.record(id, br); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	ph := routeTo(s, "/ph")
	ph.PreserveHost, ph.StripPath = true, false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/"), ph}}, Options{})
	front := httptest.NewUnstartedServer(e.proxy)
	front.EnableHTTP2 = true
	front.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	front.StartTLS()
	t.Cleanup(front.Close)
	h2c := front.Client()
	tr := h2c.Transport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	h1c := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	send := func(c *http.Client, method, uri, body string) (seenReq, int) {
		req, err := http.NewRequest(method, front.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = uri
		req.Host = "Example.TEST:8443"
		req.Header["X-Forwarded-For"] = []string{"10.0.0.1, 10.0.0.2"}
		req.Header["Forwarded"] = []string{"for=10.0.0.1"}
		req.Header["Proxy-Authorization"] = []string{"Basic eDp5"}
		req.Header["Cookie"] = []string{"a=1", "b=2"}
		req.Header["X-Multi"] = []string{"1", "2"}
		req.Header["Via"] = []string{"1.0 edge"}
		req.Header["X-Empty"] = []string{""}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, uri, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return u.last(), res.ProtoMajor
	}
	uris := []string{
		"/plain",
		"/a%2Fb/c%20d?q=%2F%3F&x=a+b&&y",
		"/x?",
		"/%E2%82%AC/~user/a;b=c?a=%zz&b=%",
		"/dots/./x/../y?#frag",
		"/ph/kept?host=preserved",
	}
	for _, uri := range uris {
		for _, method := range []string{"GET", "POST"} {
			body := ""
			if method == "POST" {
				body = "payload"
			}
			own, p1 := send(h1c, method, uri, body)
			rp, p2 := send(h2c, method, uri, body)
			if p1 != 1 || p2 != 2 {
				t.Fatalf("client protocols %d and %d; want 1 and 2", p1, p2)
			}
			want := uri
			if strings.HasPrefix(uri, "/dots/") {
				want = "/dots/y?#frag" // Kong normalizes the path (dot segments)
			}
			if own.uri != want {
				t.Errorf("%s %s: upstream request-target %q; want %q", method, uri, own.uri, want)
			}
			if wantHost := u.ln.Addr().String(); strings.HasPrefix(uri, "/ph/") {
				if own.req.Host != "Example.TEST:8443" {
					t.Errorf("preserve_host: Host %q", own.req.Host)
				}
			} else if own.req.Host != wantHost {
				t.Errorf("%s %s: Host %q; want %q", method, uri, own.req.Host, wantHost)
			}
			if own.uri != rp.uri || own.req.Host != rp.req.Host || string(own.body) != string(rp.body) {
				t.Errorf("%s %s: own client sent %q Host %q body %q; ReverseProxy %q Host %q body %q",
					method, uri, own.uri, own.req.Host, own.body, rp.uri, rp.req.Host, rp.body)
			}
			oh, rh := own.req.Header.Clone(), rp.req.Header.Clone()
			if want := "1.0 edge, 1.1 kong/" + KongVersion; oh.Get("Via") != want {
				t.Errorf("%s %s: Via %q; want %q", method, uri, oh.Get("Via"), want)
			}
			// The clients differ in User-Agent, and HTTP/2 joins the
			// Cookie fields (RFC 9113 8.2.3).
			for _, k := range []string{"Via", "X-Kong-Request-Id", "User-Agent"} {
				delete(oh, k)
				delete(rh, k)
			}
			oh["Cookie"] = []string{strings.Join(oh["Cookie"], "; ")}
			if a, b := fmt.Sprint(oh), fmt.Sprint(rh); a != b {
				t.Errorf("%s %s: upstream headers differ:\n own client    %s\n ReverseProxy  %s", method, uri, a, b)
			}
		}
	}
}

// TestUpconnLateBytesAfterBodylessResponse: an upstream that sends a body
// to a HEAD (or 204/304) a moment after the head, in its own packet, must
// not have those bytes taken as the response to the next request on the
// pooled connection (net/http's idle read loop closes such a connection:
// "Unsolicited response received on idle HTTP channel").
func TestUpconnLateBytesAfterBodylessResponse(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := u.record(id, br)
			if err != nil {
				return
			}
			var head, late string
			switch req.URL.Path {
			case "/head":
				head = "HTTP/1.1 200 OK\r\nContent-Length: 37\r\n\r\n"
			case "/204":
				head = "HTTP/1.1 204 No Content\r\n\r\n"
			case "/304":
				head = "HTTP/1.1 304 Not Modified\r\n\r\n"
			default:
				head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
			}
			if req.URL.Path != "/next" {
				late = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
			}
			if _, err := io.WriteString(c, head); err != nil {
				return
			}
			if late != "" {
				time.Sleep(5 * time.Millisecond)
				if _, err := io.WriteString(c, late); err != nil {
					return
				}
			}
		}
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for _, tc := range []struct{ method, path string }{{"HEAD", "/head"}, {"GET", "/204"}, {"GET", "/304"}} {
		e.do(t, tc.method, tc.path, nil, nil)
		time.Sleep(20 * time.Millisecond) // the late bytes arrive
		for _, m := range []string{"GET", "POST"} {
			res, body := e.do(t, m, "/next", nil, nil)
			if res.StatusCode != 200 || body != "next" {
				t.Errorf("%s after %s %s: %d %q; want 200 \"next\"", m, tc.method, tc.path, res.StatusCode, body)
			}
		}
	}
}

// TestUpconnEarlyResponse: an upstream that answers (413, 401) before
// reading a large body and closes gets its answer to the client, as
// nginx does, rather than a 502 for the failed write.
func TestUpconnEarlyResponse(t *testing.T) {
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!")
		// Half-close then linger reading a little, like servers do.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = io.CopyN(io.Discard, br, 64<<10)
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	stream := routeTo(s, "/")
	stream.RequestBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{stream}}, Options{})
	for i := 0; i < 3; i++ {
		res, body := e.do(t, "POST", "/upload", nil, bytes.NewReader(make([]byte, 16<<20)))
		if res.StatusCode != 413 || body != "too big!" {
			t.Errorf("early answer: %d %q; want the upstream's 413", res.StatusCode, body)
		}
	}
}

// TestUpconnStreaming: each part of a chunked or close-delimited body, or
// of any body on a route with response_buffering off, reaches the client
// as the upstream sends it (the upstream waits for the client to have the
// first part before it sends the rest).
func TestUpconnStreaming(t *testing.T) {
	got := make(chan struct{}, 1)
	u := newRawUp(t, func(u *rawUp, id int32, c net.Conn, br *bufio.Reader) {
		for {
			req, err := u.record(id, br)
			if err != nil {
				return
			}
			var first, rest string
			closing := false
			switch req.URL.Path {
			case "/chunked", "/nobuf/chunked":
				first, rest = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", "4\r\nrest\r\n0\r\n\r\n"
			case "/eof":
				first, rest, closing = "HTTP/1.1 200 OK\r\n\r\nfirst", "rest", true
			case "/nobuf/cl":
				first, rest = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nfirst", "rest"
			}
			io.WriteString(c, first)
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				return // the proxy held the first part back
			}
			io.WriteString(c, rest)
			if closing {
				return
			}
		}
	})
	s := svcTo(t, u.url())
	s.Retries = 0
	nobuf := routeTo(s, "/nobuf")
	nobuf.ResponseBuffering, nobuf.StripPath = false, false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/"), nobuf}}, Options{})
	for _, path := range []string{"/chunked", "/eof", "/nobuf/chunked", "/nobuf/cl"} {
		res, err := client.Get(e.front.URL + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first" {
			t.Fatalf("%s: first part %q (%v)", path, buf, err)
		}
		got <- struct{}{}
		rest, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(rest) != "rest" {
			t.Errorf("%s: rest %q (%v)", path, rest, err)
		}
	}
}

// TestUpconnHTTP10Client: an HTTP/1.0 client gets no 1xx (RFC 9110 15.2:
// a server must not send one to it) and a close-delimited or
// Content-Length body, never chunked.
func TestUpconnHTTP10Client(t *testing.T) {
	u := newRawUp(t, serveRaw)
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for _, tc := range []struct{ path, body string }{{"/early", "ok"}, {"/chunked", "abcdefg"}, {"/eof", "read to the end"}} {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", tc.path)
		raw, _ := io.ReadAll(c)
		c.Close()
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%s: %v\n%q", tc.path, err, raw)
		}
		b, err := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != tc.body || err != nil || len(res.TransferEncoding) > 0 {
			t.Errorf("%s: %d %q (%v), transfer encoding %v\n%q", tc.path, res.StatusCode, b, err, res.TransferEncoding, raw)
		}
	}
}

// TestUpconnBadResponseBody: a malformed upstream response answers Kong's
// 502 with its body, in the format the client accepts.
func TestUpconnBadResponseBody(t *testing.T) {
	u := newRawUp(t, serveRaw)
	s := svcTo(t, u.url())
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for _, path := range []string{"/status", "/badcl", "/fold", "/bighead", "/empty", "/halfhead"} {
		res, body := e.do(t, "GET", path, map[string]string{"Accept": "application/json"}, nil)
		if res.StatusCode != 502 || !strings.Contains(body, `"message":"An invalid response was received from the upstream server"`) ||
			res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d %s %q; want Kong's JSON 502", path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// TestReverseProxyPathDropsExpect: the ReverseProxy path (here an https
// service) does not pass Expect upstream either, like nginx and the own
// HTTP/1.1 path: the upstream (bodyEcho's handler) answers 417 if it sees
// one.
func TestReverseProxyPathDropsExpect(t *testing.T) {
	up := httptest.NewUnstartedServer(bodyEcho(t).Config.Handler)
	up.StartTLS()
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	s.Protocol = "https" // takes the ReverseProxy path
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	body := bytes.Repeat([]byte("x"), 5000)
	req, _ := http.NewRequest("POST", e.front.URL+"/expect", bytes.NewReader(body))
	req.Header.Set("Expect", "100-continue")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := fmt.Sprintf("%d %s [] \"\"", len(body), bodySum(body)); res.StatusCode != 200 || string(b) != want {
		t.Errorf("%d %q; want 200 %q", res.StatusCode, b, want)
	}
}

// TestReverseProxyPathHTTP10Client: on the ReverseProxy path too (here an
// https service), an HTTP/1.0 client gets no 1xx (RFC 9110 15.2): it would
// take a 103 Early Hints for the response and lose the real one.
func TestReverseProxyPathHTTP10Client(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		_, _ = io.WriteString(w, "ok")
	}))
	up.StartTLS()
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	s.Protocol, s.Retries = "https", 0 // takes the ReverseProxy path
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /early HTTP/1.0\r\nHost: x\r\n\r\n")
	raw, _ := io.ReadAll(c)
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%v\n%q", err, raw)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(b) != "ok" {
		t.Errorf("HTTP/1.0 client got %d %q; want 200 \"ok\" and no 103 first\n%q", res.StatusCode, b, raw)
	}
}
