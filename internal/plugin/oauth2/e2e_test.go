package oauth2_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/model"
	_ "sluice/internal/plugin/oauth2"
	"sluice/internal/proxytest"
)

const (
	consumerID = "00000000-0000-4000-8000-0000000000c1"
	provision  = "provision-key-0123456789abcdef"
)

// gateway serves one service behind the oauth2 plugin (config as JSON,
// merged over every flow enabled and the test's provision key) with three
// clients of consumer alice: "conf" (confidential, secret s3cret), "hashed"
// (confidential, the secret stored hashed) and "pub" (public).
func gateway(t *testing.T, tls bool, conf string) *proxytest.Gateway {
	t.Helper()
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	base := map[string]any{"provision_key": provision, "enable_authorization_code": true, "enable_implicit_grant": true,
		"enable_client_credentials": true, "enable_password_grant": true, "scopes": []any{"read", "write"}}
	var extra map[string]any
	if err := json.Unmarshal([]byte(conf), &extra); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		base[k] = v
	}
	b, _ := json.Marshal(base)
	cfg := proxytest.Config(t, up.URL, map[string]string{"oauth2": string(b)})
	alice := "alice"
	cfg.Consumers = []*model.Consumer{{ID: consumerID, Username: &alice}}
	cb := []string{"https://app.example.com/cb?keep=1"}
	fk := &model.ForeignKey{ID: consumerID}
	cfg.OAuth2Credentials = []*model.OAuth2Credential{
		{ID: "00000000-0000-4000-8000-0000000000a1", Consumer: fk, Name: "conf", ClientID: "conf", ClientSecret: "s3cret",
			RedirectURIs: cb, ClientType: "confidential"},
		{ID: "00000000-0000-4000-8000-0000000000a2", Consumer: fk, Name: "hashed", ClientID: "hashed",
			ClientSecret: model.HashOAuth2Secret("h4shed"), HashSecret: true, RedirectURIs: cb, ClientType: "confidential"},
		{ID: "00000000-0000-4000-8000-0000000000a3", Consumer: fk, Name: "pub", ClientID: "pub", ClientSecret: "unused",
			RedirectURIs: cb, ClientType: "public"},
	}
	if tls {
		return proxytest.ServeTLS(t, cfg)
	}
	return proxytest.Serve(t, cfg)
}

const form = "application/x-www-form-urlencoded"

// post sends a form and decodes the JSON answer.
func post(t *testing.T, g *proxytest.Gateway, path string, args url.Values, hdr map[string]string) (int, map[string]any, string) {
	t.Helper()
	h := map[string]string{"Content-Type": form}
	for k, v := range hdr {
		h[k] = v
	}
	res, body := g.Do(t, "POST", path, h, args.Encode())
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("POST %s: %d %q: not JSON", path, res.StatusCode, body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST %s: Cache-Control %q; want no-store", path, cc)
	}
	return res.StatusCode, m, res.Header.Get("WWW-Authenticate")
}

func wantErr(t *testing.T, status int, m map[string]any, wantStatus int, code, desc string) {
	t.Helper()
	if status != wantStatus || m["error"] != code || m["error_description"] != desc {
		t.Errorf("got %d %v; want %d %s: %s", status, m, wantStatus, code, desc)
	}
}

// upstream sends a request with the token and returns the status and the
// headers the upstream saw.
func upstream(t *testing.T, g *proxytest.Gateway, token string) (int, proxytest.Echo, string) {
	t.Helper()
	res, body := g.Do(t, "GET", "/api/items", map[string]string{"Authorization": "Bearer " + token, "X-Authenticated-Userid": "spoofed"}, "")
	if res.StatusCode != 200 {
		return res.StatusCode, proxytest.Echo{}, body
	}
	return 200, proxytest.DecodeEcho(t, body), body
}

