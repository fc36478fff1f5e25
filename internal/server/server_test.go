package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"sluice/internal/memwatch"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/settings"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func mustListen(t *testing.T, v string) []settings.Listen {
	t.Helper()
	ls, err := settings.ParseListen("test_listen", v)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// start runs a Server on loopback ports and closes it when the test ends.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Proxy == nil {
		opts.Proxy = mustListen(t, "127.0.0.1:0")
	}
	if opts.Status == nil {
		opts.Status = mustListen(t, "127.0.0.1:0")
	}
	s := New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func addr(s *Server, k Kind) string { return s.Addrs(k)[0].String() }

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// eventually polls cond until it holds or 3 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatusShape(t *testing.T) {
	cur := &snapshot.Current{}
	cur.Store(&snapshot.Snapshot{Hash: "0123456789abcdef0123456789abcdef"})
	s := start(t, Options{Current: cur, ProxyHandler: http.NotFoundHandler()})
	base := "http://" + addr(s, KindStatus)

	code, body := get(t, base+"/status")
	if code != 200 {
		t.Fatalf("GET /status = %d %s; want 200", code, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if got := m["database"].(map[string]any)["reachable"]; got != true {
		t.Errorf("database.reachable: got %v; want true", got)
	}
	if got := m["configuration_hash"]; got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("configuration_hash: got %v", got)
	}
	mem := m["memory"].(map[string]any)
	vm := mem["workers_lua_vms"].([]any)[0].(map[string]any)
	if got := vm["http_allocated_gc"].(string); !regexp.MustCompile(`^\d+\.\d\d MiB$`).MatchString(got) {
		t.Errorf("http_allocated_gc: got %q; want like 1.25 MiB", got)
	}
	if got := vm["pid"].(float64); int(got) != os.Getpid() {
		t.Errorf("pid: got %v; want %d", got, os.Getpid())
	}
	if _, ok := mem["lua_shared_dicts"].(map[string]any); !ok {
		t.Errorf("lua_shared_dicts: got %v; want an object", mem["lua_shared_dicts"])
	}
	srv := m["server"].(map[string]any)
	for _, k := range []string{"total_requests", "connections_active", "connections_accepted", "connections_handled",
		"connections_reading", "connections_writing", "connections_waiting"} {
		if _, ok := srv[k].(float64); !ok {
			t.Errorf("server.%s: got %v; want a number", k, srv[k])
		}
	}
	// This request itself is being handled: one writing connection.
	if srv["connections_writing"].(float64) < 1 || srv["total_requests"].(float64) < 1 {
		t.Errorf("server counters do not include the request itself: %v", srv)
	}

	units := []struct {
		query string
		code  int
		want  string // regexp on http_allocated_gc rendered with %v, or message
	}{
		{"?unit=b", 200, `^\d+$`},
		{"?unit=k&scale=0", 200, `^\d+ KiB$`},
		{"?unit=G&scale=4", 200, `^\d+\.\d{4} GiB$`},
		{"?scale=abc", 200, `^\d+\.\d\d MiB$`},
		{"?unit=x", 400, `^invalid unit 'x' \(expected 'k/K', 'm/M', or 'g/G'\)$`},
		{"?scale=-1", 400, `^scale must be equal or greater than 0$`},
	}
	for _, u := range units {
		code, body := get(t, base+"/status"+u.query)
		if code != u.code {
			t.Errorf("GET /status%s = %d %s; want %d", u.query, code, body, u.code)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		var got string
		if code == 200 {
			v := m["memory"].(map[string]any)["workers_lua_vms"].([]any)[0].(map[string]any)["http_allocated_gc"]
			got = fmt.Sprint(v)
			if f, ok := v.(float64); ok {
				got = strconv.FormatFloat(f, 'f', -1, 64)
			} else if u.query == "?unit=b" {
				t.Errorf("unit=b: got %T; want a JSON number", v)
			}
		} else {
			got = m["message"].(string)
		}
		if !regexp.MustCompile(u.want).MatchString(got) {
			t.Errorf("GET /status%s: got %q; want match %s", u.query, got, u.want)
		}
	}

	if code, body := get(t, base+"/nope"); code != 404 || !strings.Contains(string(body), `"Not found"`) {
		t.Errorf("GET /nope = %d %s; want 404 Not found", code, body)
	}
	resp, err := http.Post(base+"/status", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /status = %d; want 405", resp.StatusCode)
	}
}

func TestStatusHashWithoutConfig(t *testing.T) {
	s := start(t, Options{})
	_, body := get(t, "http://"+addr(s, KindStatus)+"/status")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if got := m["configuration_hash"]; got != emptyHash {
		t.Errorf("configuration_hash: got %v; want 32 zeros", got)
	}
}

func TestCounters(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := start(t, Options{ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "ok")
	})})
	want := func(what string, f func(Stats) bool) {
		t.Helper()
		eventually(t, what, func() bool { return f(s.Stats()) })
	}
	// A connection that has sent nothing is reading.
	idle, err := net.Dial("tcp", addr(s, KindProxy))
	if err != nil {
		t.Fatal(err)
	}
	want("one reading connection", func(st Stats) bool {
		return st.ConnectionsActive == 1 && st.ConnectionsReading == 1 && st.ConnectionsAccepted == 1
	})

	c, err := net.Dial("tcp", addr(s, KindProxy))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	want("one writing connection", func(st Stats) bool {
		return st.ConnectionsActive == 2 && st.ConnectionsWriting == 1 && st.ConnectionsReading == 1 && st.TotalRequests == 1
	})
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want("the keep-alive connection waiting", func(st Stats) bool {
		return st.ConnectionsWaiting == 1 && st.ConnectionsWriting == 0 && st.ConnectionsReading == 1
	})
	idle.Close()
	c.Close()
	want("no connections", func(st Stats) bool {
		return st.ConnectionsActive == 0 && st.ConnectionsReading == 0 && st.ConnectionsWaiting == 0 && st.ConnectionsWriting == 0
	})
	st := s.Stats()
	if st.ConnectionsAccepted != 2 || st.ConnectionsHandled != 2 || st.TotalRequests != 1 {
		t.Errorf("got accepted %d, handled %d, requests %d; want 2, 2, 1", st.ConnectionsAccepted, st.ConnectionsHandled, st.TotalRequests)
	}
}

