package hmacauth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	_ "sluice/internal/plugin/hmacauth"
	"sluice/internal/proxytest"
)

// cid is the consumer alice's id; her hmac-auth credential is alice-hmac,
// secret s3cret.
const cid = "00000000-0000-4000-8000-0000000000c1"

// serveAlice serves an echo upstream behind hmac-auth configured with cfg.
func serveAlice(t *testing.T, cfg string) *proxytest.Gateway {
	t.Helper()
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	c := proxytest.Config(t, up.URL, map[string]string{"hmac-auth": cfg})
	alice := "alice"
	c.Consumers = []*model.Consumer{{ID: cid, Username: &alice}}
	c.HMACAuthCredentials = []*model.HMACAuthCredential{{ID: "00000000-0000-4000-8000-0000000000a1",
		Consumer: &model.ForeignKey{ID: cid}, Username: "alice-hmac", Secret: "s3cret"}}
	return proxytest.Serve(t, c)
}

func TestThroughProxy(t *testing.T) {
	g := serveAlice(t, `{"hide_credentials":true,"realm":"orders","validate_request_body":true}`)

	date := time.Now().UTC().Format(http.TimeFormat)
	body := `{"order":1}`
	sum := sha256.Sum256([]byte(body))
	digest := "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
	sign := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("date: " + date + "\ndigest: " + digest + "\nPOST /x?a=1 HTTP/1.1"))
		return `hmac username="alice-hmac",algorithm="hmac-sha256",headers="date digest request-line",signature="` +
			base64.StdEncoding.EncodeToString(m.Sum(nil)) + `"`
	}
	res, got := g.Do(t, "POST", "/x?a=1", map[string]string{"Date": date, "Digest": digest, "Authorization": sign("s3cret"),
		"X-Consumer-Id": "spoofed"}, body)
	if res.StatusCode != 200 {
		t.Fatalf("signed request: %d %s", res.StatusCode, got)
	}
	e := proxytest.DecodeEcho(t, got)
	for h, want := range map[string]string{"X-Consumer-Id": cid, "X-Consumer-Username": "alice",
		"X-Credential-Identifier": "alice-hmac", "Authorization": ""} {
		if v := e.Headers.Get(h); v != want {
			t.Errorf("upstream %s = %q; want %q", h, v, want)
		}
	}
	if e.Body != body {
		t.Errorf("upstream body %q; want %q (read for the digest, then forwarded)", e.Body, body)
	}

	res, got = g.Do(t, "POST", "/x?a=1", map[string]string{"Date": date, "Digest": digest, "Authorization": sign("wrong")}, body)
	if res.StatusCode != 401 || proxytest.Message(t, got) != "HMAC signature does not match" ||
		res.Header.Get("WWW-Authenticate") != `hmac realm="orders"` {
		t.Errorf("wrong secret: %d %s %q", res.StatusCode, got, res.Header.Get("WWW-Authenticate"))
	}
}

// TestSignedHostThroughProxy: a client that signs the Host header (Go's
// server keeps it out of the header map) is verified.
func TestSignedHostThroughProxy(t *testing.T) {
	g := serveAlice(t, `{}`)
	date := time.Now().UTC().Format(http.TimeFormat)
	host := strings.TrimPrefix(g.URL, "http://")
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("date: " + date + "\nhost: " + host + "\nGET /x HTTP/1.1"))
	auth := `hmac username="alice-hmac",algorithm="hmac-sha256",headers="date host request-line",signature="` +
		base64.StdEncoding.EncodeToString(m.Sum(nil)) + `"`
	if res, body := g.Do(t, "GET", "/x", map[string]string{"Date": date, "Authorization": auth}, ""); res.StatusCode != 200 {
		t.Errorf("signed host: %d %s", res.StatusCode, body)
	}
}
