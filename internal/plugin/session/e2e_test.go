package session

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/keyauth"
	_ "sluice/internal/plugin/requesttermination"
	"sluice/internal/proxytest"
)

const (
	aliceID = "00000000-0000-4000-8000-0000000000c1"
	anonID  = "00000000-0000-4000-8000-0000000000c9"
	credID  = "00000000-0000-4000-8000-0000000000a1"
)

// gateway serves session (with sessionCfg) and key-auth with an anonymous
// consumer, whom request-termination answers with 403: Kong's documented
// set-up, where either the key or the session lets a request in.
func gateway(t *testing.T, sessionCfg string) *proxytest.Gateway {
	t.Helper()
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"session":  sessionCfg,
		"key-auth": `{"anonymous":"` + anonID + `"}`,
	})
	alice, anon := "alice", "anon"
	cfg.Consumers = []*model.Consumer{{ID: aliceID, Username: &alice}, {ID: anonID, Username: &anon}}
	cfg.KeyAuthCredentials = []*model.KeyAuthCredential{{ID: credID, Consumer: &model.ForeignKey{ID: aliceID}, Key: "alice-key"}}
	def, _ := plugin.Lookup("request-termination")
	rec, err := def.Schema.Process(map[string]any{"status_code": 403, "message": "So it goes."}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Plugins = append(cfg.Plugins, &model.Plugin{ID: "00000000-0000-4000-8000-000000000099", Name: "request-termination",
		Config: rec, Enabled: true, Protocols: []string{"http", "https"}, Consumer: &model.ForeignKey{ID: anonID}})
	return proxytest.Serve(t, cfg)
}

func TestThroughProxy(t *testing.T) {
	g := gateway(t, `{"secret":"e2e-secret","cookie_secure":false,"cookie_same_site":"Lax","idling_timeout":600}`)

	// No key, no session: the anonymous consumer is turned away.
	res, body := g.Do(t, "GET", "/x", nil, "")
	if res.StatusCode != 403 || proxytest.Message(t, body) != "So it goes." {
		t.Fatalf("anonymous: %d %s; want 403", res.StatusCode, body)
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("anonymous: Set-Cookie %q", sc)
	}

	// The key logs in and gets the cookie.
	res, body = g.Do(t, "GET", "/x", map[string]string{"apikey": "alice-key"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("key: %d %s", res.StatusCode, body)
	}
	sc := res.Header.Values("Set-Cookie")
	if len(sc) != 1 || !strings.HasPrefix(sc[0], "session=") || !strings.HasSuffix(sc[0], "; Path=/; SameSite=Lax; HttpOnly") {
		t.Fatalf("Set-Cookie %q", sc)
	}
	cookie, _, _ := strings.Cut(sc[0], ";")

	// The cookie alone lets the same consumer in.
	res, body = g.Do(t, "GET", "/x", map[string]string{"Cookie": cookie}, "")
	if res.StatusCode != 200 {
		t.Fatalf("cookie: %d %s", res.StatusCode, body)
	}
	e := proxytest.DecodeEcho(t, body)
	for h, want := range map[string]string{"X-Consumer-Id": aliceID, "X-Consumer-Username": "alice",
		"X-Credential-Identifier": credID, "X-Anonymous-Consumer": ""} {
		if got := e.Headers.Get(h); got != want {
			t.Errorf("cookie: upstream %s = %q; want %q", h, got, want)
		}
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("cookie: session re-issued: %q", sc)
	}

	// A tampered cookie is no session.
	name, value, _ := strings.Cut(cookie, "=")
	tampered := name + "=" + value[:10] + flip(value[10]) + value[11:]
	if res, _ := g.Do(t, "GET", "/x", map[string]string{"Cookie": tampered}, ""); res.StatusCode != 403 {
		t.Errorf("tampered cookie: %d; want 403", res.StatusCode)
	}

	// An expired session (sealed with the same secret, created long ago)
	// is no session either.
	sl, err := newSealer("e2e-secret", map[kind]string{kindSession: "session"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := sl.seal(kindSession, &data{created: time.Now().Unix() - 90000, rolling: 89990, audience: "default",
		subject: "alice", consumerID: aliceID, credentialID: credID})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := g.Do(t, "GET", "/x", map[string]string{"Cookie": "session=" + old}, ""); res.StatusCode != 403 {
		t.Errorf("expired session: %d; want 403", res.StatusCode)
	}

	// Logout: 200, empty body, cookie removed; the request is not proxied.
	res, body = g.Do(t, "DELETE", "/x?session_logout", map[string]string{"Cookie": cookie}, "")
	if res.StatusCode != 200 || body != "" {
		t.Errorf("logout: %d %q; want 200 and no body", res.StatusCode, body)
	}
	want := "session=; Path=/; SameSite=Lax; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 1 || sc[0] != want {
		t.Errorf("logout: Set-Cookie %q; want [%q]", sc, want)
	}
}

// TestKongDefaults: Kong's default cookie attributes, and response headers.
func TestKongDefaults(t *testing.T) {
	g := gateway(t, `{"response_headers":["id","timeout"]}`)
	res, body := g.Do(t, "GET", "/x", map[string]string{"apikey": "alice-key"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	sc := res.Header.Get("Set-Cookie")
	parts := strings.Split(sc, "; ")
	if len(parts) != 5 || parts[1] != "Path=/" || parts[2] != "SameSite=Strict" || parts[3] != "Secure" || parts[4] != "HttpOnly" {
		t.Errorf("Set-Cookie %q", sc)
	}
	if len(res.Header.Get("Session-Id")) != 43 || res.Header.Get("Session-Timeout") != "900" {
		t.Errorf("Session-Id %q, Session-Timeout %q", res.Header.Get("Session-Id"), res.Header.Get("Session-Timeout"))
	}
}