func readyOf(t *testing.T, s *Server) (int, string) {
	t.Helper()
	code, body := get(t, "http://"+addr(s, KindStatus)+"/status/ready")
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return code, m["message"]
}

func TestReadyTransitions(t *testing.T) {
	cur := &snapshot.Current{}
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := start(t, Options{Current: cur, DBless: true, ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})})
	steps := []struct {
		name string
		do   func()
		code int
		msg  string
	}{
		{"before any config", func() {}, 503, "no configuration available (configuration hash is not initialized)"},
		{"empty config", func() { cur.Store(&snapshot.Snapshot{Hash: emptyHash}) }, 503, "no configuration available (empty configuration present)"},
		{"config loaded", func() { cur.Store(&snapshot.Snapshot{Hash: "5d41402abc4b2a76b9719d911017c592"}) }, 200, "ready"},
	}
	for _, st := range steps {
		st.do()
		if code, msg := readyOf(t, s); code != st.code || msg != st.msg {
			t.Errorf("%s: got %d %q; want %d %q", st.name, code, msg, st.code, st.msg)
		}
	}
	// Draining: an in-flight request keeps the proxy open while /status/ready
	// answers 503.
	go http.Get("http://" + addr(s, KindProxy) + "/")
	<-entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	eventually(t, "draining", s.Draining)
	if code, msg := readyOf(t, s); code != 503 || msg != "shutting down" {
		t.Errorf("while draining: got %d %q; want 503 \"shutting down\"", code, msg)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestReadyTraditional(t *testing.T) {
	cur := &snapshot.Current{}
	var dbErr error
	s := start(t, Options{Current: cur, DBReachable: func(context.Context) error { return dbErr }})
	if code, msg := readyOf(t, s); code != 503 || msg != "router builds not yet complete" {
		t.Errorf("no snapshot: got %d %q", code, msg)
	}
	cur.Store(&snapshot.Snapshot{})
	if code, msg := readyOf(t, s); code != 200 || msg != "ready" {
		t.Errorf("snapshot without hash: got %d %q; want 200 ready", code, msg)
	}
	dbErr = errors.New("down")
	if code, msg := readyOf(t, s); code != 503 || msg != "failed to connect to database" {
		t.Errorf("db down: got %d %q", code, msg)
	}
	_, body := get(t, "http://"+addr(s, KindStatus)+"/status")
	if !strings.Contains(string(body), `"database":{"reachable":false}`) {
		t.Errorf("GET /status with db down: %s; want reachable false", body)
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{}, 1)
	s := start(t, Options{ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})})
	proxy := addr(s, KindProxy)
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + proxy + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	eventually(t, "the proxy listener to close", func() bool {
		c, err := net.DialTimeout("tcp", proxy, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	r := <-res
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Errorf("in-flight request: got %d %q %v; want 200 finished", r.code, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: got %v; want nil", err)
	}
}

func TestShutdownGraceExpires(t *testing.T) {
	entered := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	s := start(t, Options{ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})})
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr(s, KindProxy) + "/")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, ErrForced) {
		t.Errorf("Shutdown: got %v; want ErrForced", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v; want about the 200ms grace", d)
	}
	if err := <-errc; err == nil {
		t.Error("the stuck request succeeded; want its connection closed")
	}
}

