package hmacauth

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Kong's hmac-sha1 vectors
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

type ents struct {
	consumers map[string]*model.Consumer
	creds     map[string]*model.HMACAuthCredential
}

func (e ents) Consumer(id string) *model.Consumer                    { return e.consumers[id] }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential       { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential   { return nil }
func (e ents) HMACAuthCredential(u string) *model.HMACAuthCredential { return e.creds[u] }
func (ents) JWTSecret(string) *model.JWTSecret                       { return nil }
func (ents) OAuth2Credential(string) *model.OAuth2Credential         { return nil }
func (ents) OAuth2CredentialByID(string) *model.OAuth2Credential     { return nil }
func (ents) ConsumerGroups(string) []string                          { return nil }

const bobID = "00000000-0000-4000-8000-0000000000b0"

func testEnts() ents {
	bob, anon := "bob", "no-body"
	return ents{
		consumers: map[string]*model.Consumer{bobID: {ID: bobID, Username: &bob},
			"no-body": {ID: "00000000-0000-4000-8000-0000000000a0", Username: &anon}},
		creds: map[string]*model.HMACAuthCredential{"bob": {ID: "00000000-0000-4000-8000-0000000000c0",
			Consumer: &model.ForeignKey{ID: bobID}, Username: "bob", Secret: "secret"}},
	}
}

func instance(t *testing.T, cfg string) *HMACAuth {
	t.Helper()
	p := proxytest.Instance[*HMACAuth](t, Schema, func(c map[string]any, d plugin.Deps) (any, error) {
		d.Entities = testEnts()
		return New(c, d)
	}, cfg)
	return p
}

func mac(alg func() hash.Hash, secret, msg string) string {
	m := hmac.New(alg, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func authz(user, alg, headers, sig string) string {
	return `hmac username="` + user + `",algorithm="` + alg + `",headers="` + headers + `",signature="` + sig + `"`
}

// run sends r through an instance and returns the exit (nil: passed).
func run(p *HMACAuth, r *http.Request) (*plugin.Ctx, *plugin.Exit) {
	c := &plugin.Ctx{Request: r}
	p.Access(c)
	return c, c.Exited()
}

func TestKongVectors(t *testing.T) {
	date := time.Now().UTC().Format(http.TimeFormat)
	p := instance(t, `{}`)
	realm := instance(t, `{"realm":"test-realm"}`)
	tests := []struct {
		name    string
		p       *HMACAuth
		target  string
		headers map[string]string
		status  int
		msg     string
	}{
		{"sha1 over date", p, "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date))}, 0, ""},
		{"request-line and a listed header", p, "/request?name=foo%20bar", map[string]string{"Date": date, "Content-Md5": "md5",
			"Authorization": authz("bob", "hmac-sha256", "date content-md5 request-line",
				mac(sha256.New, "secret", "date: "+date+"\ncontent-md5: md5\nGET /request?name=foo%20bar HTTP/1.1"))}, 0, ""},
		{"@request-target", p, "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha512", "date @request-target",
				mac(sha512.New, "secret", "date: "+date+"\n@request-target: get /request"))}, 0, ""},
		{"x-date and extra spaces after commas", p, "/request", map[string]string{"X-Date": date,
			"Authorization": `hmac username="bob",  algorithm="hmac-sha384", headers="x-date", signature="` +
				mac(sha512.New384, "secret", "x-date: "+date) + `"`}, 0, ""},
		{"absent listed header signs as name:", p, "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date x-missing", mac(sha1.New, "secret", "date: "+date+"\nx-missing:"))}, 0, ""},
		{"proxy-authorization wins", p, "/request", map[string]string{"Date": date,
			"Proxy-Authorization": authz("bob", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date)),
			"Authorization":       "Basic garbage"}, 0, ""},

		{"no credentials", p, "/request", map[string]string{"Date": date}, 401, msgUnauthorized},
		{"no date", p, "/request", map[string]string{"Authorization": "asd"}, 401, msgDate},
		{"stale date", p, "/request", map[string]string{"Date": time.Now().Add(-10 * time.Minute).UTC().Format(http.TimeFormat),
			"Authorization": authz("bob", "hmac-sha1", "date", "x")}, 401, msgDate},
		{"unparseable", p, "/request", map[string]string{"Date": date, "Authorization": "hmac username"}, 401, msgNotValid},
		{"unknown user", p, "/request", map[string]string{"Date": date,
			"Authorization": authz("bobb", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date))}, 401, msgNotValid},
		{"algorithm not allowed", instance(t, `{"algorithms":["hmac-sha1"]}`), "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha256", "date", mac(sha256.New, "secret", "date: "+date))}, 401, msgNotValid},
		{"enforced header not signed", instance(t, `{"enforce_headers":["request-line"]}`), "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date))}, 401, msgNotValid},
		{"wrong signature", realm, "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date", mac(sha1.New, "wrong", "date: "+date))}, 401, msgNotSame},
		{"query not signed", p, "/request?name=foo", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date request-line", mac(sha1.New, "secret", "date: "+date+"\nGET /request HTTP/1.1"))}, 401, msgNotSame},
		{"signature not base64", p, "/request", map[string]string{"Date": date,
			"Authorization": authz("bob", "hmac-sha1", "date", "not base64!")}, 401, msgNotSame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			c, e := run(tt.p, r)
			if tt.status == 0 {
				if e != nil {
					t.Fatalf("got %d %q; want authenticated", e.Status, e.Message)
				}
				if c.Consumer == nil || c.Consumer.ID != bobID || c.Credential != "bob" {
					t.Errorf("consumer %v credential %q; want bob", c.Consumer, c.Credential)
				}
				return
			}
			if e == nil || e.Status != tt.status || e.Message != tt.msg {
				t.Fatalf("got %+v; want %d %q", e, tt.status, tt.msg)
			}
			want := "hmac"
			if tt.p == realm {
				want = `hmac realm="test-realm"`
			}
			if got := e.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q; want %q", got, want)
			}
		})
	}
}

