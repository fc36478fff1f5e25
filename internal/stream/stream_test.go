package stream_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/iprestriction" // registers ip-restriction
	"sluice/internal/server"
	"sluice/internal/settings"
	"sluice/internal/snapshot"
	"sluice/internal/stream"
	"sluice/internal/upstream"
)

// echoServer answers each line with its prefix and the line, and closes
// its side after the client has closed its own (a half-close passed on).
func echoServer(t *testing.T, prefix string, cert *tls.Certificate) string {
	t.Helper()
	var ln net.Listener
	var err error
	if cert != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := io.WriteString(c, prefix+sc.Text()+"\n"); err != nil {
						return
					}
				}
				_, _ = io.WriteString(c, prefix+"bye\n")
			}()
		}
	}()
	return ln.Addr().String()
}

func hostPort(t *testing.T, addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

type fixture struct {
	plain, ssl         string // the stream listeners' addresses
	plainPort, sslPort int
	cur                *snapshot.Current
	pool               *upstream.Pool
}

// start opens a plain and an ssl stream listener, serving no config yet.
func start(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{cur: &snapshot.Current{}, pool: upstream.NewPool()}
	t.Cleanup(f.pool.Close)
	def, err := snapshot.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	px := stream.New(stream.Options{Current: f.cur, DefaultCert: def})
	srv := server.New(server.Options{
		Stream:        []settings.Listen{{Host: "127.0.0.1"}, {Host: "127.0.0.1", SSL: true}},
		StreamHandler: px.ServeConn,
		Current:       f.cur,
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addrs := srv.Addrs(server.KindStream)
	if len(addrs) != 2 {
		t.Fatalf("stream listeners %v", addrs)
	}
	f.plain, f.ssl = addrs[0].String(), addrs[1].String()
	_, f.plainPort = hostPort(t, f.plain)
	_, f.sslPort = hostPort(t, f.ssl)
	return f
}

// serve builds cfg and makes it the served snapshot.
func (f *fixture) serve(t *testing.T, cfg *model.Config) {
	t.Helper()
	snap, err := snapshot.Build(f.cur.Load(), cfg, "0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: f.pool, Plugins: plugin.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	f.cur.Store(snap)
}

func service(id, protocol, host string, port int) *model.Service {
	return &model.Service{ID: id, Protocol: protocol, Host: host, Port: port, Retries: 2, ConnectTimeout: 2000,
		ReadTimeout: 5000, WriteTimeout: 5000, Enabled: true}
}

func route(id string, protocols []string, svc *model.Service, dstPort int, snis ...string) *model.Route {
	r := &model.Route{ID: id, Protocols: protocols, SNIs: snis, Service: &model.ForeignKey{ID: svc.ID}}
	if dstPort != 0 {
		r.Destinations = []model.CIDRPort{{Port: &dstPort}}
	}
	return r
}

// talk sends two lines, half-closes, and reads everything back.
func talk(t *testing.T, c net.Conn) string {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	switch cw := c.(type) {
	case *net.TCPConn:
		_ = cw.CloseWrite()
	case *tls.Conn:
		_ = cw.CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

func dialTLS(t *testing.T, addr, sni string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // test certificates
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStreamRoutes(t *testing.T) {
	upCert, err := snapshot.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	plainHost, plainPort := hostPort(t, echoServer(t, "plain:", nil))
	tlsHost, tlsPort := hostPort(t, echoServer(t, "tls:", upCert))
	f := start(t)

	plainSvc := service("00000000-0000-4000-8000-000000000001", "tcp", plainHost, plainPort)
	tlsSvc := service("00000000-0000-4000-8000-000000000002", "tls", tlsHost, tlsPort)
	passSvc := service("00000000-0000-4000-8000-000000000003", "tcp", tlsHost, tlsPort)
	f.serve(t, &model.Config{
		Services: []*model.Service{plainSvc, tlsSvc, passSvc},
		Routes: []*model.Route{
			route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, plainSvc, f.plainPort),
			route("00000000-0000-4000-8000-000000000012", []string{"tls"}, tlsSvc, f.sslPort, "upstream-tls.test"),
			route("00000000-0000-4000-8000-000000000013", []string{"tls"}, plainSvc, f.sslPort),
			// With a destination: a route with only snis would also take
			// plain connections (Kong ignores snis without TLS).
			route("00000000-0000-4000-8000-000000000014", []string{"tls_passthrough"}, passSvc, f.sslPort, "pass.test"),
		},
	})
	want := func(prefix string) string { return prefix + "one\n" + prefix + "two\n" + prefix + "bye\n" }

	t.Run("tcp", func(t *testing.T) {
		if got := talk(t, dial(t, f.plain)); got != want("plain:") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("tls terminated, tcp upstream", func(t *testing.T) {
		c := dialTLS(t, f.ssl, "other.test")
		if got := c.ConnectionState().PeerCertificates[0].Raw; bytes.Equal(got, upCert.Leaf.Raw) {
			t.Fatal("the upstream's certificate was presented: not terminated")
		}
		if got := talk(t, c); got != want("plain:") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("tls terminated, tls upstream", func(t *testing.T) {
		if got := talk(t, dialTLS(t, f.ssl, "upstream-tls.test")); got != want("tls:") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("tls passthrough", func(t *testing.T) {
		c := dialTLS(t, f.ssl, "pass.test")
		if got := c.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, upCert.Leaf.Raw) {
			t.Fatal("sluice's certificate was presented: the connection was not passed through")
		}
		if got := talk(t, c); got != want("tls:") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("no route closes", func(t *testing.T) {
		f2 := start(t)
		f2.serve(t, &model.Config{Services: []*model.Service{plainSvc},
			Routes: []*model.Route{route("00000000-0000-4000-8000-000000000021", []string{"tcp"}, plainSvc, 1)}})
		c := dial(t, f2.plain)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Fatalf("got %q, %v; want the connection closed", b, err)
		}
	})
	t.Run("not TLS on the ssl listener", func(t *testing.T) {
		c := dial(t, f.ssl)
		if got := talk(t, c); strings.Contains(got, "one") {
			t.Fatalf("plain text passed through an ssl listener: %q", got)
		}
	})
}

// An upstream entity balances stream connections; a dead target is
// retried on the next one.
func TestStreamUpstreamRetries(t *testing.T) {
	liveHost, livePort := hostPort(t, echoServer(t, "live:", nil))
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	f := start(t)
	svc := service("00000000-0000-4000-8000-000000000001", "tcp", "pool.test", 80)
	name := "pool.test"
	up := &model.Upstream{ID: "00000000-0000-4000-8000-000000000031", Name: name, Algorithm: "round-robin", Slots: 100, HashOn: "none", HashFallback: "none"}
	f.serve(t, &model.Config{
		Services:  []*model.Service{svc},
		Routes:    []*model.Route{route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, svc, f.plainPort)},
		Upstreams: []*model.Upstream{up},
		Targets: []*model.Target{
			{ID: "00000000-0000-4000-8000-000000000041", Target: deadAddr, Weight: 100, Upstream: &model.ForeignKey{ID: up.ID}},
			{ID: "00000000-0000-4000-8000-000000000042", Target: net.JoinHostPort(liveHost, strconv.Itoa(livePort)), Weight: 100, Upstream: &model.ForeignKey{ID: up.ID}},
		},
	})
	for i := range 4 {
		if got := talk(t, dial(t, f.plain)); got != "live:one\nlive:two\nlive:bye\n" {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
}

// On a proxy_protocol listener the PROXY header's client address is the
// one routes match their sources against.
func TestStreamProxyProtocolSources(t *testing.T) {
	aHost, aPort := hostPort(t, echoServer(t, "lan:", nil))
	bHost, bPort := hostPort(t, echoServer(t, "wan:", nil))
	cur := &snapshot.Current{}
	pool := upstream.NewPool()
	t.Cleanup(pool.Close)
	var trusted atomic.Bool
	trusted.Store(true)
	srv := server.New(server.Options{
		Stream:        []settings.Listen{{Host: "127.0.0.1", ProxyProtocol: true}},
		StreamHandler: stream.New(stream.Options{Current: cur, Trusted: func(a netip.Addr) bool { return trusted.Load() }}).ServeConn,
		Current:       cur,
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := srv.Addrs(server.KindStream)[0].String()
	lan := service("00000000-0000-4000-8000-000000000001", "tcp", aHost, aPort)
	wan := service("00000000-0000-4000-8000-000000000002", "tcp", bHost, bPort)
	cidr := "10.0.0.0/8"
	lanRoute := route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, lan, 0)
	lanRoute.Sources = []model.CIDRPort{{IP: &cidr}}
	_, port := hostPort(t, addr)
	wanRoute := route("00000000-0000-4000-8000-000000000012", []string{"tcp"}, wan, port)
	snap, err := snapshot.Build(nil, &model.Config{Services: []*model.Service{lan, wan}, Routes: []*model.Route{lanRoute, wanRoute}},
		"0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: pool, Plugins: plugin.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(snap)
	for _, tc := range []struct {
		client, want string
		trusted      bool
	}{{"10.1.2.3", "lan:", true}, {"192.0.2.7", "wan:", true}, {"10.1.2.3", "wan:", false}} {
		trusted.Store(tc.trusted)
		c := dial(t, addr)
		if _, err := io.WriteString(c, "PROXY TCP4 "+tc.client+" 127.0.0.1 40000 "+strconv.Itoa(port)+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if got := talk(t, c); got != tc.want+"one\n"+tc.want+"two\n"+tc.want+"bye\n" {
			t.Errorf("client %s (peer trusted: %v): %q; want the %s service", tc.client, tc.trusted, got, tc.want)
		}
	}
}

// The idle timeout is one clock for both directions: an answer that
// streams while the client sends nothing keeps the session; silence on
// both sides ends it.
func TestStreamIdleTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for range 8 { // 8 ticks of 100 ms: longer than the 300 ms idle
					if _, err := c.Write([]byte("t")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(5 * time.Second) // then silence
			}()
		}
	}()
	host, port := hostPort(t, ln.Addr().String())
	f := start(t)
	svc := service("00000000-0000-4000-8000-000000000001", "tcp", host, port)
	svc.ReadTimeout, svc.WriteTimeout = 300, 300
	f.serve(t, &model.Config{Services: []*model.Service{svc},
		Routes: []*model.Route{route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, svc, f.plainPort)}})
	c := dial(t, f.plain)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "tttttttt" {
		t.Fatalf("got %q, %v; want the 8 ticks", b, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the silent session lasted %v; want it closed about 300 ms after the last tick", d)
	}
}

// On an ssl listener, a route that takes neither tls nor tls_passthrough
// closes the connection (Kong: "unexpected protocols in matched Route").
func TestStreamSSLListenerTCPRoute(t *testing.T) {
	host, port := hostPort(t, echoServer(t, "plain:", nil))
	f := start(t)
	svc := service("00000000-0000-4000-8000-000000000001", "tcp", host, port)
	f.serve(t, &model.Config{Services: []*model.Service{svc},
		Routes: []*model.Route{route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, svc, f.sslPort)}})
	if _, err := tls.Dial("tcp", f.ssl, &tls.Config{ServerName: "x.test", InsecureSkipVerify: true}); err == nil { //nolint:gosec // test
		t.Fatal("the handshake succeeded for a tcp route")
	}
}

// ip-restriction runs on stream routes (preread): a denied client gets
// the message and no upstream; an allowed one is proxied.
func TestStreamIPRestriction(t *testing.T) {
	host, port := hostPort(t, echoServer(t, "plain:", nil))
	f := start(t)
	svc := service("00000000-0000-4000-8000-000000000001", "tcp", host, port)
	denied := route("00000000-0000-4000-8000-000000000011", []string{"tcp"}, svc, f.plainPort)
	allowedRoute := route("00000000-0000-4000-8000-000000000012", []string{"tls"}, svc, f.sslPort)
	def, ok := plugin.Lookup("ip-restriction")
	if !ok {
		t.Fatal("ip-restriction not registered")
	}
	mk := func(id string, r *model.Route, cfg map[string]any) *model.Plugin {
		rec, err := def.Schema.Process(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &model.Plugin{ID: id, Name: "ip-restriction", Enabled: true, Config: rec, Route: &model.ForeignKey{ID: r.ID},
			Protocols: []string{"tcp", "tls", "tls_passthrough"}}
	}
	f.serve(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{denied, allowedRoute},
		Plugins: []*model.Plugin{
			mk("00000000-0000-4000-8000-000000000021", denied, map[string]any{"deny": []any{"127.0.0.0/8"}}),
			mk("00000000-0000-4000-8000-000000000022", allowedRoute, map[string]any{"allow": []any{"127.0.0.1"}}),
		}})
	if got := talk(t, dial(t, f.plain)); got != `{"message":"IP address not allowed: 127.0.0.1"}` {
		t.Fatalf("denied client got %q", got)
	}
	if got := talk(t, dialTLS(t, f.ssl, "x.test")); got != "plain:one\nplain:two\nplain:bye\n" {
		t.Fatalf("allowed client got %q", got)
	}
}