func TestShutdownWaitsForHijacked(t *testing.T) {
	hijacked := make(chan net.Conn, 1)
	s := start(t, Options{ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		hijacked <- c
	})})
	c, err := net.Dial("tcp", addr(s, KindProxy))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	hc := <-hijacked
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while an upgraded connection was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	hc.Close()
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if st := s.Stats(); st.ConnectionsActive != 0 || st.ConnectionsWriting != 0 {
		t.Errorf("after shutdown: %+v; want no connections", st)
	}
}

func TestBindErrorNamesSetting(t *testing.T) {
	s1 := start(t, Options{})
	s2 := New(Options{Proxy: mustListen(t, addr(s1, KindProxy))})
	err := s2.Start()
	if err == nil {
		s2.Close()
		t.Fatal("got no error binding a used port")
	}
	if !strings.Contains(err.Error(), "proxy_listen "+addr(s1, KindProxy)) {
		t.Errorf("error %q: want it to name proxy_listen and the address", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := New(Options{Proxy: mustListen(t, "127.0.0.1:0, 127.0.0.1:0 ssl http2"), Status: mustListen(t, "127.0.0.1:0"),
			ProxyHandler: http.NotFoundHandler(), DefaultCert: testCert(t, "localhost")})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		get(t, "http://"+addr(s, KindStatus)+"/status")
		c, err := net.Dial("tcp", addr(s, KindProxy)) // left open: Shutdown must close it
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		c.Close()
	}
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+1 })
}

// testCert makes a self-signed certificate for names.
func testCert(t *testing.T, names ...string) *tls.Certificate {
	t.Helper()
	cp, kp := testCertPEM(t, names...)
	c, err := tls.X509KeyPair([]byte(cp), []byte(kp))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func testCertPEM(t *testing.T, names ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

func TestTLSCertificateBySNI(t *testing.T) {
	cp, kp := testCertPEM(t, "api.example.com")
	cfg := &model.Config{
		Certificates: []*model.Certificate{{ID: "c1", Cert: cp, Key: kp}},
		SNIs:         []*model.SNI{{ID: "s1", Name: "api.example.com", Certificate: &model.ForeignKey{ID: "c1"}}},
	}
	def := testCert(t, "default.local")
	snap, err := snapshot.Build(nil, cfg, "h", &snapshot.Env{Pool: upstream.NewPool(), DefaultCert: def})
	if err != nil {
		t.Fatal(err)
	}
	cur := &snapshot.Current{}
	s := start(t, Options{Current: cur, DefaultCert: def,
		Proxy: mustListen(t, "127.0.0.1:0 ssl http2, 127.0.0.1:0 ssl"),
		ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto)
		})})
	h2, h1 := s.Addrs(KindProxy)[0].String(), s.Addrs(KindProxy)[1].String()

	cn := func(addr, sni string) (string, string) {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("TLS dial %s (%s): %v", addr, sni, err)
		}
		defer c.Close()
		st := c.ConnectionState()
		return st.PeerCertificates[0].Subject.CommonName, st.NegotiatedProtocol
	}
	if got, _ := cn(h2, "api.example.com"); got != "default.local" {
		t.Errorf("before the snapshot: got certificate %q; want default.local", got)
	}
	cur.Store(snap)
	if got, proto := cn(h2, "api.example.com"); got != "api.example.com" || proto != "h2" {
		t.Errorf("api.example.com on http2 listener: got %q over %q; want api.example.com over h2", got, proto)
	}
	if got, _ := cn(h2, "other.example.com"); got != "default.local" {
		t.Errorf("other.example.com: got certificate %q; want default.local", got)
	}
	if _, proto := cn(h1, "api.example.com"); proto == "h2" {
		t.Errorf("listener without http2 negotiated h2")
	}
}

