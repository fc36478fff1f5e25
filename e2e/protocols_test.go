package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// grpcFrame is a gRPC length-prefixed message (uncompressed).
func grpcFrame(msg []byte) []byte {
	out := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:5], uint32(len(msg)))
	copy(out[5:], msg)
	return out
}

// newH2CUpstream starts a cleartext HTTP/2 server that answers like a unary
// gRPC method: it echoes the request message and ends with trailers.
func newH2CUpstream(t *testing.T, seenProto, seenPath *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenProto.Store(r.Proto)
		seenPath.Store(r.URL.Path)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "echoed")
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestGRPC proxies a unary gRPC-style call from a prior-knowledge h2c client
// through the plain listener to an h2c upstream and checks the trailers.
func TestGRPC(t *testing.T) {
	t.Parallel()
	var seenProto, seenPath atomic.Value
	up := newH2CUpstream(t, &seenProto, &seenPath)
	_, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: grpc
  protocol: grpc
  host: 127.0.0.1
  port: ${PORT}
  routes:
  - name: grpc
    protocols: [grpc]
    paths: [/pkg.Echo/]
    strip_path: false
`, map[string]string{"PORT": upPort}), withProxyListen("127.0.0.1:%[1]d http2, 127.0.0.1:%[2]d ssl http2"))

	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, Protocols: protos}}
	msg := []byte("hello grpc")
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, g.url("/pkg.Echo/Say"), bytes.NewReader(grpcFrame(msg)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("h2c request through the proxy: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, body %q; want 200", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("client-side protocol = %s; want HTTP/2", resp.Proto)
	}
	if got, want := body, grpcFrame(msg); !bytes.Equal(got, want) {
		t.Errorf("response message = %q; want %q", got, want)
	}
	if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
		t.Errorf("trailer grpc-status = %q; want \"0\" (trailers: %v, headers: %v)", got, resp.Trailer, resp.Header)
	}
	if got := resp.Trailer.Get("Grpc-Message"); got != "echoed" {
		t.Errorf("trailer grpc-message = %q; want \"echoed\"", got)
	}
	if got, _ := seenProto.Load().(string); got != "HTTP/2.0" {
		t.Errorf("upstream saw protocol %q; want HTTP/2.0", got)
	}
	if got, _ := seenPath.Load().(string); got != "/pkg.Echo/Say" {
		t.Errorf("upstream saw path %q; want /pkg.Echo/Say", got)
	}
}

// TestGRPCMismatch checks Kong's answers when a gRPC route gets a request
// that is not HTTP/2 gRPC.
func TestGRPCMismatch(t *testing.T) {
	t.Parallel()
	var seenProto, seenPath atomic.Value
	up := newH2CUpstream(t, &seenProto, &seenPath)
	_, upPort, _ := net.SplitHostPort(up.Listener.Addr().String())
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: grpc
  protocol: grpc
  host: 127.0.0.1
  port: ${PORT}
  routes:
  - name: grpc
    protocols: [grpc]
    paths: [/pkg.Echo/]
    strip_path: false
`, map[string]string{"PORT": upPort}), withProxyListen("127.0.0.1:%[1]d http2, 127.0.0.1:%[2]d ssl http2"))

	t.Run("not grpc", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/pkg.Echo/Say", headers: map[string]string{"Accept": "application/json"}})
		if resp.status != 415 {
			t.Fatalf("status = %d, body %q; want 415", resp.status, resp.body)
		}
		id := resp.header.Get("X-Kong-Request-Id")
		want := "{\n  \"message\":\"Non-gRPC request matched gRPC route\",\n  \"request_id\":\"" + id + "\"\n}"
		if got := string(resp.body); got != want {
			t.Errorf("body = %q; want %q", got, want)
		}
	})
	t.Run("grpc over HTTP/1.1", func(t *testing.T) {
		resp := g.mustDo(t, request{method: "POST", path: "/pkg.Echo/Say", body: string(grpcFrame([]byte("x"))),
			headers: map[string]string{"Content-Type": "application/grpc"}})
		if resp.status != 426 {
			t.Fatalf("status = %d, body %q; want 426", resp.status, resp.body)
		}
	})
	if got, _ := seenPath.Load().(string); got != "" {
		t.Errorf("upstream received %q; want no request", got)
	}
}

// wsAccept computes Sec-WebSocket-Accept for a key (RFC 6455).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readWSFrame reads one small (< 126 bytes) frame and returns its unmasked
// payload.
func readWSFrame(r io.Reader) (opcode byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1] & 0x7f)
	if n >= 126 {
		return 0, nil, fmt.Errorf("frame too long for this test: %d", n)
	}
	var mask [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return hdr[0] & 0x0f, payload, nil
}