func TestBodyDigest(t *testing.T) {
	date := time.Now().UTC().Format(http.TimeFormat)
	p := instance(t, `{"validate_request_body":true}`)
	sum := sha256.Sum256([]byte("payload"))
	good := "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
	for _, tt := range []struct {
		name, body, digest string
		ok                 bool
	}{
		{"no body, no digest", "", "", true},
		{"empty body with its digest", "", "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", true},
		{"body with its digest", "payload", good, true},
		{"body without digest", "payload", "", false},
		{"tampered body", "payload!", good, false},
		{"lower-case algorithm", "payload", strings.Replace(good, "SHA-256", "sha-256", 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/r", strings.NewReader(tt.body))
			if tt.body == "" {
				r.Body = http.NoBody
			}
			r.Header.Set("Date", date)
			if tt.digest != "" {
				r.Header.Set("Digest", tt.digest)
			}
			r.Header.Set("Authorization", authz("bob", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date)))
			_, e := run(p, r)
			if (e == nil) != tt.ok {
				t.Fatalf("exit %+v; want ok=%v", e, tt.ok)
			}
			if !tt.ok && e.Message != msgNotSame {
				t.Errorf("message %q; want %q", e.Message, msgNotSame)
			}
		})
	}
}

func TestHideCredentialsAndAnonymous(t *testing.T) {
	date := time.Now().UTC().Format(http.TimeFormat)
	p := instance(t, `{"hide_credentials":true}`)
	r := httptest.NewRequest("GET", "/r", nil)
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", authz("bob", "hmac-sha1", "date", mac(sha1.New, "secret", "date: "+date)))
	if _, e := run(p, r); e != nil || r.Header.Get("Authorization") != "" {
		t.Errorf("hide_credentials: exit %+v, Authorization %q; want passed and removed", e, r.Header.Get("Authorization"))
	}

	anon := instance(t, `{"anonymous":"no-body"}`)
	r = httptest.NewRequest("GET", "/r", nil)
	c, e := run(anon, r)
	if e != nil || c.Consumer == nil || *c.Consumer.Username != "no-body" || !c.Anonymous() {
		t.Errorf("anonymous: exit %+v consumer %v", e, c.Consumer)
	}
	missing := instance(t, `{"anonymous":"00000000-0000-4000-8000-00000000dead"}`)
	if _, e := run(missing, httptest.NewRequest("GET", "/r", nil)); e == nil || e.Status != 500 {
		t.Errorf("missing anonymous consumer: exit %+v; want 500", e)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg   map[string]any
		field string
		want  string
	}{
		{map[string]any{"clock_skew": -10}, "clock_skew", "value must be greater than 0"},
	} {
		_, serr := Schema.Process(tt.cfg, nil)
		if serr == nil || serr.Fields[tt.field] != tt.want {
			t.Errorf("%v: %v; want %s: %q", tt.cfg, serr, tt.field, tt.want)
		}
	}
	_, serr := Schema.Process(map[string]any{"algorithms": []any{"sha1024"}}, nil)
	if serr == nil {
		t.Fatal("algorithm sha1024 accepted")
	}
}

// FuzzParse: any header value parses or not without panicking, a parse
// has every field non-empty, and the fast path agrees with Kong's pattern.
func FuzzParse(f *testing.F) {
	f.Add(authz("bob", "hmac-sha1", "date request-line", "c2ln"))
	f.Add(`"hmac username="a",algorithm="b",headers="c",signature="d"`)
	f.Add(`x mac hmac Hmac username="a",` + "\n" + `algorithm="b", headers="c d",signature="d"`)
	f.Add(`hmac username="a\nb",algorithm="b",headers="c",signature="d"`)
	f.Add("hmac username")
	f.Fuzz(func(t *testing.T, v string) {
		p, ok := parse(v)
		if ok && (p.username == "" || p.algorithm == "" || p.signature == "" || len(p.headers) == 0) {
			t.Errorf("%q: parsed with an empty field: %+v", v, p)
		}
		if rp, rok := parseRE(v); rok != ok || rok && (rp.username != p.username || rp.algorithm != p.algorithm ||
			rp.signature != p.signature || strings.Join(rp.headers, " ") != strings.Join(p.headers, " ")) {
			t.Errorf("%q: parse %+v %v; the pattern gives %+v %v", v, p, ok, rp, rok)
		}
	})
}

func BenchmarkAccess(b *testing.B) {
	p := proxytest.Instance[*HMACAuth](b, Schema, func(c map[string]any, d plugin.Deps) (any, error) {
		d.Entities = testEnts()
		return New(c, d)
	}, `{}`)
	date := time.Now().UTC().Format(http.TimeFormat)
	r := httptest.NewRequest("GET", "/request", nil)
	r.Header.Set("Date", date)
	r.Header.Set("Authorization", authz("bob", "hmac-sha256", "date request-line",
		mac(sha256.New, "secret", "date: "+date+"\nGET /request HTTP/1.1")))
	b.ReportAllocs()
	for b.Loop() {
		c := &plugin.Ctx{Request: r}
		p.Access(c)
		if c.Exited() != nil {
			b.Fatal("refused")
		}
	}
}
