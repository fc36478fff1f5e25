package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

var viaRe = regexp.MustCompile(`^(1\.1 )?kong/\S+$`)

// TestProxyHeaders checks the headers Kong adds upstream (X-Forwarded-*,
// X-Real-IP, X-Kong-Request-Id) and downstream (Via, latencies, request id,
// Server only when the upstream sent none).
func TestProxyHeaders(t *testing.T) {
	t.Parallel()
	plain := newBackend(t, "plain")
	named := newBackendWithServer(t, "named", "upstream-server/1.0")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: plain
  url: ${PLAIN}
  routes:
  - name: stripped
    paths: [/hdrs]
  - name: unstripped
    paths: [/keep]
    strip_path: false
- name: named
  url: ${NAMED}
  routes:
  - name: named
    paths: [/named]
`, map[string]string{"PLAIN": plain.url(), "NAMED": named.url()}))

	tests := []struct {
		name       string
		req        request
		wantHeader map[string]string // upstream request headers; "" = must be absent
		wantServer string            // downstream Server header; prefix match for "kong/"
	}{
		{
			name: "stripped route over http",
			req:  request{path: "/hdrs/x/y?q=1"},
			wantHeader: map[string]string{
				"X-Forwarded-For":    "127.0.0.1",
				"X-Forwarded-Proto":  "http",
				"X-Forwarded-Host":   "127.0.0.1",
				"X-Forwarded-Port":   strconv.Itoa(g.httpPort),
				"X-Forwarded-Path":   "/hdrs/x/y",
				"X-Forwarded-Prefix": "/hdrs",
				"X-Real-Ip":          "127.0.0.1",
			},
			wantServer: "kong/",
		},
		{
			name: "unstripped route has no prefix",
			req:  request{path: "/keep/z", host: "api.example.com"},
			wantHeader: map[string]string{
				"X-Forwarded-Host":   "api.example.com",
				"X-Forwarded-Path":   "/keep/z",
				"X-Forwarded-Prefix": "",
			},
			wantServer: "kong/",
		},
		{
			name: "client X-Forwarded-For is appended to, untrusted X-Forwarded-* replaced",
			req: request{path: "/hdrs/x", headers: map[string]string{
				"X-Forwarded-For":   "203.0.113.7",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "evil.example",
				"X-Forwarded-Port":  "9999",
				"X-Real-IP":         "203.0.113.8",
			}},
			wantHeader: map[string]string{
				"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "127.0.0.1",
				"X-Forwarded-Port":  strconv.Itoa(g.httpPort),
				"X-Real-Ip":         "127.0.0.1",
			},
			wantServer: "kong/",
		},
		{
			name: "https listener",
			req:  request{path: "/hdrs/s", tls: true},
			wantHeader: map[string]string{
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Port":  strconv.Itoa(g.httpsPort),
				"X-Forwarded-Path":  "/hdrs/s",
			},
			wantServer: "kong/",
		},
		{
			name:       "upstream Server header is kept",
			req:        request{path: "/named/x"},
			wantServer: "upstream-server/1.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := g.mustDo(t, tt.req)
			if resp.status != 200 {
				t.Fatalf("status = %d, body %q; want 200", resp.status, resp.body)
			}
			e, ok := decodeEcho(resp.body)
			if !ok {
				t.Fatalf("body is not an upstream echo: %q", resp.body)
			}
			for k, want := range tt.wantHeader {
				got := strings.Join(e.Headers.Values(k), ", ")
				if got != want {
					t.Errorf("upstream %s = %q; want %q", k, got, want)
				}
			}
			upID := e.Headers.Get("X-Kong-Request-Id")
			if !requestIDRe.MatchString(upID) {
				t.Errorf("upstream X-Kong-Request-Id = %q; want 32 hex digits", upID)
			}
			downID := resp.header.Get("X-Kong-Request-Id")
			if downID != upID {
				t.Errorf("downstream X-Kong-Request-Id = %q; want the one sent upstream %q", downID, upID)
			}
			if got := resp.header.Get("Via"); !viaRe.MatchString(got) {
				t.Errorf("Via = %q; want kong/<version> (optionally prefixed by 1.1)", got)
			}
			for _, h := range []string{"X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency"} {
				if got := resp.header.Get(h); !isUint(got) {
					t.Errorf("%s = %q; want a number of milliseconds", h, got)
				}
			}
			if got := resp.header.Get("X-Kong-Response-Latency"); got != "" {
				t.Errorf("X-Kong-Response-Latency = %q; want none on a proxied response", got)
			}
			gotServer := resp.header.Get("Server")
			if tt.wantServer == "kong/" {
				if !strings.HasPrefix(gotServer, "kong/") {
					t.Errorf("Server = %q; want kong/<version> when the upstream sent none", gotServer)
				}
			} else if gotServer != tt.wantServer {
				t.Errorf("Server = %q; want the upstream's %q", gotServer, tt.wantServer)
			}
			if got := resp.header.Get("X-Backend"); got != e.Server {
				t.Errorf("upstream response header X-Backend = %q; want %q", got, e.Server)
			}
		})
	}

	t.Run("request ids differ", func(t *testing.T) {
		seen := map[string]bool{}
		for range 20 {
			resp := g.mustDo(t, request{path: "/hdrs/id"})
			id := resp.header.Get("X-Kong-Request-Id")
			if seen[id] {
				t.Fatalf("X-Kong-Request-Id %q repeated", id)
			}
			seen[id] = true
		}
	})

	t.Run("hop-by-hop headers are not forwarded", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/hdrs/hop", headers: map[string]string{
			"Connection":       "keep-alive, X-Secret-Hop",
			"X-Secret-Hop":     "1",
			"Proxy-Connection": "keep-alive",
		}})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
		}
		for _, h := range []string{"X-Secret-Hop", "Proxy-Connection"} {
			if got := e.Headers.Get(h); got != "" {
				t.Errorf("upstream received %s = %q; want it removed", h, got)
			}
		}
	})

	t.Run("request body reaches the upstream", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 64*1024) // 1 MiB
		resp := g.mustDo(t, request{method: "POST", path: "/hdrs/upload", body: body,
			headers: map[string]string{"Content-Type": "application/octet-stream"}})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d; want 200 from upstream", resp.status)
		}
		if e.Method != "POST" {
			t.Errorf("upstream method = %q; want POST", e.Method)
		}
		if len(e.Body) != len(body) || e.Body != body {
			t.Errorf("upstream received %d body bytes; want the %d sent, unchanged", len(e.Body), len(body))
		}
	})
}

// TestHTTPSUpstream proxies to an HTTPS service with a self-signed
// certificate: Kong does not verify upstream certificates unless tls_verify
// is set, and sends the service host as SNI.
func TestHTTPSUpstream(t *testing.T) {
	t.Parallel()
	var sni atomic.Value
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Proto", r.Proto)
		fmt.Fprintf(w, "tls=%t path=%s", r.TLS != nil, r.URL.Path)
	}))
	up.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: secure
  protocol: https
  host: localhost
  port: ${PORT}
  routes:
  - name: secure
    paths: [/secure]
`, map[string]string{"PORT": port}))
	resp := g.mustDo(t, request{path: "/secure/x"})
	if resp.status != 200 {
		t.Fatalf("status = %d, body %q; want 200", resp.status, resp.body)
	}
	if got, want := string(resp.body), "tls=true path=/x"; got != want {
		t.Errorf("upstream answered %q; want %q", got, want)
	}
	if got, _ := sni.Load().(string); got != "localhost" {
		t.Errorf("upstream TLS SNI = %q; want the service host %q", got, "localhost")
	}
}