func TestH2C(t *testing.T) {
	s := start(t, Options{ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr(s, KindProxy) + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/2.0" {
		t.Errorf("h2c prior knowledge: handler saw %q; want HTTP/2.0", b)
	}
}

func TestProxyProtocol(t *testing.T) {
	s := start(t, Options{Proxy: mustListen(t, "127.0.0.1:0 proxy_protocol"),
		ProxyHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.RemoteAddr)
		})})
	v2 := func(ip [4]byte, port uint16) string {
		b := append([]byte{}, proxyV2Sig...)
		b = append(b, 0x21, 0x11, 0, 12)
		b = append(b, ip[:]...)
		b = append(b, 10, 0, 0, 1, byte(port>>8), byte(port), 0, 80)
		return string(b)
	}
	tests := []struct {
		name, header, want string
	}{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n", "203.0.113.7:5555"},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 6000 443\r\n", "[2001:db8::1]:6000"},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "127.0.0.1:"},
		{"v2 tcp4", v2([4]byte{198, 51, 100, 9}, 4242), "198.51.100.9:4242"},
		{"missing header", "", ""},
		{"bad v1", "PROXY TCP4 nope 10.0.0.1 1 2\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr(s, KindProxy))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, tt.header+"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if tt.want == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got a response %d; want the connection closed", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(string(b), tt.want) {
				t.Errorf("RemoteAddr: got %q; want %q", b, tt.want)
			}
		})
	}
}

func TestIPv6OnlyByDefault(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 on this host")
	} else {
		ln.Close()
	}
	port := strconv.Itoa(freePortTCP(t))
	// Without ipv6only=on being the default, the IPv6 wildcard would take
	// the IPv4 port too and the second entry would fail to bind.
	s := start(t, Options{Proxy: mustListen(t, "[::]:"+port+", 0.0.0.0:"+port), ProxyHandler: http.NotFoundHandler()})
	if n := len(s.Addrs(KindProxy)); n != 2 {
		t.Fatalf("got %d proxy listeners; want 2", n)
	}
}

func freePortTCP(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestStatusSharedDicts: Options.SharedDicts fill lua_shared_dicts in
// Kong's shape, "12.00 MiB" strings by default and byte counts with
// ?unit=b, as Kong's own status spec reads them.
func TestStatusSharedDicts(t *testing.T) {
	cur := &snapshot.Current{}
	dicts := func() []memwatch.SharedDict {
		return []memwatch.SharedDict{{Name: "kong", Bytes: 1 << 20, Capacity: 5 << 20}, {Name: "kong_db_cache", Bytes: 3 << 19, Capacity: 128 << 20}}
	}
	s := start(t, Options{Current: cur, ProxyHandler: http.NotFoundHandler(), SharedDicts: dicts})
	base := "http://" + addr(s, KindStatus)
	read := func(query string) map[string]any {
		code, body := get(t, base+"/status"+query)
		var m map[string]any
		if code != 200 || json.Unmarshal(body, &m) != nil {
			t.Fatalf("GET /status%s = %d %s", query, code, body)
		}
		return m["memory"].(map[string]any)["lua_shared_dicts"].(map[string]any)
	}
	d := read("")
	want := map[string]any{
		"kong":          map[string]any{"allocated_slabs": "1.00 MiB", "capacity": "5.00 MiB"},
		"kong_db_cache": map[string]any{"allocated_slabs": "1.50 MiB", "capacity": "128.00 MiB"},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("lua_shared_dicts = %v\nwant %v", d, want)
	}
	if got := read("?unit=b")["kong"].(map[string]any)["capacity"]; got != float64(5<<20) {
		t.Errorf("?unit=b capacity = %v, want %d", got, 5<<20)
	}
}
