package oauth2

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

func TestSchemaChecks(t *testing.T) {
	ps, _ := model.Lookup("plugins")
	lookup := func(name string) (*model.Schema, bool) { return Schema, name == Name }
	_, perr := ps.Process(map[string]any{"name": Name, "config": map[string]any{"provision_key": "k"}}, &model.ProcessOptions{Plugins: lookup})
	if perr == nil || !strings.Contains(perr.Error(), "config: at least one of these fields must be true: enable_authorization_code, enable_implicit_grant, enable_client_credentials, enable_password_grant") {
		t.Errorf("no flow: %v", perr)
	}
	_, err := Schema.Process(map[string]any{"provision_key": "k"}, nil)
	if err != nil {
		t.Errorf("config schema alone (no record validator): %v", err)
	}
	_, err = Schema.Process(map[string]any{"provision_key": "k", "enable_password_grant": true, "mandatory_scope": true}, nil)
	if err == nil || !strings.Contains(err.Error(), "scopes") {
		t.Errorf("mandatory_scope without scopes: %v", err)
	}
	rec, err := Schema.Process(map[string]any{"provision_key": "k", "enable_password_grant": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"token_expiration": 7200.0, "refresh_token_ttl": 1209600.0, "pkce": "lax",
		"auth_header_name": "authorization", "global_credentials": false} {
		got := rec[k]
		if n, ok := got.(int); ok {
			got = float64(n)
		}
		if got != want {
			t.Errorf("default %s = %v (%T); want %v", k, rec[k], rec[k], want)
		}
	}
	if _, err := Schema.Process(map[string]any{"provision_key": "k", "enable_password_grant": true, "refresh_token_ttl": 1e9}, nil); err == nil {
		t.Error("refresh_token_ttl 1e9 accepted")
	}
}

// TestProvisionKeyGenerated: a plugin entity written without a
// provision_key gets a random one (Kong's auto field).
func TestProvisionKeyGenerated(t *testing.T) {
	ps, _ := model.Lookup("plugins")
	lookup := func(name string) (*model.Schema, bool) { return Schema, name == Name }
	in := map[string]any{"name": Name, "config": map[string]any{"enable_client_credentials": true}}
	a, err := ps.Process(in, &model.ProcessOptions{Plugins: lookup})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ps.Process(in, &model.ProcessOptions{Plugins: lookup})
	ka, _ := a["config"].(map[string]any)["provision_key"].(string)
	kb, _ := b["config"].(map[string]any)["provision_key"].(string)
	if len(ka) != 32 || ka == kb {
		t.Errorf("generated provision keys %q, %q; want two random 32-character keys", ka, kb)
	}
	if _, ok := in["config"].(map[string]any)["provision_key"]; ok {
		t.Error("the input was changed")
	}
}

type ents struct {
	creds map[string]*model.OAuth2Credential
}

func (ents) Consumer(id string) *model.Consumer {
	if id != "c1" {
		return nil
	}
	u := "alice"
	return &model.Consumer{ID: "c1", Username: &u}
}
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential     { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential   { return nil }
func (ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (e ents) OAuth2Credential(id string) *model.OAuth2Credential  { return e.creds[id] }
func (e ents) OAuth2CredentialByID(id string) *model.OAuth2Credential {
	for _, c := range e.creds {
		if c.ID == id {
			return c
		}
	}
	return nil
}
func (ents) ConsumerGroups(string) []string { return nil }

func testInstance(t testing.TB, conf map[string]any) (*OAuth2, *table) {
	t.Helper()
	base := map[string]any{"provision_key": "pk", "enable_client_credentials": true}
	for k, v := range conf {
		base[k] = v
	}
	rec, err := Schema.Process(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := &model.OAuth2Credential{ID: "cred-1", Consumer: &model.ForeignKey{ID: "c1"}, ClientID: "cid", ClientSecret: "sec",
		ClientType: "confidential", RedirectURIs: []string{"https://a.example/cb"}}
	inst, nerr := New(rec, plugin.Deps{PluginID: "p1", Entities: ents{map[string]*model.OAuth2Credential{"cid": cred}}})
	if nerr != nil {
		t.Fatal(nerr)
	}
	o := inst.(*OAuth2)
	o.tab = newTable(false)
	return o, o.tab
}

func ctxFor(r *http.Request) *plugin.Ctx {
	r.Header.Set("X-Forwarded-Proto", "https")
	return &plugin.Ctx{Request: r, Service: &model.Service{ID: "svc-1"}, TrustedClient: true}
}

// TestTokenExpiresAndIsDropped: a token stops working expires_in seconds
// after its issue, and is dropped from the table refresh_token_ttl after.
func TestTokenExpiresAndIsDropped(t *testing.T) {
	o, tab := testInstance(t, map[string]any{"token_expiration": 10, "refresh_token_ttl": 100, "accept_http_if_already_terminated": true})
	base := time.Unix(1_800_000_000, 0)
	now = func() time.Time { return base }
	t.Cleanup(func() { now = time.Now })
	r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader("grant_type=client_credentials&client_id=cid&client_secret=sec"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := ctxFor(r)
	o.Access(c)
	var m map[string]any
	if e := c.Exited(); e == nil || e.Status != 200 || json.Unmarshal(e.Body, &m) != nil {
		t.Fatalf("token: %+v", c.Exited())
	}
	tok := m["access_token"].(string)
	use := func() int {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "bearer "+tok)
		c := ctxFor(r)
		o.Access(c)
		if e := c.Exited(); e != nil {
			return e.Status
		}
		if c.Request.Header.Get("X-Credential-Identifier") != "cid" {
			t.Errorf("X-Credential-Identifier %q", c.Request.Header.Get("X-Credential-Identifier"))
		}
		return 200
	}
	if got := use(); got != 200 {
		t.Fatalf("fresh token: %d", got)
	}
	now = func() time.Time { return base.Add(11 * time.Second) }
	if got := use(); got != 401 {
		t.Errorf("token 11 s after issue (expires_in 10): %d; want 401", got)
	}
	if n, _ := tab.tokens.Len(); n != 1 {
		t.Errorf("%d tokens held before refresh_token_ttl; want 1", n)
	}
	now = func() time.Time { return base.Add(101 * time.Second) }
	use()
	if n, _ := tab.tokens.Len(); n != 0 {
		t.Errorf("%d tokens held after refresh_token_ttl; want 0", n)
	}
}

// TestClusterEvents: a token or code another node issued (as it
// broadcasts it) is accepted here; its deletion is applied too.
func TestClusterEvents(t *testing.T) {
	o, _ := testInstance(t, nil)
	o.tab = shared
	tok := &Token{Access: "remote-token-0123456789abcdef0123", Credential: "cred-1", ClientID: "cid", Service: "svc-1",
		ExpiresIn: 0, CreatedAt: float64(time.Now().Unix())}
	b, _ := json.Marshal(event{Op: "token", Token: tok})
	if !plugin.DeliverClusterEvent(clusterKind, b) {
		t.Fatal("no handler registered for the oauth2 cluster events")
	}
	status := func() int {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+tok.Access)
		c := ctxFor(r)
		o.Access(c)
		if e := c.Exited(); e != nil {
			return e.Status
		}
		return 200
	}
	if got := status(); got != 200 {
		t.Fatalf("token from another node: %d", got)
	}
	b, _ = json.Marshal(event{Op: "untoken", Token: &Token{Access: tok.Access}})
	plugin.DeliverClusterEvent(clusterKind, b)
	if got := status(); got != 401 {
		t.Errorf("token deleted by another node: %d; want 401", got)
	}
	plugin.DeliverClusterEvent(clusterKind, []byte("{not json"))
}

func TestWithParams(t *testing.T) {
	for _, c := range []struct {
		uri      string
		params   map[string]any
		fragment bool
		want     string
	}{
		{"http://google.com/kong", map[string]any{"error": "unsupported_response_type", "error_description": "Invalid response_type", "state": "somestate"}, false,
			"http://google.com/kong?error=unsupported_response_type&error_description=Invalid%20response_type&state=somestate"},
		{"http://google.com/kong?foo=bar&code=123", map[string]any{"code": "new"}, false, "http://google.com/kong?code=new&foo=bar"},
		{"http://google.com/kong?flag&a=x;y&e=", map[string]any{"code": "c"}, false, "http://google.com/kong?a=x%3by&code=c&e=&flag=true"},
		{"http://google.com/kong?q=1", map[string]any{"access_token": "t", "expires_in": int64(5), "token_type": "bearer", "state": "a,b"}, true,
			"http://google.com/kong?q=1#access_token=t&expires_in=5&state=a%2cb&token_type=bearer"},
	} {
		if got := withParams(c.uri, c.params, c.fragment); got != c.want {
			t.Errorf("withParams(%q) = %q; want %q", c.uri, got, c.want)
		}
	}
}

func FuzzWithParams(f *testing.F) {
	f.Add("https://app.example.com/cb?x=1&y=%20", "state value", true)
	f.Add("http://h/p#frag", "&=?#", false)
	f.Fuzz(func(t *testing.T, uri, state string, fragment bool) {
		got := withParams(uri, map[string]any{"state": state, "code": "c"}, fragment)
		if _, err := url.Parse(uri); err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("withParams(%q) = %q: %v", uri, got, err)
		}
		args := u.Query()
		if fragment {
			args, err = url.ParseQuery(u.EscapedFragment())
		}
		if err == nil && args.Get("state") != state {
			t.Fatalf("withParams(%q, state %q) = %q: state reads back %q", uri, state, got, args.Get("state"))
		}
	})
}

func FuzzNormalizeChallenge(f *testing.F) {
	f.Add("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	f.Add("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM=")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, ch string) {
		n := normalizeChallenge(ch)
		if normalizeChallenge(n) != n {
			t.Fatalf("normalizeChallenge not stable: %q -> %q -> %q", ch, n, normalizeChallenge(n))
		}
	})
}

// BenchmarkAccessValidToken is the proxied request's cost: a bearer
// token looked up and the consumer's headers set.
func BenchmarkAccessValidToken(b *testing.B) {
	o, tab := testInstance(b, nil)
	tab.putToken(&Token{Access: "bench-token-0123456789abcdef01234", Credential: "cred-1", ClientID: "cid", Service: "svc-1",
		CreatedAt: float64(time.Now().Unix()), ExpiresIn: 3600})
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer bench-token-0123456789abcdef01234")
	b.ReportAllocs()
	for b.Loop() {
		c := ctxFor(r)
		o.Access(c)
		if c.Exited() != nil {
			b.Fatal("refused")
		}
	}
}

func TestParseBasicClient(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for in, want := range map[string][2]string{
		"Basic " + b64("id:sec"):      {"id", "sec"},
		"basic   " + b64("id"):        {"id", ""},
		"Basic " + b64("id:sec:more"): {"id", "sec"},
		"xBasic" + b64("id:"):         {"id", ""},
		"Bearer abc":                  {"", ""},
		"Basic !!!":                   {"", ""},
		"asic " + b64("id:sec"):       {"", ""},
	} {
		if id, sec := parseBasicClient(in); id != want[0] || sec != want[1] {
			t.Errorf("parseBasicClient(%q) = %q, %q; want %q, %q", in, id, sec, want[0], want[1])
		}
	}
}

func FuzzParseBasicClient(f *testing.F) {
	f.Add("Basic aWQ6c2Vj")
	f.Add("basicbasic")
	f.Fuzz(func(t *testing.T, v string) {
		id, sec := parseBasicClient(v)
		if strings.Contains(id, ":") || strings.Contains(sec, ":") {
			t.Fatalf("parseBasicClient(%q) = %q, %q: a colon survived", v, id, sec)
		}
	})
}

func FuzzWithoutArg(f *testing.F) {
	f.Add("a=1&access_token=t&b=2")
	f.Add("access%5Ftoken=x;y&&=")
	f.Fuzz(func(t *testing.T, body string) {
		out, _ := withoutArg([]byte(body), "access_token")
		for _, pair := range strings.Split(string(out), "&") {
			k, _, _ := strings.Cut(pair, "=")
			if d, err := url.QueryUnescape(k); err == nil && d == "access_token" || k == "access_token" {
				t.Fatalf("withoutArg(%q) = %q keeps the token", body, out)
			}
		}
	})
}

// TestForwardedProto: with accept_http_if_already_terminated, one
// X-Forwarded-Proto: https from a trusted client stands for HTTPS; several
// values are refused with Kong's message; an untrusted client's header is
// ignored.
func TestForwardedProto(t *testing.T) {
	o, _ := testInstance(t, map[string]any{"accept_http_if_already_terminated": true})
	for _, c := range []struct {
		vals    []string
		trusted bool
		want    string
	}{
		{[]string{"HTTPS"}, true, ""},
		{[]string{"https"}, false, "You must use HTTPS"},
		{[]string{"https, http"}, true, "Only one X-Forwarded-Proto header allowed"},
		{[]string{"https", "https"}, true, "Only one X-Forwarded-Proto header allowed"},
		{[]string{"http"}, true, "You must use HTTPS"},
		{nil, true, "You must use HTTPS"},
	} {
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		r.Header["X-Forwarded-Proto"] = c.vals
		if got := o.httpsError(&plugin.Ctx{Request: r, TrustedClient: c.trusted}); got != c.want {
			t.Errorf("X-Forwarded-Proto %q, trusted %v: %q; want %q", c.vals, c.trusted, got, c.want)
		}
	}
}
