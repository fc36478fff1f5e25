package basicauth

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

type ents struct {
	consumers map[string]*model.Consumer
	creds     map[string]*model.BasicAuthCredential
}

func (e ents) Consumer(id string) *model.Consumer                      { return e.consumers[id] }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential         { return nil }
func (e ents) BasicAuthCredential(u string) *model.BasicAuthCredential { return e.creds[u] }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential       { return nil }
func (ents) JWTSecret(string) *model.JWTSecret                         { return nil }
func (ents) OAuth2Credential(string) *model.OAuth2Credential           { return nil }
func (ents) OAuth2CredentialByID(string) *model.OAuth2Credential       { return nil }
func (ents) ConsumerGroups(string) []string                            { return nil }

func basic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseBasic(t *testing.T) {
	tests := []struct {
		in         string
		user, pass string
		ok         bool
	}{
		{basic("alice:secret"), "alice", "secret", true},
		{basic("alice:"), "alice", "", true},
		{basic("alice:a:b"), "alice", "a:b", true},
		{basic("::alice:pw"), "alice", "pw", true},
		{basic("alice"), "", "", false},
		{basic(":pw"), "", "", false},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("bob:x")), "bob", "x", true},
		{"Basic" + base64.RawStdEncoding.EncodeToString([]byte("bob:xy")), "bob", "xy", true}, // no space, no padding
		{"Bearer x, Basic " + base64.StdEncoding.EncodeToString([]byte("bob:x")), "bob", "x", true},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("bob:x")) + "=garbage", "bob", "x", true},
		{"BASIC " + base64.StdEncoding.EncodeToString([]byte("bob:x")), "", "", false},
		{"Basic !!!!", "", "", false},
		{"Basic", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		u, p, ok := ParseBasic(tt.in)
		if u != tt.user || p != tt.pass || ok != tt.ok {
			t.Errorf("ParseBasic(%q) = %q, %q, %v; want %q, %q, %v", tt.in, u, p, ok, tt.user, tt.pass, tt.ok)
		}
	}
}

func FuzzParseBasic(f *testing.F) {
	f.Add(basic("alice:secret"))
	f.Add("basic ::")
	f.Add("xBasic  YTpi=")
	f.Add("Basic YQ")
	f.Fuzz(func(t *testing.T, v string) {
		u, p, ok := ParseBasic(v)
		if !ok {
			if u != "" || p != "" {
				t.Fatalf("not ok but user %q pass %q", u, p)
			}
			return
		}
		if u == "" || strings.Contains(u, ":") {
			t.Fatalf("ParseBasic(%q) user %q: want non-empty without colon", v, u)
		}
		// Round trip: encoding what was parsed parses back to the same.
		u2, p2, ok2 := ParseBasic(basic(u + ":" + p))
		if !ok2 || u2 != u || p2 != p {
			t.Fatalf("round trip of %q:%q = %q:%q %v", u, p, u2, p2, ok2)
		}
	})
}

