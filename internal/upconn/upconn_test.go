package upconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer accepts connections and runs handle on each; it counts them.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

func newRawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }

// readRequest reads one request head and a Content-Length body.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

func newPool(o Options) *Pool {
	if o.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		o.Dial = d.DialContext
	}
	return New(o)
}

// do sends a GET on a pooled connection and reads the whole response.
func do(t *testing.T, p *Pool, addr, method string) (*Response, string, *Conn) {
	t.Helper()
	c, err := p.Get(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	c.W().WriteString(method + " /x HTTP/1.1\r\nHost: test\r\n\r\n")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err := c.ReadResponse(method == "HEAD")
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	for res.Status < 200 {
		if res, err = c.ReadResponse(method == "HEAD"); err != nil {
			t.Fatalf("ReadResponse after 1xx: %v", err)
		}
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	c.Release()
	return res, string(b), c
}

func TestFramings(t *testing.T) {
	responses := map[string]string{
		"/cl":      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Mixed-case: v\r\n\r\nhello",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: done\r\n\r\n",
		"/empty":   "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"/nm":      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"/early":   "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/head":    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
		"/close":   "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye",
		"/eof":     "HTTP/1.0 200 OK\r\n\r\nuntil the end",
	}
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			key := req.Header.Get("X-Case")
			if _, err := io.WriteString(c, responses[key]); err != nil {
				return
			}
			if key == "/eof" || key == "/close" {
				return
			}
		}
	})
	p := newPool(Options{})
	defer p.Close()
	cases := []struct {
		key, method, body string
		status            int
		reusable          bool
		check             func(t *testing.T, r *Response)
	}{
		{"/cl", "GET", "hello", 200, true, func(t *testing.T, r *Response) {
			if r.ContentLength != 5 || len(r.Fields) != 2 || r.Fields[1] != (Field{"X-Mixed-Case", "v"}) {
				t.Errorf("fields %v, length %d", r.Fields, r.ContentLength)
			}
		}},
		{"/chunked", "GET", "hello world", 200, true, func(t *testing.T, r *Response) {
			if !r.Chunked || r.ContentLength != -1 || len(r.Trailers) != 1 || r.Trailers[0] != (Field{"X-T", "done"}) {
				t.Errorf("chunked %v, length %d, trailers %v", r.Chunked, r.ContentLength, r.Trailers)
			}
		}},
		{"/empty", "GET", "", 204, true, nil},
		{"/nm", "GET", "", 304, true, nil},
		{"/early", "GET", "ok", 200, true, nil},
		{"/head", "HEAD", "", 200, true, func(t *testing.T, r *Response) {
			if r.ContentLength != 1000 {
				t.Errorf("HEAD length %d; want the announced 1000", r.ContentLength)
			}
		}},
		{"/close", "GET", "bye", 200, false, func(t *testing.T, r *Response) {
			if !r.Close {
				t.Error("Connection: close not seen")
			}
		}},
		{"/eof", "GET", "until the end", 200, false, nil},
	}
	for _, tc := range cases {
		c, err := p.Get(context.Background(), srv.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.W().WriteString(tc.method + " / HTTP/1.1\r\nHost: test\r\nX-Case: " + tc.key + "\r\n\r\n")
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		res, err := c.ReadResponse(tc.method == "HEAD")
		if err != nil {
			t.Fatalf("%s: %v", tc.key, err)
		}
		if res.Status == 103 {
			if len(res.Fields) != 1 || res.Fields[0].Name != "Link" {
				t.Errorf("103 fields %v", res.Fields)
			}
			if res, err = c.ReadResponse(false); err != nil {
				t.Fatal(err)
			}
		}
		if res.Status != tc.status {
			t.Errorf("%s: status %d; want %d", tc.key, res.Status, tc.status)
		}
		var body strings.Builder
		for {
			if b := c.Buffered(); len(b) > 0 {
				body.Write(b)
				continue
			}
			buf := make([]byte, 3)
			n, err := c.Read(buf)
			body.Write(buf[:n])
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: body: %v", tc.key, err)
			}
		}
		if body.String() != tc.body {
			t.Errorf("%s: body %q; want %q", tc.key, body.String(), tc.body)
		}
		if tc.check != nil {
			tc.check(t, res)
		}
		idle := p.Idle()
		c.Release()
		if got := p.Idle() - idle; (got == 1) != tc.reusable {
			t.Errorf("%s: idle connections +%d; reusable %v", tc.key, got, tc.reusable)
		}
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (one kept alive through /close, one for /eof)", n)
	}
}

