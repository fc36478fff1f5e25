package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// timingRecorder is a test plugin that keeps the Timing of the last request
// it logged.
type timingRecorder struct {
	mu   sync.Mutex
	last *plugin.Timing
	exit bool
}

func (tr *timingRecorder) Access(c *plugin.Ctx) {
	if tr.exit {
		c.Terminate(&plugin.Exit{Status: http.StatusForbidden, Body: []byte("no entry\n"),
			Header: http.Header{"Content-Type": {"text/plain"}}})
	}
}

func (tr *timingRecorder) Log(c *plugin.Ctx) {
	t := c.Timing
	t.Tries = append([]plugin.Try(nil), t.Tries...)
	tr.mu.Lock()
	tr.last = &t
	tr.mu.Unlock()
}

func (tr *timingRecorder) take() *plugin.Timing {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	t := tr.last
	tr.last = nil
	return t
}

var timingRecorders sync.Map // tag -> *timingRecorder

func init() {
	plugin.Register(plugin.Definition{Name: "test-timing", Priority: 3, Schema: &model.Schema{Name: "test-timing",
		Fields: []*model.Field{{Name: "tag", Type: model.TypeString}, {Name: "exit", Type: model.TypeBoolean, Default: false}}},
		New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
			tag, _ := cfg["tag"].(string)
			r := &timingRecorder{}
			r.exit, _ = cfg["exit"].(bool)
			timingRecorders.Store(tag, r)
			return r, nil
		}})
}

func recorder(t *testing.T, tag string) *timingRecorder {
	t.Helper()
	v, ok := timingRecorders.Load(tag)
	if !ok {
		t.Fatalf("no test-timing instance %q", tag)
	}
	return v.(*timingRecorder)
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	return n, err
}

// rawExchange sends raw on a new connection to the proxy and reads one
// response; it returns the response, its body and the bytes received.
// With closeConn the request asks for Connection: close and everything up
// to EOF is counted; otherwise the connection stays open and the count is
// what the response parser consumed (nothing else is in flight).
func rawExchange(t *testing.T, front *httptest.Server, raw string, closeConn bool) (*http.Response, string, int64) {
	t.Helper()
	u, _ := url.Parse(front.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: c}
	br := bufio.NewReaderSize(cc, 64<<10)
	req := &http.Request{Method: strings.Fields(raw)[0]}
	res, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if closeConn {
		if _, err := io.Copy(io.Discard, br); err != nil {
			t.Fatal(err)
		}
	} else if br.Buffered() != 0 {
		t.Fatalf("%d unread bytes after the response", br.Buffered())
	}
	return res, string(b), cc.n
}