func TestClientCredentialsAndTokenUse(t *testing.T) {
	g := gateway(t, true, `{"hide_credentials": true}`)
	st, m, _ := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"},
		"client_secret": {"s3cret"}, "scope": {"read  write"}, "state": {"xyz"}}, nil)
	tok, _ := m["access_token"].(string)
	if st != 200 || len(tok) != 32 || m["token_type"] != "bearer" || m["expires_in"] != 7200.0 || m["state"] != "xyz" {
		t.Fatalf("client_credentials: %d %v", st, m)
	}
	if _, has := m["refresh_token"]; has {
		t.Errorf("client_credentials gave a refresh token: %v", m)
	}
	code, e, body := upstream(t, g, tok)
	if code != 200 {
		t.Fatalf("request with the token: %d %s", code, body)
	}
	for h, want := range map[string]string{"X-Consumer-Id": consumerID, "X-Consumer-Username": "alice",
		"X-Credential-Identifier": "conf", "X-Authenticated-Scope": "read write", "X-Authenticated-Userid": "",
		"Authorization": ""} {
		if got := e.Headers.Get(h); got != want {
			t.Errorf("upstream %s = %q; want %q", h, got, want)
		}
	}
	// the hashed client, by a Basic header
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
		map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("hashed:h4shed"))})
	if st != 200 || m["access_token"] == nil {
		t.Fatalf("hashed client by Basic header: %d %v", st, m)
	}
	// wrong secret by header: 401 with Basic realm
	st, m, www := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
		map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("hashed:nope"))})
	wantErr(t, st, m, 401, "invalid_client", "Invalid client authentication")
	if www != `Basic realm="OAuth2.0"` {
		t.Errorf("WWW-Authenticate %q", www)
	}
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"},
		"client_secret": {"s3cret"}, "scope": {"admin"}}, nil)
	wantErr(t, st, m, 400, "invalid_scope", `"admin" is an invalid scope`)
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"implicit"}, "client_id": {"conf"}, "client_secret": {"s3cret"}}, nil)
	wantErr(t, st, m, 400, "unsupported_grant_type", "Invalid grant_type")

	// failures on the proxied path
	res, body := g.Do(t, "GET", "/api/items", nil, "")
	if res.StatusCode != 401 || !strings.Contains(body, `"The access token is missing"`) || res.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("no token: %d %s %q", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}
	res, body = g.Do(t, "GET", "/api/items?access_token=unknown", nil, "")
	if res.StatusCode != 401 || !strings.Contains(body, `"invalid_token"`) ||
		res.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token" error_description="The access token is invalid or has expired"` {
		t.Errorf("unknown token: %d %s %q", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}
	// the token as a query argument, removed upstream (hide_credentials)
	res, body = g.Do(t, "GET", "/api/items?access_token="+tok+"&a=1", nil, "")
	if res.StatusCode != 200 || strings.Contains(proxytest.DecodeEcho(t, body).URI, "access_token") {
		t.Errorf("token in the query: %d %s", res.StatusCode, body)
	}
	res, body = g.Do(t, "GET", "/oauth2/token", nil, "")
	if res.StatusCode != 405 || !strings.Contains(body, "The HTTP method GET is invalid for the token endpoint") {
		t.Errorf("GET /oauth2/token: %d %s", res.StatusCode, body)
	}
}