func TestMalformed(t *testing.T) {
	bad := []string{
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", 70<<10) + "\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"garbage\r\n\r\n",
		"\r\n",
	}
	for _, raw := range bad {
		c := fakeConn(raw)
		if res, err := c.ReadResponse(false); err == nil {
			t.Errorf("%q: parsed as %+v; want an error", truncate(raw), res)
		} else if c.broken != true {
			t.Errorf("%q: connection not marked broken", truncate(raw))
		}
	}
	badBodies := []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
	}
	for _, raw := range badBodies {
		c := fakeConn(raw)
		if _, err := c.ReadResponse(false); err != nil {
			t.Fatalf("%q: head: %v", raw, err)
		}
		if _, err := io.ReadAll(c); err == nil {
			t.Errorf("%q: body read without error", raw)
		}
		if c.Done() {
			t.Errorf("%q: body reported complete", raw)
		}
	}
}

// memConn is a net.Conn reading from a fixed input.
type memConn struct {
	r io.Reader
}

func (m *memConn) Read(b []byte) (int, error)         { return m.r.Read(b) }
func (m *memConn) Write(b []byte) (int, error)        { return len(b), nil }
func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

// readFinal reads raw as an upstream's bytes up to the final (non-1xx)
// response head, as the proxy does.
func readFinal(raw string, head bool) (*Conn, *Response, error) {
	c := fakeConn(raw)
	res, err := c.ReadResponse(head)
	for err == nil && res.Status < 200 {
		res, err = c.ReadResponse(head)
	}
	return c, res, err
}

func fakeConn(raw string) *Conn {
	p := New(Options{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no") }})
	return p.newConn(&memConn{r: strings.NewReader(raw)}, "mem")
}

func TestReuseAndRetire(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	p := newPool(Options{MaxRequests: 3})
	defer p.Close()
	for i := 0; i < 7; i++ {
		if _, body, _ := do(t, p, srv.addr(), "GET"); body != "ok" {
			t.Fatalf("body %q", body)
		}
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("%d connections for 7 requests with max_requests 3; want 3", n)
	}
}

func TestIdleClosedByUpstream(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		// Keep-alive announced, then the upstream closes anyway.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	p := newPool(Options{})
	defer p.Close()
	do(t, p, srv.addr(), "GET")
	if p.Idle() != 1 {
		t.Fatalf("idle %d; want 1", p.Idle())
	}
	time.Sleep(peekAfter + 50*time.Millisecond)
	_, body, c := do(t, p, srv.addr(), "GET")
	if body != "ok" || c.Reused() {
		t.Errorf("body %q, reused %v; want a new connection in place of the closed one", body, c.Reused())
	}
}

func TestIdleTimeoutAndCloseIdle(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
				return
			}
		}
	})
	p := newPool(Options{IdleTimeout: 30 * time.Millisecond})
	defer p.Close()
	do(t, p, srv.addr(), "GET")
	time.Sleep(60 * time.Millisecond)
	if _, _, c := do(t, p, srv.addr(), "GET"); c.Reused() {
		t.Error("connection idle past IdleTimeout was reused")
	}
	if p.Idle() != 1 {
		t.Fatalf("idle %d", p.Idle())
	}
	if n := p.CloseIdle(time.Now().Add(time.Second)); n != 1 || p.Idle() != 0 {
		t.Errorf("CloseIdle closed %d, %d left", n, p.Idle())
	}
}

func TestReadTimeoutAndAbort(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		<-release
	})
	defer close(release)
	p := newPool(Options{ReadTimeout: 50 * time.Millisecond})
	defer p.Close()
	c, err := p.Get(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c.W().WriteString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.Flush()
	_, err = c.ReadResponse(false)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v; want a read timeout", err)
	}
	c.Release()
	if p.Idle() != 0 {
		t.Error("timed-out connection kept")
	}

	p2 := newPool(Options{})
	defer p2.Close()
	c, err = p2.Get(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c.W().WriteString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.Flush()
	time.AfterFunc(20*time.Millisecond, c.AbortFunc)
	if _, err := c.ReadResponse(false); err == nil {
		t.Error("aborted read returned a response")
	}
	if !c.Aborted() {
		t.Error("not marked aborted")
	}
	c.Release()
	if p2.Idle() != 0 {
		t.Error("aborted connection kept")
	}
}