// waitTiming waits for the log phase of the last request (it runs after
// the response is written, so it may lag the client by a moment).
func waitTiming(t *testing.T, tr *timingRecorder) *plugin.Timing {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if tm := tr.take(); tm != nil {
			return tm
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("log phase did not run")
	return nil
}

func TestTimingProxied(t *testing.T) {
	const sleep = 40 * time.Millisecond
	big := strings.Repeat("0123456789abcdef", 1000) // several chunks
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(sleep)
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Query().Get("kind") {
		case "chunked":
			w.Header().Set("Content-Type", "text/plain")
			for i := 0; i < 4; i++ {
				_, _ = io.WriteString(w, big[:len(big)/4])
				w.(http.Flusher).Flush()
			}
		case "nocl":
			// No Content-Type either: net/http sniffs one downstream.
			_, _ = io.WriteString(w, "<html>small</html>")
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)+3))
			_, _ = io.WriteString(w, "ok:")
			_, _ = w.Write(b)
		}
	}))
	t.Cleanup(up.Close)
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/t")
	streaming := routeTo(svc, "/s")
	streaming.ResponseBuffering = false
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r, streaming},
		Plugins: []*model.Plugin{plug(t, "test-timing", map[string]any{"tag": "proxied"}, nil, svc, nil)}})
	tr := recorder(t, "proxied")

	cases := []struct {
		name, raw  string
		closeConn  bool
		wantStatus int
		wantURI    string
	}{
		{"get keep-alive", "GET /t/a?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: raw\r\nX-Extra: one\r\nX-Extra: two\r\n\r\n", false, 200, "/a?x=1"},
		{"post close", "POST /t/p HTTP/1.1\r\nHost: example.test\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world", true, 200, "/p"},
		{"chunked response", "GET /t/c?kind=chunked HTTP/1.1\r\nHost: example.test\r\n\r\n", false, 200, "/c?kind=chunked"},
		{"chunked streaming", "GET /s/c?kind=chunked HTTP/1.1\r\nHost: example.test\r\n\r\n", false, 200, "/c?kind=chunked"},
		{"sniffed type", "GET /t/n?kind=nocl HTTP/1.1\r\nHost: example.test\r\n\r\n", false, 200, "/n?kind=nocl"},
		{"no content", "GET /t/e?kind=empty HTTP/1.1\r\nHost: example.test\r\n\r\n", false, 204, "/e?kind=empty"},
		{"head", "HEAD /t/h HTTP/1.1\r\nHost: example.test\r\n\r\n", false, 200, "/h"},
		{"http/1.0", "GET /t/o HTTP/1.0\r\nHost: example.test\r\n\r\n", true, 200, "/o"},
		{"chunked request", "POST /t/q HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true, 200, "/q"},
	}
	for _, tc := range cases {
		res, body, got := rawExchange(t, e.front, tc.raw, tc.closeConn)
		if res.StatusCode != tc.wantStatus {
			t.Fatalf("%s: status %d %q; want %d", tc.name, res.StatusCode, body, tc.wantStatus)
		}
		tm := waitTiming(t, tr)
		if tm.ResponseSize != got {
			t.Errorf("%s: ResponseSize %d; the client received %d bytes (headers %v)", tc.name, tm.ResponseSize, got, res.Header)
		}
		wantReq := int64(len(tc.raw))
		if strings.Contains(tc.raw, "chunked\r\n") {
			// The body is counted decoded (5 bytes), not with its framing.
			wantReq = int64(strings.Index(tc.raw, "\r\n\r\n")+4) + 5
		}
		if tm.RequestSize != wantReq {
			t.Errorf("%s: RequestSize %d; the client sent %d bytes", tc.name, tm.RequestSize, wantReq)
		}
		if tm.Upstream < sleep {
			t.Errorf("%s: Upstream %v; want at least the upstream's %v", tc.name, tm.Upstream, sleep)
		}
		if tm.Kong < 0 || tm.Request < tm.Upstream+tm.Kong-time.Millisecond || tm.Request < tm.Upstream {
			t.Errorf("%s: Kong %v, Upstream %v, Request %v; want Kong >= 0 and Request >= Upstream", tc.name, tm.Kong, tm.Upstream, tm.Request)
		}
		if tm.Start.IsZero() || time.Since(tm.Start) < tm.Request {
			t.Errorf("%s: Start %v", tc.name, tm.Start)
		}
		if tm.UpstreamURI != tc.wantURI {
			t.Errorf("%s: UpstreamURI %q; want %q", tc.name, tm.UpstreamURI, tc.wantURI)
		}
		h, p := hostPort(t, up.URL)
		if len(tm.Tries) != 1 || tm.Tries[0].IP != h || tm.Tries[0].Port != p || tm.Tries[0].Code != tc.wantStatus {
			t.Errorf("%s: Tries %+v; want one try to %s:%d with %d", tc.name, tm.Tries, h, p, tc.wantStatus)
		}
		// The latency headers are the same measurements, in milliseconds.
		if v := res.Header.Get(hdrUpstreamLatency); v != msString(tm.Upstream) {
			t.Errorf("%s: %s %q; Timing.Upstream %v", tc.name, hdrUpstreamLatency, v, tm.Upstream)
		}
		if v, _ := strconv.Atoi(res.Header.Get(hdrProxyLatency)); time.Duration(v)*time.Millisecond > tm.Kong {
			t.Errorf("%s: %s %d ms; Timing.Kong %v is smaller", tc.name, hdrProxyLatency, v, tm.Kong)
		}
	}
}

func TestTimingExit(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/x")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r},
		Plugins: []*model.Plugin{plug(t, "test-timing", map[string]any{"tag": "exit", "exit": true}, r, nil, nil)}})
	tr := recorder(t, "exit")
	raw := "GET /x HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n"
	res, body, got := rawExchange(t, e.front, raw, false)
	if res.StatusCode != http.StatusForbidden || body != "no entry\n" {
		t.Fatalf("status %d %q; want the plugin's 403", res.StatusCode, body)
	}
	tm := waitTiming(t, tr)
	if tm.ResponseSize != got || tm.RequestSize != int64(len(raw)) {
		t.Errorf("sizes %d/%d; want %d received, %d sent", tm.ResponseSize, tm.RequestSize, got, len(raw))
	}
	if tm.Upstream != -1 || len(tm.Tries) != 0 || tm.UpstreamURI != "" {
		t.Errorf("Upstream %v, Tries %v, UpstreamURI %q; want -1, none, empty for a plugin exit", tm.Upstream, tm.Tries, tm.UpstreamURI)
	}
	if tm.Kong < 0 || tm.Kong > tm.Request {
		t.Errorf("Kong %v, Request %v; want 0 <= Kong <= Request", tm.Kong, tm.Request)
	}
	if v := res.Header.Get(hdrResponseLatency); v != msString(tm.Kong) {
		t.Errorf("%s %q; Timing.Kong %v", hdrResponseLatency, v, tm.Kong)
	}
}