// TestTrustedIPs checks that X-Forwarded-* and X-Real-IP from a client in
// trusted_ips are kept, and that X-Forwarded-Proto: https from it satisfies
// an https-only route.
func TestTrustedIPs(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/t]
  - name: secure
    paths: [/secure]
    protocols: [https]
`, map[string]string{"UP": up.url()}), withEnv("KONG_TRUSTED_IPS=127.0.0.1/32"))

	tests := []struct {
		name       string
		req        request
		wantHeader map[string]string
	}{
		{
			name: "forwarded headers kept",
			req: request{path: "/t/x", headers: map[string]string{
				"X-Forwarded-For":    "203.0.113.7",
				"X-Forwarded-Proto":  "https",
				"X-Forwarded-Host":   "public.example.com",
				"X-Forwarded-Port":   "443",
				"X-Forwarded-Path":   "/outer/t/x",
				"X-Forwarded-Prefix": "/outer",
			}},
			wantHeader: map[string]string{
				"X-Forwarded-For":    "203.0.113.7, 127.0.0.1",
				"X-Forwarded-Proto":  "https",
				"X-Forwarded-Host":   "public.example.com",
				"X-Forwarded-Port":   "443",
				"X-Forwarded-Path":   "/outer/t/x",
				"X-Forwarded-Prefix": "/outer",
			},
		},
		{
			name: "missing ones computed",
			req:  request{path: "/t/y"},
			wantHeader: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "127.0.0.1",
				"X-Forwarded-Port":  strconv.Itoa(g.httpPort),
				"X-Forwarded-Path":  "/t/y",
			},
		},
		{
			name:       "https-only route behind a TLS terminator",
			req:        request{path: "/secure/z", headers: map[string]string{"X-Forwarded-Proto": "https"}},
			wantHeader: map[string]string{"X-Forwarded-Proto": "https"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := g.mustDo(t, tt.req)
			e, ok := decodeEcho(resp.body)
			if resp.status != 200 || !ok {
				t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
			}
			for k, want := range tt.wantHeader {
				if got := strings.Join(e.Headers.Values(k), ", "); got != want {
					t.Errorf("upstream %s = %q; want %q", k, got, want)
				}
			}
		})
	}
}
