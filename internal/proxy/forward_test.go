package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// TestOwnPathKeepAlive checks that plain-HTTP upstream connections are
// kept alive and reused, and that a kept-alive connection the upstream
// closed meanwhile is replaced without the client noticing.
func TestOwnPathKeepAlive(t *testing.T) {
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	s.Retries = 0 // the replacement is not a service retry
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	for i := 0; i < 5; i++ {
		if res, body := e.do(t, "GET", "/x", nil, nil); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("status %d %q", res.StatusCode, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for 5 sequential requests; want 1", n)
	}
	// The upstream drops its idle connections; the next request, sent at
	// once (before any idle check), must still succeed.
	up.CloseClientConnections()
	for i := 0; i < 3; i++ {
		if res, body := e.do(t, "GET", "/x", nil, nil); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("after upstream close: status %d %q", res.StatusCode, body)
		}
	}
}

// TestOwnPathHopByHop checks the hop-by-hop rules both ways, chunked
// responses with trailers and a close-delimited response.
func TestOwnPathHopByHop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan *http.Request, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					seen <- req
					switch req.URL.Path {
					case "/chunked":
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\n"+
							"Keep-Alive: timeout=5\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
							"3\r\nabc\r\n3\r\ndef\r\n0\r\nX-Sum: 42\r\n\r\n")
					case "/eof":
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end")
						return
					}
				}
			}()
		}
	}()
	s := svcTo(t, "http://"+ln.Addr().String())
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})

	req, _ := http.NewRequest("GET", e.front.URL+"/chunked", nil)
	req.Header.Set("Connection", "X-Drop")
	req.Header.Set("X-Drop", "1")
	req.Header.Set("X-Keep", "2")
	req.Header.Set("Keep-Alive", "300")
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	got := <-seen
	if got.Header.Get("X-Drop") != "" || got.Header.Get("Keep-Alive") != "" || got.Header.Get("X-Keep") != "2" {
		t.Errorf("upstream request headers %v; want X-Drop and Keep-Alive removed, X-Keep kept", got.Header)
	}
	if got.Header.Get("Te") != "trailers" {
		t.Errorf("upstream Te %q; want trailers", got.Header.Get("Te"))
	}
	if xff := got.Header.Get("X-Forwarded-For"); !strings.HasPrefix(xff, "10.0.0.1, 127.0.0.1") {
		t.Errorf("X-Forwarded-For %q", xff)
	}
	if got.Header.Get("Via") == "" || got.Host != ln.Addr().String() {
		t.Errorf("Via %q, Host %q", got.Header.Get("Via"), got.Host)
	}
	if string(body) != "abcdef" || res.Trailer.Get("X-Sum") != "42" {
		t.Errorf("body %q, trailers %v; want abcdef and X-Sum: 42", body, res.Trailer)
	}
	if res.Header.Get("X-Secret") != "" || res.Header.Get("Keep-Alive") != "" {
		t.Errorf("response headers %v; want the Connection-listed and hop-by-hop ones removed", res.Header)
	}

	res, b := e.do(t, "POST", "/eof", nil, strings.NewReader("payload"))
	got = <-seen
	if res.StatusCode != 200 || b != "to the end" || got.ContentLength != 7 {
		t.Errorf("close-delimited: %d %q (upstream saw Content-Length %d)", res.StatusCode, b, got.ContentLength)
	}
}

// TestOwnPathClientGone checks that the upstream exchange is abandoned when
// the client goes away.
func TestOwnPathClientGone(t *testing.T) {
	closed := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		// Never answer; wait for the proxy to close.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err != nil {
			close(closed)
		}
	}()
	s := svcTo(t, "http://"+ln.Addr().String())
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection stayed open after the client left")
	}
}

// hostSetter is a test plugin that sets the upstream Host in access.
type hostSetter struct{ host string }

func (h hostSetter) Access(c *plugin.Ctx) { c.SetUpstreamHost(h.host) }

func init() {
	plugin.Register(plugin.Definition{Name: "test-upstream-host", Priority: 6, Schema: &model.Schema{Name: "test-upstream-host",
		Fields: []*model.Field{{Name: "host", Type: model.TypeString}}},
		New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
			h, _ := cfg["host"].(string)
			return hostSetter{host: h}, nil
		}})
}

// TestUpstreamHostFromPlugin checks that a plugin's SetUpstreamHost is the
// Host sent upstream, over preserve_host, while the client's Host stays.
func TestUpstreamHostFromPlugin(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/h")
	r.PreserveHost = true
	plain := routeTo(svc, "/plain")
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r, plain},
		Plugins: []*model.Plugin{plug(t, "test-upstream-host", map[string]any{"host": "set.by.plugin"}, r, nil, nil)}})
	_, body := e.do(t, "GET", "/h", map[string]string{"Host": "client.example"}, nil)
	if got := decodeEcho(t, body); got.Host != "set.by.plugin" || got.Header.Get("X-Forwarded-Host") != "client.example" {
		t.Errorf("upstream Host %q, X-Forwarded-Host %q; want set.by.plugin and client.example", got.Host, got.Header.Get("X-Forwarded-Host"))
	}
	h, p := hostPort(t, up.URL)
	_, body = e.do(t, "GET", "/plain", map[string]string{"Host": "client.example"}, nil)
	if got := decodeEcho(t, body); got.Host != h+":"+strconv.Itoa(p) {
		t.Errorf("route without the plugin: upstream Host %q", got.Host)
	}
}

// TestOwnPathRejectsInjectedHeaders checks that a header name or value that
// would break the request framing (set by a plugin, say) is not written.
func TestOwnPathRejectsInjectedHeaders(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	s.Retries = 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	h := e.proxy.Handler(8000, false)
	for _, bad := range []http.Header{
		{"X-Ok": {"a\r\nX-Injected: 1"}},
		{"X-Bad\r\nX-Injected": {"1"}},
		{"Bad Name": {"1"}},
	} {
		req := httptest.NewRequest("GET", "http://x/y", nil)
		req.Header = bad
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusBadGateway {
			t.Errorf("%q: status %d; want 502", bad, w.Code)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the upstream", hits.Load())
	}
}