func TestEndpointsNeedHTTPS(t *testing.T) {
	g := gateway(t, false, `{}`)
	st, m, _ := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"}, "client_secret": {"s3cret"}}, nil)
	wantErr(t, st, m, 400, "access_denied", "You must use HTTPS")
	// X-Forwarded-Proto counts only from trusted_ips (none here)
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"}, "client_secret": {"s3cret"}},
		map[string]string{"X-Forwarded-Proto": "https"})
	wantErr(t, st, m, 400, "access_denied", "You must use HTTPS")
}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func TestAuthorizationCodeWithPKCEAndRefresh(t *testing.T) {
	g := gateway(t, true, `{"token_expiration": 60}`)
	verifier := strings.Repeat("v", 50)
	authz := url.Values{"response_type": {"code"}, "client_id": {"pub"}, "provision_key": {provision},
		"authenticated_userid": {"user-7"}, "scope": {"read"}, "state": {"s1"}}
	// a public client must use PKCE (pkce lax)
	st, m, _ := post(t, g, "/shop/oauth2/authorize", authz, nil)
	ru, _ := m["redirect_uri"].(string)
	if st != 400 || !strings.Contains(ru, "error=invalid_request") || !strings.Contains(ru, "code_challenge%20is%20required%20for%20public%20clients") {
		t.Fatalf("public client without challenge: %d %v", st, m)
	}
	authz.Set("code_challenge", challenge(verifier))
	st, m, _ = post(t, g, "/shop/oauth2/authorize/", authz, nil)
	ru, _ = m["redirect_uri"].(string)
	u, err := url.Parse(ru)
	if st != 200 || err != nil || u.Host != "app.example.com" || u.Query().Get("keep") != "1" || u.Query().Get("state") != "s1" {
		t.Fatalf("authorize: %d %v", st, m)
	}
	code := u.Query().Get("code")
	if len(code) != 32 {
		t.Fatalf("code %q in %s", code, ru)
	}
	tokArgs := url.Values{"grant_type": {"authorization_code"}, "client_id": {"pub"}, "code": {code}}
	st, m, _ = post(t, g, "/oauth2/token", tokArgs, nil)
	wantErr(t, st, m, 400, "invalid_request", "code_verifier is required for PKCE authorization requests")
	tokArgs.Set("code_verifier", strings.Repeat("w", 50))
	st, m, _ = post(t, g, "/oauth2/token", tokArgs, nil)
	wantErr(t, st, m, 400, "invalid_grant", "Invalid code")
	tokArgs.Set("code_verifier", verifier)
	st, m, _ = post(t, g, "/oauth2/token", tokArgs, nil)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	if st != 200 || access == "" || len(refresh) != 32 || m["expires_in"] != 60.0 {
		t.Fatalf("code for token: %d %v", st, m)
	}
	st, m, _ = post(t, g, "/oauth2/token", tokArgs, nil)
	wantErr(t, st, m, 400, "invalid_request", "Invalid code") // used once
	if code, e, body := upstream(t, g, access); code != 200 || e.Headers.Get("X-Authenticated-Userid") != "user-7" ||
		e.Headers.Get("X-Authenticated-Scope") != "read" {
		t.Fatalf("token from the code: %d %s", code, body)
	}
	// refresh: a new pair, the old access token no longer works
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"pub"}, "refresh_token": {refresh}}, nil)
	access2, _ := m["access_token"].(string)
	if st != 200 || access2 == "" || access2 == access || m["refresh_token"] == refresh {
		t.Fatalf("refresh: %d %v", st, m)
	}
	if code, _, _ := upstream(t, g, access); code != 401 {
		t.Errorf("refreshed-away token: %d; want 401", code)
	}
	if code, e, _ := upstream(t, g, access2); code != 200 || e.Headers.Get("X-Authenticated-Userid") != "user-7" {
		t.Errorf("refreshed token: %d", code)
	}
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"pub"}, "refresh_token": {refresh}}, nil)
	wantErr(t, st, m, 400, "invalid_request", "Invalid refresh_token")
	// a public client may not send a secret
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"pub"}, "client_secret": {"x"},
		"refresh_token": {"r"}}, nil)
	wantErr(t, st, m, 400, "invalid_request", "client_secret is disallowed for public clients")
}