func newInstance(t testing.TB, cfg map[string]any, e plugin.Entities) *BasicAuth {
	t.Helper()
	rec, serr := Schema.Process(cfg, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := New(rec, plugin.Deps{Entities: e})
	if err != nil {
		t.Fatal(err)
	}
	return impl.(*BasicAuth)
}

func testEnts() ents {
	alice, anon := "alice", "anon"
	return ents{
		consumers: map[string]*model.Consumer{
			"c1": {ID: "c1", Username: &alice}, "alice": {ID: "c1", Username: &alice},
			"c9": {ID: "c9", Username: &anon}, "anon": {ID: "c9", Username: &anon},
		},
		creds: map[string]*model.BasicAuthCredential{
			"alice": {ID: "b1", Consumer: &model.ForeignKey{ID: "c1"}, Username: "alice",
				Password: model.HashBasicAuthPassword("secret", "c1")},
		},
	}
}

// TestAccess pins Kong 3.9's answers: since 3.6 (kong/plugins/basic-auth/
// access.lua, Kong PR #11795, CHANGELOG 3.6.0 "Add missing WWW-Authenticate
// headers to 401 response in basic auth plugin") every failure -- no
// header, unknown user, wrong password, unparsable header -- is 401
// {"message":"Unauthorized"} with WWW-Authenticate: Basic realm="<realm>",
// realm defaulting to "service". Before 3.6 a bad credential was 401
// "Invalid authentication credentials" without the header.
func TestAccess(t *testing.T) {
	e := testEnts()
	tests := []struct {
		name     string
		cfg      map[string]any
		hdr      map[string]string
		status   int
		msg      string
		www      string
		consumer string // X-Consumer-Username upstream when let through
		ident    string // X-Credential-Identifier
		anon     string // X-Anonymous-Consumer
		left     []string
	}{
		{name: "no header", cfg: map[string]any{}, status: 401, msg: "Unauthorized", www: `Basic realm="service"`},
		{name: "realm", cfg: map[string]any{"realm": "api"}, status: 401, msg: "Unauthorized", www: `Basic realm="api"`},
		{name: "ok", cfg: map[string]any{}, hdr: map[string]string{"Authorization": basic("alice:secret")},
			consumer: "alice", ident: "alice", left: []string{"Authorization"}},
		{name: "proxy-authorization", cfg: map[string]any{}, hdr: map[string]string{"Proxy-Authorization": basic("alice:secret")},
			consumer: "alice", ident: "alice", left: []string{"Proxy-Authorization"}},
		{name: "unknown proxy user falls back to authorization", cfg: map[string]any{"hide_credentials": true},
			hdr:      map[string]string{"Proxy-Authorization": basic("bob:x"), "Authorization": basic("alice:secret")},
			consumer: "alice", ident: "alice"},
		{name: "known proxy user, wrong password", cfg: map[string]any{},
			hdr:    map[string]string{"Proxy-Authorization": basic("alice:nope"), "Authorization": basic("alice:secret")},
			status: 401, msg: "Unauthorized", www: `Basic realm="service"`},
		{name: "wrong password", cfg: map[string]any{}, hdr: map[string]string{"Authorization": basic("alice:nope")},
			status: 401, msg: "Unauthorized", www: `Basic realm="service"`},
		{name: "unknown user", cfg: map[string]any{}, hdr: map[string]string{"Authorization": basic("bob:secret")},
			status: 401, msg: "Unauthorized", www: `Basic realm="service"`},
		{name: "not basic", cfg: map[string]any{}, hdr: map[string]string{"Authorization": "Bearer abc"},
			status: 401, msg: "Unauthorized", www: `Basic realm="service"`},
		{name: "hide", cfg: map[string]any{"hide_credentials": true}, hdr: map[string]string{"Authorization": basic("alice:secret")},
			consumer: "alice", ident: "alice"},
		{name: "anonymous", cfg: map[string]any{"anonymous": "anon"}, hdr: map[string]string{"Authorization": basic("alice:nope")},
			consumer: "anon", anon: "true", left: []string{"Authorization"}},
		{name: "anonymous missing", cfg: map[string]any{"anonymous": "ghost"}, status: 500,
			msg: "anonymous consumer ghost is configured but doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInstance(t, tt.cfg, e)
			r, _ := http.NewRequest("GET", "http://x/", nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			r.Header.Set(plugin.HeaderAnonymousConsumer, "spoofed")
			c := &plugin.Ctx{Request: r}
			b.Access(c)
			ex := c.Exited()
			if tt.status != 0 {
				if ex == nil {
					t.Fatalf("let through; want %d", tt.status)
				}
				if ex.Status != tt.status || ex.Message != tt.msg || ex.Header.Get("WWW-Authenticate") != tt.www {
					t.Fatalf("exit = %d %q %q; want %d %q %q", ex.Status, ex.Message, ex.Header.Get("WWW-Authenticate"), tt.status, tt.msg, tt.www)
				}
				return
			}
			if ex != nil {
				t.Fatalf("exit %d %q; want let through", ex.Status, ex.Message)
			}
			for h, want := range map[string]string{plugin.HeaderConsumerUsername: tt.consumer,
				plugin.HeaderCredentialIdentifier: tt.ident, plugin.HeaderAnonymousConsumer: tt.anon} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s = %q; want %q", h, got, want)
				}
			}
			for _, h := range []string{"Authorization", "Proxy-Authorization"} {
				kept := r.Header.Get(h) != ""
				want := false
				for _, l := range tt.left {
					want = want || l == h
				}
				if kept != want {
					t.Errorf("%s kept = %v; want %v", h, kept, want)
				}
			}
		})
	}
}

// TestAlreadyAuthenticated: with anonymous set, a request another auth
// plugin accepted is left alone.
func TestAlreadyAuthenticated(t *testing.T) {
	b := newInstance(t, map[string]any{"anonymous": "anon"}, testEnts())
	r, _ := http.NewRequest("GET", "http://x/", nil)
	c := &plugin.Ctx{Request: r}
	c.Authenticate(&model.Consumer{ID: "other"}, "k1")
	b.Access(c)
	if c.Exited() != nil || c.Consumer.ID != "other" || c.Anonymous() {
		t.Errorf("consumer %v anonymous %v exit %v; want other, false, nil", c.Consumer.ID, c.Anonymous(), c.Exited())
	}
}

func BenchmarkAccess(b *testing.B) {
	ba := newInstance(b, map[string]any{}, testEnts())
	r, _ := http.NewRequest("GET", "http://x/", nil)
	auth := basic("alice:secret")
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("Authorization", auth)
		c := plugin.Ctx{Request: r}
		ba.Access(&c)
		if c.Exited() != nil {
			b.Fatal("rejected")
		}
	}
}