// FuzzResponse parses arbitrary upstream bytes; when net/http parses them
// too, both must agree on the status and, for fully read bodies, the body.
func FuzzResponse(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nA: b\r\n\r\nrest of it",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3;a=b\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
		"HTTP/1.1 200\r\ncontent-length:0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		c, res, err := readFinal(string(data), head)
		if err != nil {
			return
		}
		if res.Status < 200 || res.Status > 999 {
			t.Fatalf("status %d", res.Status)
		}
		for _, fl := range res.Fields {
			if fl.Name == "" || fl.Name != http.CanonicalHeaderKey(fl.Name) {
				t.Fatalf("field name %q not canonical", fl.Name)
			}
			if strings.ContainsAny(fl.Value, "\r\n\x00") {
				t.Fatalf("field value %q", fl.Value)
			}
		}
		body, berr := io.ReadAll(io.LimitReader(c, 1<<20))
		if berr == nil && !c.Done() && len(body) < 1<<20 {
			t.Fatalf("body read to EOF but not done")
		}

		// net/http on the same bytes (skipping the 1xx heads it also skips).
		method := "GET"
		if head {
			method = "HEAD"
		}
		br := bufio.NewReader(strings.NewReader(string(data)))
		hr, herr := http.ReadResponse(br, &http.Request{Method: method})
		for herr == nil && hr.StatusCode < 200 {
			hr, herr = http.ReadResponse(br, &http.Request{Method: method})
		}
		if herr != nil || hr.StatusCode < 200 {
			return
		}
		if hr.StatusCode != res.Status {
			t.Fatalf("status %d; net/http %d", res.Status, hr.StatusCode)
		}
		hb, herr := io.ReadAll(io.LimitReader(hr.Body, 1<<20))
		if herr == nil && berr == nil && string(hb) != string(body) {
			t.Fatalf("body %q; net/http %q", body, hb)
		}
	})
}

// loopReader repeats one response forever.
type loopReader struct {
	b []byte
	i int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.i:])
	l.i = (l.i + n) % len(l.b)
	return n, nil
}

// BenchmarkReadResponse parses a typical response head and reads its body.
func BenchmarkReadResponse(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nDate: Fri, 27 Nov 2026 05:00:00 GMT\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: 13\r\nServer: upstream\r\nX-Request-Id: 0123456789\r\n\r\nHello, World!"
	p := New(Options{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no") }})
	c := p.newConn(&memConn{r: &loopReader{b: []byte(raw)}}, "mem")
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.ReadResponse(false)
		if err != nil || res.Status != 200 {
			b.Fatal(err)
		}
		if body := c.Buffered(); len(body) != 13 || !c.Done() {
			b.Fatalf("body %q", body)
		}
	}
}

// TestWatch checks that a watched context ends a blocked read, and that
// the watch's wake-ups do not cut the read timeout short.
func TestWatch(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		<-release
	})
	defer close(release)
	p := newPool(Options{ReadTimeout: WatchInterval + 300*time.Millisecond})
	defer p.Close()
	send := func() *Conn {
		c, err := p.Get(context.Background(), srv.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.W().WriteString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		return c
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := send()
	c.Watch(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.ReadResponse(false); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v; want context.Canceled once the watched context is done", err)
	}
	c.Release()

	c = send()
	c.Watch(context.Background())
	start := time.Now()
	_, err := c.ReadResponse(false)
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) < p.o.ReadTimeout*15/16 {
		t.Errorf("error %v after %v; want a read timeout after about %v", err, time.Since(start), p.o.ReadTimeout)
	}
	c.Release()
}

// TestConcurrent runs requests from several goroutines through one pool:
// every response must be whole and no more connections than goroutines
// may be kept.
func TestConcurrent(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			id := req.Header.Get("X-Id")
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
				strconv.FormatInt(int64(len(id)), 16)+"\r\n"+id+"\r\n0\r\n\r\n"); err != nil {
				return
			}
		}
	})
	p := newPool(Options{MaxIdle: 4})
	defer p.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := strconv.Itoa(g*1000 + i)
				c, err := p.Get(context.Background(), srv.addr())
				if err != nil {
					t.Error(err)
					return
				}
				c.W().WriteString("GET / HTTP/1.1\r\nHost: x\r\nX-Id: " + id + "\r\n\r\n")
				if err := c.Flush(); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.ReadResponse(false); err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(c)
				if err != nil || string(b) != id {
					t.Errorf("body %q, %v; want %q", b, err, id)
				}
				c.Release()
			}
		}()
	}
	wg.Wait()
	if p.Idle() > 4 {
		t.Errorf("%d idle connections; MaxIdle is 4", p.Idle())
	}
}

// TestLeftoverBytesForbidReuse checks that a connection with bytes read
// past the response (a body sent to a HEAD) is not reused.
func TestLeftoverBytesForbidReuse(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
				return
			}
		}
	})
	p := newPool(Options{})
	defer p.Close()
	c, err := p.Get(context.Background(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c.W().WriteString("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadResponse(true); err != nil {
		t.Fatal(err)
	}
	// The body the upstream should not have sent arrives with the head.
	for i := 0; i < 100 && c.br.Buffered() == 0; i++ {
		time.Sleep(time.Millisecond)
		_, _ = c.br.Peek(1)
	}
	c.Release()
	if p.Idle() != 0 {
		t.Error("connection with unread bytes went back to the pool")
	}
}