func TestImplicitAndPasswordGrants(t *testing.T) {
	g := gateway(t, true, `{}`)
	st, m, _ := post(t, g, "/oauth2/authorize", url.Values{"response_type": {"token"}, "client_id": {"conf"},
		"provision_key": {provision}, "authenticated_userid": {"u1"}, "state": {"a b"}}, nil)
	ru, _ := m["redirect_uri"].(string)
	u, _ := url.Parse(ru)
	frag, _ := url.ParseQuery(u.Fragment)
	if st != 200 || u.RawQuery != "keep=1" || len(frag.Get("access_token")) != 32 || frag.Get("token_type") != "bearer" ||
		frag.Get("state") != "a b" || !strings.Contains(ru, "state=a%20b") {
		t.Fatalf("implicit: %d %v", st, m)
	}
	st, m, _ = post(t, g, "/oauth2/authorize", url.Values{"response_type": {"token"}, "client_id": {"conf"},
		"provision_key": {"wrong"}, "authenticated_userid": {"u1"}}, nil)
	wantErr(t, st, m, 400, "invalid_provision_key", "Invalid provision_key")
	st, m, _ = post(t, g, "/oauth2/authorize", url.Values{"response_type": {"code"}, "client_id": {"conf"},
		"provision_key": {provision}, "authenticated_userid": {"u1"}, "redirect_uri": {"https://evil.example.com/"}}, nil)
	ru, _ = m["redirect_uri"].(string)
	if st != 400 || !strings.HasPrefix(ru, "https://app.example.com/cb?error=invalid_request&error_description=Invalid%20redirect_uri") {
		t.Errorf("foreign redirect_uri: %d %v", st, m)
	}
	// password grant: the backend vouches for the user with the provision key
	args := url.Values{"grant_type": {"password"}, "client_id": {"conf"}, "client_secret": {"s3cret"},
		"provision_key": {provision}, "authenticated_userid": {"u2"}}
	st, m, _ = post(t, g, "/oauth2/token", args, nil)
	if st != 200 || m["refresh_token"] == nil {
		t.Fatalf("password grant: %d %v", st, m)
	}
	if code, e, _ := upstream(t, g, m["access_token"].(string)); code != 200 || e.Headers.Get("X-Authenticated-Userid") != "u2" {
		t.Errorf("password grant token: %d", code)
	}
	args.Del("authenticated_userid")
	st, m, _ = post(t, g, "/oauth2/token", args, nil)
	wantErr(t, st, m, 400, "invalid_authenticated_userid", "Missing authenticated_userid parameter")
	// JSON bodies are read too
	res, body := g.Do(t, "POST", "/oauth2/token", map[string]string{"Content-Type": "application/json"},
		`{"grant_type":"client_credentials","client_id":"conf","client_secret":"s3cret","scope":["read"]}`)
	if res.StatusCode != 400 || !strings.Contains(body, "scope must be a string") {
		t.Errorf("JSON body with a scope list: %d %s", res.StatusCode, body)
	}
}