func TestTimingTries(t *testing.T) {
	good := newEcho(t, "good")
	gh, gp := hostPort(t, good.URL)
	dead := refusedAddr(t)
	dh, dps, _ := net.SplitHostPort(dead)
	dp, _ := strconv.Atoi(dps)
	ups := &model.Upstream{ID: newID(), Name: "timing.upstream", Algorithm: "round-robin", Slots: 10000,
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/"}
	targets := []*model.Target{
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: dead, Weight: 100},
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: gh + ":" + strconv.Itoa(gp), Weight: 100},
	}
	s := svcTo(t, good.URL)
	s.Host = "timing.upstream"
	r := routeTo(s, "/")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{s}, Upstreams: []*model.Upstream{ups}, Targets: targets,
		Routes: []*model.Route{r}, Plugins: []*model.Plugin{plug(t, "test-timing", map[string]any{"tag": "tries"}, r, nil, nil)}})
	tr := recorder(t, "tries")
	sawRetry := false
	for i := 0; i < 6; i++ {
		res, body := e.do(t, "GET", "/r", nil, nil)
		if res.StatusCode != 200 {
			t.Fatalf("status %d %s", res.StatusCode, body)
		}
		tm := waitTiming(t, tr)
		last := tm.Tries[len(tm.Tries)-1]
		if last.IP != gh || last.Port != gp || last.Code != 200 {
			t.Fatalf("last try %+v; want %s:%d with 200", last, gh, gp)
		}
		switch len(tm.Tries) {
		case 1:
		case 2:
			sawRetry = true
			if d := tm.Tries[0]; d.IP != dh || d.Port != dp || d.Code != 0 {
				t.Errorf("first try %+v; want the dead target %s with no status", d, dead)
			}
		default:
			t.Fatalf("tries %+v; want one or two", tm.Tries)
		}
		for _, try := range tm.Tries {
			if try.Balancer < 0 {
				t.Errorf("try %+v: negative balancer time", try)
			}
		}
	}
	if !sawRetry {
		t.Error("no request was retried over the dead target")
	}
}

func TestTimingUpstreamDown(t *testing.T) {
	dead := refusedAddr(t)
	dh, dps, _ := net.SplitHostPort(dead)
	dp, _ := strconv.Atoi(dps)
	svc := svcTo(t, "http://"+dead)
	svc.Retries = 1
	r := routeTo(svc, "/d")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r},
		Plugins: []*model.Plugin{plug(t, "test-timing", map[string]any{"tag": "down"}, r, nil, nil)}})
	tr := recorder(t, "down")
	raw := "GET /d/x HTTP/1.1\r\nHost: example.test\r\nAccept: application/json\r\n\r\n"
	res, _, got := rawExchange(t, e.front, raw, false)
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d; want 502", res.StatusCode)
	}
	tm := waitTiming(t, tr)
	if tm.ResponseSize != got || tm.RequestSize != int64(len(raw)) {
		t.Errorf("sizes %d/%d; want %d received, %d sent", tm.ResponseSize, tm.RequestSize, got, len(raw))
	}
	if tm.Upstream != -1 || tm.Kong < 0 || tm.Kong > tm.Request || tm.UpstreamURI != "/x" {
		t.Errorf("Upstream %v, Kong %v, Request %v, UpstreamURI %q; want -1, 0 <= Kong <= Request, /x", tm.Upstream, tm.Kong, tm.Request, tm.UpstreamURI)
	}
	if len(tm.Tries) != 2 {
		t.Fatalf("tries %+v; want the first attempt and one retry", tm.Tries)
	}
	for _, try := range tm.Tries {
		if try.IP != dh || try.Port != dp || try.Code != 0 {
			t.Errorf("try %+v; want %s with no status", try, dead)
		}
	}
}
