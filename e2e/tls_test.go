package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate and key for the given DNS names.
func selfSigned(t *testing.T, names ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// yamlString quotes s as a YAML double-quoted scalar (JSON strings are
// valid YAML).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// servedNames connects to the TLS listener with the given SNI and returns
// the DNS names of the certificate the gateway presented.
func servedNames(t *testing.T, port int, sni string) []string {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true,
	})
	if err != nil {
		t.Fatalf("TLS handshake with SNI %q: %v", sni, err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatalf("SNI %q: no certificate presented", sni)
	}
	names := append([]string(nil), certs[0].DNSNames...)
	if len(names) == 0 {
		names = []string{certs[0].Subject.CommonName}
	}
	return names
}

const tlsConfig = `_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/tls]
    protocols: [https]
  - name: redirect
    paths: [/redir]
    protocols: [https]
    https_redirect_status_code: 301
certificates:
- cert: ${CERT_A}
  key: ${KEY_A}
  snis: [{name: a.test}]
- cert: ${CERT_B}
  key: ${KEY_B}
  snis: [{name: '*.b.test'}]
`

// TestTLSBySNI checks that the HTTPS listener picks the certificate by SNI:
// exact name, wildcard, and the default for an unknown name (Kong's built-in
// default unless an SNI "*" is configured).
func TestTLSBySNI(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	certA, keyA := selfSigned(t, "a.test")
	certB, keyB := selfSigned(t, "*.b.test")
	certD, keyD := selfSigned(t, "default.test")
	vars := map[string]string{
		"UP":     up.url(),
		"CERT_A": yamlString(certA), "KEY_A": yamlString(keyA),
		"CERT_B": yamlString(certB), "KEY_B": yamlString(keyB),
	}
	withStar := tlsConfig + fmt.Sprintf("- cert: %s\n  key: %s\n  snis: [{name: '*'}]\n", yamlString(certD), yamlString(keyD))

	tests := []struct {
		name string
		cfg  string
		sni  string
		want string // a DNS name of the expected certificate; "" = neither a.test nor *.b.test
	}{
		{name: "exact", cfg: tlsConfig, sni: "a.test", want: "a.test"},
		{name: "wildcard", cfg: tlsConfig, sni: "x.b.test", want: "*.b.test"},
		{name: "wildcard other label", cfg: tlsConfig, sni: "yy.b.test", want: "*.b.test"},
		{name: "unknown gets the default", cfg: tlsConfig, sni: "unknown.test", want: ""},
		{name: "wildcard does not match the bare domain", cfg: tlsConfig, sni: "b.test", want: ""},
		{name: "star: exact still wins", cfg: withStar, sni: "a.test", want: "a.test"},
		{name: "star: wildcard still wins", cfg: withStar, sni: "x.b.test", want: "*.b.test"},
		{name: "star: unknown gets the star certificate", cfg: withStar, sni: "unknown.test", want: "default.test"},
	}
	gws := map[string]*gateway{}
	for _, cfg := range []string{tlsConfig, withStar} {
		gws[cfg] = startGateway(t, fill(cfg, vars))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := servedNames(t, gws[tt.cfg].httpsPort, tt.sni)
			if tt.want == "" {
				if slices.Contains(names, "a.test") || slices.Contains(names, "*.b.test") {
					t.Errorf("SNI %q got certificate %v; want the default certificate", tt.sni, names)
				}
				return
			}
			if !slices.Contains(names, tt.want) {
				t.Errorf("SNI %q got certificate %v; want the one for %s", tt.sni, names, tt.want)
			}
		})
	}

	t.Run("https route proxies", func(t *testing.T) {
		g := gws[tlsConfig]
		resp := g.mustDo(t, request{path: "/tls/x", tls: true})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
		}
		if e.URI != "/x" {
			t.Errorf("upstream request target = %q; want /x", e.URI)
		}
	})
	t.Run("https-only route over http", func(t *testing.T) {
		g := gws[tlsConfig]
		resp := g.mustDo(t, request{path: "/tls/x"})
		if resp.status != 426 {
			t.Fatalf("status = %d, body %q; want 426", resp.status, resp.body)
		}
		// Kong 3.x answers with kong.response.error (the JSON template with
		// request_id) and asks for an upgrade to TLS.
		id := resp.header.Get("X-Kong-Request-Id")
		want := "{\n  \"message\":\"Please use HTTPS protocol\",\n  \"request_id\":\"" + id + "\"\n}"
		if got := string(resp.body); got != want {
			t.Errorf("body = %q; want %q", got, want)
		}
		if got := resp.header.Get("Upgrade"); got != "TLS/1.2, HTTP/1.1" {
			t.Errorf("Upgrade = %q; want %q", got, "TLS/1.2, HTTP/1.1")
		}
		if got := resp.header.Get("Connection"); !strings.Contains(strings.ToLower(got), "upgrade") {
			t.Errorf("Connection = %q; want Upgrade", got)
		}
	})
	t.Run("https-only route with redirect", func(t *testing.T) {
		g := gws[tlsConfig]
		resp := g.mustDo(t, request{path: "/redir/x?y=1", host: "api.example.com:8000"})
		if resp.status != 301 {
			t.Fatalf("status = %d, body %q; want 301", resp.status, resp.body)
		}
		// Kong builds the Location from the forwarded host (without the
		// port) and the original request URI.
		if got, want := resp.header.Get("Location"), "https://api.example.com/redir/x?y=1"; got != want {
			t.Errorf("Location = %q; want %q", got, want)
		}
	})
}
