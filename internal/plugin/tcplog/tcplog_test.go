package tcplog

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// server accepts connections on ln and sends every line it reads to
// lines; accepted counts the connections.
func server(t *testing.T, ln net.Listener) (lines chan string, accepted *atomic.Int64) {
	t.Helper()
	lines, accepted = make(chan string, 100), &atomic.Int64{}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
		}
	}()
	return lines, accepted
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func instance(t *testing.T, cfg string) *TCPLog {
	t.Helper()
	p := proxytest.Instance[*TCPLog](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

func logOne(p *TCPLog, path string) {
	r := httptest.NewRequest("GET", path, nil)
	p.Log(&plugin.Ctx{Request: r, ClientIP: "10.0.0.9", Status: 200})
}

func next(t *testing.T, lines chan string) map[string]any {
	t.Helper()
	select {
	case l := <-lines:
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no entry reached the server")
	}
	return nil
}

func addrCfg(ln net.Listener, extra string) string {
	a := ln.Addr().(*net.TCPAddr)
	return fmt.Sprintf(`{"host":"127.0.0.1","port":%d%s}`, a.Port, extra)
}

func TestSendsLinesOnOneConnection(t *testing.T) {
	ln := listen(t)
	lines, accepted := server(t, ln)
	p := instance(t, addrCfg(ln, ""))
	for i := range 3 {
		logOne(p, fmt.Sprintf("/r%d", i))
	}
	for i := range 3 {
		m := next(t, lines)
		req, _ := m["request"].(map[string]any)
		if m["client_ip"] != "10.0.0.9" || req["uri"] != fmt.Sprintf("/r%d", i) {
			t.Errorf("entry %d: client_ip %v, request %v", i, m["client_ip"], req)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections for 3 entries; want 1 kept open (keepalive 60 s)", n)
	}
}

// TestReconnectsAfterServerClose: a server that closes the connection after
// each line gets every entry, each on a new connection, over plain TCP and
// over TLS (whose server sends session tickets the sender never asked for).
func TestReconnectsAfterServerClose(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		ln := listen(t)
		extra := ""
		if useTLS {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
			extra = `,"tls":true`
		}
		var accepted atomic.Int64
		lines := make(chan string, 10)
		t.Cleanup(func() { ln.Close() })
		go func() { // reads one line per connection, then closes it
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				l, _ := bufio.NewReader(c).ReadString('\n')
				lines <- l
				c.Close()
			}
		}()
		p := instance(t, addrCfg(ln, extra))
		for _, want := range []string{"/a", "/b", "/c"} {
			logOne(p, want)
			m := next(t, lines)
			if req, _ := m["request"].(map[string]any); req["uri"] != want {
				t.Errorf("tls %v: got %v; want %s", useTLS, req["uri"], want)
			}
			time.Sleep(50 * time.Millisecond) // the close reaches the sender's side
		}
		if n := accepted.Load(); n != 3 {
			t.Errorf("tls %v: %d connections; want 3 (the server closes each after a line)", useTLS, n)
		}
	}
}

func TestShortKeepaliveReconnects(t *testing.T) {
	ln := listen(t)
	lines, accepted := server(t, ln)
	p := instance(t, addrCfg(ln, `,"keepalive":1`))
	logOne(p, "/a")
	next(t, lines)
	time.Sleep(20 * time.Millisecond) // idle past keepalive
	logOne(p, "/b")
	next(t, lines)
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (idle past keepalive)", n)
	}
}

func TestTLS(t *testing.T) {
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	lines, _ := server(t, ln)
	p := instance(t, addrCfg(ln, `,"tls":true,"tls_sni":"logs.example.com"`))
	logOne(p, "/tls")
	if req, _ := next(t, lines)["request"].(map[string]any); req["uri"] != "/tls" {
		t.Errorf("got %v over TLS", req)
	}
}

func TestUnreachableDropsAndCounts(t *testing.T) {
	ln := listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"timeout":200}`, port))
	logOne(p, "/x")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, d := p.s.box.Counts(); d == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the entry for an unreachable server was not counted as dropped")
}

func TestThroughProxy(t *testing.T) {
	ln := listen(t)
	lines, _ := server(t, ln)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"tcp-log": addrCfg(ln, "")})
	res, _ := g.Do(t, "GET", "/through?q=1", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	m := next(t, lines)
	resp, _ := m["response"].(map[string]any)
	if req, _ := m["request"].(map[string]any); req["uri"] != "/through?q=1" || resp["status"] != float64(200) {
		t.Errorf("entry request %v response %v", m["request"], resp)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"logs.example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func BenchmarkLog(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = bufio.NewReader(c).WriteTo(discard{}) }()
		}
	}()
	p := proxytest.Instance[*TCPLog](b, Schema, New, addrCfg(ln, ""))
	defer p.Close()
	c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/bench", nil), ClientIP: "10.0.0.9", Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		p.Log(c)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