// wsFrame builds a final text frame, masked when mask is not nil.
func wsFrame(payload []byte, mask []byte) []byte {
	out := []byte{0x81, byte(len(payload))}
	if mask == nil {
		return append(out, payload...)
	}
	out[1] |= 0x80
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

// newWSUpstream starts an HTTP/1.1 server that completes a WebSocket
// handshake and echoes text frames back in upper case.
func newWSUpstream(t *testing.T, seenUpgrade *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenUpgrade.Store(r.Header.Get("Upgrade") + "|" + r.Header.Get("Connection"))
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		rw.Flush()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		for {
			op, payload, err := readWSFrame(rw)
			if err != nil || op != 1 {
				return
			}
			rw.Write(wsFrame(bytes.ToUpper(payload), nil))
			rw.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestWebSocket upgrades a connection through the proxy and exchanges
// frames with the upstream.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	var seenUpgrade atomic.Value
	up := newWSUpstream(t, &seenUpgrade)
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: ws
  url: ${UP}
  routes:
  - name: ws
    paths: [/ws]
`, map[string]string{"UP": up.URL}))

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", g.httpPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(conn, "GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", g.httpPort, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the handshake response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("handshake status = %d, body %q; want 101 (upstream saw Upgrade|Connection = %v)", resp.StatusCode, body, seenUpgrade.Load())
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key); got != want {
		t.Errorf("Sec-WebSocket-Accept = %q; want %q", got, want)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Errorf("Upgrade = %q; want websocket", got)
	}
	for _, msg := range []string{"hello", "second frame"} {
		if _, err := conn.Write(wsFrame([]byte(msg), []byte{1, 2, 3, 4})); err != nil {
			t.Fatalf("writing a frame: %v", err)
		}
		op, payload, err := readWSFrame(br)
		if err != nil {
			t.Fatalf("reading the echoed frame: %v", err)
		}
		if op != 1 || string(payload) != strings.ToUpper(msg) {
			t.Errorf("echo = opcode %d %q; want opcode 1 %q", op, payload, strings.ToUpper(msg))
		}
	}
}

// TestHTTP2OverTLS checks ALPN on the TLS listener: with the http2 flag a
// client negotiates HTTP/2 (also for gRPC over TLS, a grpcs route), without
// it (Kong: no "http2" in proxy_listen) the listener speaks HTTP/1.1 only.
func TestHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	var seenProto, seenPath atomic.Value
	grpcUp := newH2CUpstream(t, &seenProto, &seenPath)
	_, grpcPort, _ := net.SplitHostPort(grpcUp.Listener.Addr().String())
	up := newBackend(t, "up")
	cfg := fill(`_format_version: "3.0"
services:
- name: web
  url: ${UP}
  routes:
  - name: web
    paths: [/web]
- name: grpc
  protocol: grpc
  host: 127.0.0.1
  port: ${PORT}
  routes:
  - name: grpcs
    protocols: [grpcs]
    paths: [/pkg.Echo/]
    strip_path: false
`, map[string]string{"UP": up.url(), "PORT": grpcPort})
	withH2 := startGateway(t, cfg, withProxyListen("127.0.0.1:%[1]d, 127.0.0.1:%[2]d ssl http2"))
	withoutH2 := startGateway(t, cfg)

	h2Client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	tests := []struct {
		name      string
		g         *gateway
		wantMajor int
	}{
		{name: "ssl http2", g: withH2, wantMajor: 2},
		{name: "ssl without http2", g: withoutH2, wantMajor: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h2Client.Get(tt.g.tlsURL("/web/x"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, body %q; want 200", resp.StatusCode, body)
			}
			if resp.ProtoMajor != tt.wantMajor {
				t.Errorf("negotiated %s; want HTTP/%d", resp.Proto, tt.wantMajor)
			}
		})
	}

	t.Run("grpcs", func(t *testing.T) {
		msg := []byte("over tls")
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, withH2.tlsURL("/pkg.Echo/Say"), bytes.NewReader(grpcFrame(msg)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		resp, err := h2Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, grpcFrame(msg)) {
			t.Fatalf("status = %d, body %q; want 200 and the echoed message", resp.StatusCode, body)
		}
		if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
			t.Errorf("trailer grpc-status = %q; want \"0\"", got)
		}
	})
	t.Run("grpc on a grpcs-only route over plain h2c", func(t *testing.T) {
		protos := new(http.Protocols)
		protos.SetUnencryptedHTTP2(true)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, Protocols: protos}}
		g := startGateway(t, cfg, withProxyListen("127.0.0.1:%[1]d http2, 127.0.0.1:%[2]d ssl http2"))
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, g.url("/pkg.Echo/Say"), bytes.NewReader(grpcFrame([]byte("x"))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// Kong: 200 with grpc-status 1 and a message naming the mismatch.
		if resp.StatusCode != 200 {
			t.Errorf("status = %d; want 200", resp.StatusCode)
		}
		status := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
		if status != "1" {
			t.Errorf("grpc-status = %q; want \"1\"", status)
		}
		msg := resp.Header.Get("Grpc-Message") + resp.Trailer.Get("Grpc-Message")
		if msg != "gRPC request matched gRPCs route" {
			t.Errorf("grpc-message = %q; want %q", msg, "gRPC request matched gRPCs route")
		}
	})
}