func TestTokenBoundToService(t *testing.T) {
	// a global token on a plugin without global_credentials is refused
	// even with anonymous set
	g := gateway(t, true, `{"global_credentials": true}`)
	_, m, _ := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"}, "client_secret": {"s3cret"}}, nil)
	tok, _ := m["access_token"].(string)
	if code, _, body := upstream(t, g, tok); code != 200 {
		t.Fatalf("global token on a global plugin: %d %s", code, body)
	}
	g2 := gateway(t, true, `{"anonymous": "alice", "realm": "shop"}`)
	res, body := g2.Do(t, "GET", "/x", map[string]string{"Authorization": "Bearer " + tok}, "")
	if res.StatusCode != 401 || !strings.Contains(body, "configured without 'global_credentials'") ||
		!strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Bearer realm="shop" error="invalid_token"`) {
		t.Errorf("global token on a non-global plugin: %d %s %q", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}
	// other failures fall back to the anonymous consumer
	res, body = g2.Do(t, "GET", "/x", map[string]string{"Authorization": "Bearer nope"}, "")
	if res.StatusCode != 200 || proxytest.DecodeEcho(t, body).Headers.Get("X-Anonymous-Consumer") != "true" {
		t.Errorf("bad token with anonymous: %d %s", res.StatusCode, body)
	}
}

// TestKongEdgeCases: cases from Kong's access spec a straight reading
// gets wrong.
func TestKongEdgeCases(t *testing.T) {
	g := gateway(t, true, `{"auth_header_name": "custom_header_name", "hide_credentials": true}`)
	// a Basic value without a colon is a client id alone (public client)
	st, m, _ := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
		map[string]string{"custom_header_name": "Basic " + base64.StdEncoding.EncodeToString([]byte("pub"))})
	tok, _ := m["access_token"].(string)
	if st != 200 || tok == "" {
		t.Fatalf("public client by a Basic value without a colon: %d %v", st, m)
	}
	// the custom header, sent with underscores or dashes, is read and
	// removed upstream
	for _, name := range []string{"custom_header_name", "Custom-Header-Name"} {
		res, body := g.Do(t, "GET", "/x", map[string]string{name: "bearer " + tok}, "")
		if res.StatusCode != 200 {
			t.Fatalf("token in %s: %d %s", name, res.StatusCode, body)
		}
		for h := range proxytest.DecodeEcho(t, body).Headers {
			if strings.EqualFold(strings.ReplaceAll(h, "_", "-"), "custom-header-name") {
				t.Errorf("token in %s reached the upstream as %s", name, h)
			}
		}
	}
	// a form body the strict parser refuses still loses its token
	res, body := g.Do(t, "POST", "/x", map[string]string{"Content-Type": form}, "a=1;2&access_token="+tok+"&b=%zz")
	if res.StatusCode != 200 || strings.Contains(proxytest.DecodeEcho(t, body).Body, tok) {
		t.Errorf("form body with the token: %d %s", res.StatusCode, body)
	}
	// an empty redirect_uri matches no registered one
	st, m, _ = post(t, g, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"conf"},
		"client_secret": {"s3cret"}, "code": {"c"}, "redirect_uri": {""}}, nil)
	wantErr(t, st, m, 400, "invalid_request", "Invalid redirect_uri that does not match with any redirect_uri created with the application")
	// PKCE parameters are checked even for an unknown client
	st, m, _ = post(t, g, "/oauth2/authorize", url.Values{"response_type": {"code"}, "client_id": {"nobody"},
		"provision_key": {provision}, "authenticated_userid": {"u"}, "code_challenge_method": {"S256"}}, nil)
	wantErr(t, st, m, 400, "invalid_request", "code_challenge is required when code_method is present")

	// scopes: [] allows no scope
	g2 := gateway(t, true, `{"scopes": []}`)
	st, m, _ = post(t, g2, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"conf"},
		"client_secret": {"s3cret"}, "scope": {"read"}}, nil)
	wantErr(t, st, m, 400, "invalid_scope", `"read" is an invalid scope`)
}

// TestUnreadableHashMatchesNothing: a hash_secret credential whose stored
// hash this build cannot verify (Kong's argon2) refuses every secret,
// its hash string included.
func TestUnreadableHashMatchesNothing(t *testing.T) {
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{"oauth2": `{"provision_key":"pk","enable_client_credentials":true}`})
	alice := "alice"
	cfg.Consumers = []*model.Consumer{{ID: consumerID, Username: &alice}}
	const argon = "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	cfg.OAuth2Credentials = []*model.OAuth2Credential{{ID: "00000000-0000-4000-8000-0000000000b1",
		Consumer: &model.ForeignKey{ID: consumerID}, Name: "a", ClientID: "argon", ClientSecret: argon, HashSecret: true,
		ClientType: "confidential"}}
	g := proxytest.ServeTLS(t, cfg)
	for _, secret := range []string{argon, "anything"} {
		st, m, _ := post(t, g, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"argon"},
			"client_secret": {secret}}, nil)
		wantErr(t, st, m, 400, "invalid_client", "Invalid client authentication")
	}
}
