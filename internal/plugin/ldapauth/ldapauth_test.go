package ldapauth

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

const baseDN = "ou=scientists,dc=ldap,dc=example,dc=com"

var quiet = slog.New(slog.DiscardHandler)

type ents map[string]*model.Consumer

func (e ents) Consumer(id string) *model.Consumer                  { return e[id] }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential     { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential   { return nil }
func (ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (ents) OAuth2Credential(string) *model.OAuth2Credential       { return nil }
func (ents) OAuth2CredentialByID(string) *model.OAuth2Credential   { return nil }
func (ents) ConsumerGroups(string) []string                        { return nil }
func testEnts() ents {
	anon := "anon"
	c := &model.Consumer{ID: "c9", Username: &anon}
	return ents{"c9": c, "anon": c}
}

func ldap(userPass string) string { return "ldap " + b64(userPass) }

// serverConfig is a config for srv with extra fields.
func serverConfig(srv *FakeLDAP, extra map[string]any) map[string]any {
	cfg := map[string]any{"ldap_host": srv.Host, "ldap_port": srv.Port, "base_dn": baseDN, "attribute": "uid"}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func newInstance(t testing.TB, cfg map[string]any) *LDAPAuth {
	t.Helper()
	rec, serr := Schema.Process(cfg, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := New(rec, plugin.Deps{Entities: testEnts(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	l := impl.(*LDAPAuth)
	t.Cleanup(l.Close)
	return l
}

func newServer(t testing.TB, ldaps bool) *FakeLDAP {
	srv := NewFakeLDAP(t, ldaps)
	srv.AddUser("uid=einstein,"+baseDN, "password")
	srv.AddUser("uid=tesla,"+baseDN, "ac")
	return srv
}

// run sends one request with hdr through Access.
func run(l *LDAPAuth, hdr map[string]string) (*plugin.Ctx, *http.Request) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	r.Header.Set(plugin.HeaderAnonymousConsumer, "spoofed")
	r.Header.Set(plugin.HeaderConsumerID, "spoofed")
	c := &plugin.Ctx{Request: r}
	l.Access(c)
	return c, r
}

func TestSchema(t *testing.T) {
	rec, serr := Schema.Process(map[string]any{"ldap_host": "ldap.example.com", "base_dn": "dc=x", "attribute": "cn"}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	for k, want := range map[string]any{"ldap_port": 389, "ldaps": false, "start_tls": false, "verify_ldap_host": false,
		"cache_ttl": 60, "hide_credentials": false, "timeout": 10000, "keepalive": 60000, "header_type": "ldap",
		"anonymous": nil, "realm": nil} {
		if got := rec[k]; got != want {
			t.Errorf("default %s = %#v; want %#v", k, got, want)
		}
	}
	bad := map[string]struct {
		cfg  map[string]any
		want string
	}{
		"ldaps and start_tls": {map[string]any{"ldap_host": "none", "ldaps": true, "start_tls": true, "base_dn": "ou=users",
			"attribute": "cn"}, "'ldaps' and 'start_tls' cannot be enabled simultaneously"},
		"no host":      {map[string]any{"base_dn": "dc=x", "attribute": "cn"}, "ldap_host: required field missing"},
		"no base_dn":   {map[string]any{"ldap_host": "h", "attribute": "cn"}, "base_dn: required field missing"},
		"no attribute": {map[string]any{"ldap_host": "h", "base_dn": "dc=x"}, "attribute: required field missing"},
		"bad host":     {map[string]any{"ldap_host": "h:389", "base_dn": "dc=x", "attribute": "cn"}, "ldap_host"},
		"bad port":     {map[string]any{"ldap_host": "h", "ldap_port": 70000, "base_dn": "dc=x", "attribute": "cn"}, "ldap_port"},
	}
	for name, tc := range bad {
		_, serr := Schema.Process(tc.cfg, nil)
		if serr == nil || !contains(serr.Error(), tc.want) {
			t.Errorf("%s: error %v; want one mentioning %q", name, serr, tc.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestAccess pins Kong 3.9's answers (kong/plugins/ldap-auth/access.lua):
// every failure is 401 {"message":"Unauthorized"} with WWW-Authenticate
// set to the header type ("ldap" sent as "LDAP") and the realm when
// configured; success continues without a consumer, the username in
// X-Credential-Identifier.
func TestAccess(t *testing.T) {
	srv := newServer(t, false)
	tests := []struct {
		name   string
		cfg    map[string]any
		hdr    map[string]string
		status int
		msg    string
		www    string
		ident  string // X-Credential-Identifier when let through
		anon   string // X-Anonymous-Consumer
		user   string // X-Consumer-Username
		left   []string
	}{
		{name: "no header", status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "realm", cfg: map[string]any{"realm": "kong"}, status: 401, msg: "Unauthorized", www: `LDAP realm="kong"`},
		{name: "custom header type", cfg: map[string]any{"header_type": "Basic"}, status: 401, msg: "Unauthorized", www: "Basic"},
		{name: "lower-case custom type kept", cfg: map[string]any{"header_type": "basic", "realm": "r"}, status: 401,
			msg: "Unauthorized", www: `basic realm="r"`},
		{name: "ok", hdr: map[string]string{"Authorization": ldap("einstein:password")}, ident: "einstein",
			left: []string{"Authorization"}},
		{name: "upper-case scheme", hdr: map[string]string{"Authorization": "LDAP " + b64("einstein:password")}, ident: "einstein",
			left: []string{"Authorization"}},
		{name: "custom type", cfg: map[string]any{"header_type": "Basic"},
			hdr: map[string]string{"Authorization": "basic " + b64("einstein:password")}, ident: "einstein", left: []string{"Authorization"}},
		{name: "proxy-authorization", hdr: map[string]string{"Proxy-Authorization": ldap("tesla:ac")}, ident: "tesla",
			left: []string{"Proxy-Authorization"}},
		{name: "bad proxy-authorization, good authorization",
			hdr:   map[string]string{"Proxy-Authorization": ldap("tesla:nope"), "Authorization": ldap("einstein:password")},
			ident: "einstein", left: []string{"Proxy-Authorization", "Authorization"}},
		{name: "hide removes both headers", cfg: map[string]any{"hide_credentials": true},
			hdr:   map[string]string{"Proxy-Authorization": ldap("tesla:nope"), "Authorization": ldap("einstein:password")},
			ident: "einstein"},
		{name: "wrong password", hdr: map[string]string{"Authorization": ldap("einstein:nope")}, status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "unknown user", hdr: map[string]string{"Authorization": ldap("bohr:password")}, status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "no password", hdr: map[string]string{"Authorization": ldap("einstein:")}, status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "wrong format", hdr: map[string]string{"Authorization": "abcd"}, status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "other scheme", hdr: map[string]string{"Authorization": "invalidldap " + b64("einstein:password")}, status: 401,
			msg: "Unauthorized", www: "LDAP"},
		{name: "hide keeps headers on failure", cfg: map[string]any{"hide_credentials": true},
			hdr: map[string]string{"Authorization": ldap("einstein:nope")}, status: 401, msg: "Unauthorized", www: "LDAP"},
		{name: "anonymous", cfg: map[string]any{"anonymous": "anon"}, hdr: map[string]string{"Authorization": ldap("einstein:nope")},
			anon: "true", user: "anon", left: []string{"Authorization"}},
		{name: "anonymous by id, no header", cfg: map[string]any{"anonymous": "c9"}, anon: "true", user: "anon"},
		{name: "anonymous, good credentials", cfg: map[string]any{"anonymous": "anon"},
			hdr: map[string]string{"Authorization": ldap("einstein:password")}, ident: "einstein", left: []string{"Authorization"}},
		{name: "anonymous missing", cfg: map[string]any{"anonymous": "ghost"}, status: 500,
			msg: "anonymous consumer ghost is configured but doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newInstance(t, serverConfig(srv, tt.cfg))
			c, r := run(l, tt.hdr)
			ex := c.Exited()
			if tt.status != 0 {
				if ex == nil {
					t.Fatalf("let through; want %d", tt.status)
				}
				if ex.Status != tt.status || ex.Message != tt.msg || ex.Header.Get("WWW-Authenticate") != tt.www {
					t.Fatalf("exit = %d %q %q; want %d %q %q", ex.Status, ex.Message, ex.Header.Get("WWW-Authenticate"),
						tt.status, tt.msg, tt.www)
				}
				return
			}
			if ex != nil {
				t.Fatalf("exit %d %q; want let through", ex.Status, ex.Message)
			}
			wantID := ""
			if tt.anon != "" {
				wantID = "c9"
			}
			for h, want := range map[string]string{plugin.HeaderCredentialIdentifier: tt.ident,
				plugin.HeaderAnonymousConsumer: tt.anon, plugin.HeaderConsumerUsername: tt.user, plugin.HeaderConsumerID: wantID} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s = %q; want %q", h, got, want)
				}
			}
			if tt.ident != "" && (c.Credential != tt.ident || c.Consumer != nil || !c.Authenticated()) {
				t.Errorf("credential %q consumer %v authenticated %v", c.Credential, c.Consumer, c.Authenticated())
			}
			for _, h := range []string{"Authorization", "Proxy-Authorization"} {
				kept := r.Header.Get(h) != ""
				want := false
				for _, k := range tt.left {
					want = want || k == h
				}
				if kept != want {
					t.Errorf("%s kept = %v; want %v", h, kept, want)
				}
			}
		})
	}
}

// TestAlreadyAuthenticated: with anonymous set, a request another auth
// plugin accepted is left alone; without it, ldap-auth checks anyway.
func TestAlreadyAuthenticated(t *testing.T) {
	srv := newServer(t, false)
	for _, anon := range []bool{true, false} {
		cfg := map[string]any{}
		if anon {
			cfg["anonymous"] = "anon"
		}
		l := newInstance(t, serverConfig(srv, cfg))
		r, _ := http.NewRequest("GET", "http://x/", nil)
		c := &plugin.Ctx{Request: r}
		c.Authenticate(&model.Consumer{ID: "other"}, "k1")
		l.Access(c)
		if anon != (c.Exited() == nil) {
			t.Errorf("anonymous %v: exit %v", anon, c.Exited())
		}
	}
	if n := srv.Binds.Load(); n != 0 {
		t.Errorf("binds = %d; want 0", n)
	}
}

func TestCache(t *testing.T) {
	srv := newServer(t, false)
	l := newInstance(t, serverConfig(srv, map[string]any{"cache_ttl": 30}))
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	expect := func(hdr string, status int, binds int64) {
		t.Helper()
		c, _ := run(l, map[string]string{"Authorization": hdr})
		got := 0
		if ex := c.Exited(); ex != nil {
			got = ex.Status
		}
		if got != status || srv.Binds.Load() != binds {
			t.Fatalf("%q: status %d binds %d; want %d, %d", hdr, got, srv.Binds.Load(), status, binds)
		}
	}
	expect(ldap("einstein:password"), 0, 1)
	expect(ldap("einstein:password"), 0, 1)          // hit
	expect(ldap("einstein:nope"), 401, 2)            // a refusal is cached too (Kong's neg_ttl)
	expect(ldap("einstein:nope"), 401, 2)            //
	expect("LDAP   "+b64("einstein:password"), 0, 2) // same credentials, other spelling
	now = now.Add(30 * time.Second)
	expect(ldap("einstein:password"), 0, 3) // expired
	expect(ldap("einstein:nope"), 401, 4)

	none := newInstance(t, serverConfig(srv, map[string]any{"cache_ttl": -1}))
	for i := 0; i < 2; i++ {
		run(none, map[string]string{"Authorization": ldap("einstein:password")})
	}
	if n := srv.Binds.Load(); n != 6 {
		t.Errorf("binds with cache_ttl -1 = %d; want 6", n)
	}

	forever := newInstance(t, serverConfig(srv, map[string]any{"cache_ttl": 0}))
	forever.now = func() time.Time { return now }
	run(forever, map[string]string{"Authorization": ldap("einstein:password")})
	now = now.Add(1000 * time.Hour)
	run(forever, map[string]string{"Authorization": ldap("einstein:password")})
	if n := srv.Binds.Load(); n != 7 {
		t.Errorf("binds with cache_ttl 0 = %d; want 7", n)
	}
}

// TestCacheSurvivesReload: an instance rebuilt with the same settings
// (same plugin id, state pool) keeps the cache; other settings start anew.
func TestCacheSurvivesReload(t *testing.T) {
	srv := newServer(t, false)
	pool := plugin.NewStatePool()
	build := func(extra map[string]any) *LDAPAuth {
		rec, serr := Schema.Process(serverConfig(srv, extra), nil)
		if serr != nil {
			t.Fatal(serr)
		}
		impl, err := New(rec, plugin.Deps{PluginID: "p1", State: pool, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(impl.(*LDAPAuth).Close)
		return impl.(*LDAPAuth)
	}
	hdr := map[string]string{"Authorization": ldap("einstein:password")}
	run(build(nil), hdr)
	run(build(map[string]any{"hide_credentials": true}), hdr) // unrelated change
	if n := srv.Binds.Load(); n != 1 {
		t.Fatalf("binds = %d; want 1", n)
	}
	run(build(map[string]any{"base_dn": "dc=other"}), hdr)
	if n := srv.Binds.Load(); n != 2 {
		t.Fatalf("binds after base_dn change = %d; want 2", n)
	}
}

// TestConcurrentMisses: requests with the same new credentials share one
// bind.
func TestConcurrentMisses(t *testing.T) {
	srv := newServer(t, false)
	hold := srv.Hold()
	l := newInstance(t, serverConfig(srv, nil))
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := run(l, map[string]string{"Authorization": ldap("einstein:password")})
			if ex := c.Exited(); ex != nil {
				statuses[i] = ex.Status
			}
		}()
	}
	for srv.Binds.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind the first
	close(hold)
	wg.Wait()
	if n := srv.Binds.Load(); n != 1 {
		t.Errorf("binds = %d; want 1", n)
	}
	for i, s := range statuses {
		if s != 0 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
}

// TestServerDown: a server that cannot be reached answers Kong's 500,
// even with anonymous, and nothing is cached.
func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	for _, extra := range []map[string]any{nil, {"anonymous": "anon"}} {
		cfg := map[string]any{"ldap_host": "127.0.0.1", "ldap_port": port, "base_dn": baseDN, "attribute": "uid", "timeout": 2000}
		for k, v := range extra {
			cfg[k] = v
		}
		l := newInstance(t, cfg)
		for i := 0; i < 2; i++ {
			c, _ := run(l, map[string]string{"Authorization": ldap("einstein:password")})
			ex := c.Exited()
			if ex == nil || ex.Status != 500 || ex.Message != "An unexpected error occurred" {
				t.Fatalf("exit %+v; want 500 An unexpected error occurred", ex)
			}
		}
		if n, _ := l.cache.entries.Len(); n != 0 {
			t.Errorf("cached %d answers", n)
		}
	}
}

// TestBadAnswers: a server whose answer is not LDAP, or that refuses with
// another result code, gives 401; only result codes are cached.
func TestBadAnswers(t *testing.T) {
	srv := newServer(t, false)
	srv.Garbage.Store(true)
	l := newInstance(t, serverConfig(srv, nil))
	for i := 0; i < 2; i++ {
		c, _ := run(l, map[string]string{"Authorization": ldap("einstein:password")})
		if ex := c.Exited(); ex == nil || ex.Status != 401 {
			t.Fatalf("garbage answer: exit %+v; want 401", ex)
		}
	}
	if n := srv.Binds.Load(); n != 2 {
		t.Errorf("binds = %d; want 2 (a bad answer is not cached)", n)
	}
	srv.Garbage.Store(false)
	srv.SetCode(func(string, string) int { return 53 }) // unwillingToPerform
	for i := 0; i < 2; i++ {
		c, _ := run(l, map[string]string{"Authorization": ldap("tesla:ac")})
		if ex := c.Exited(); ex == nil || ex.Status != 401 {
			t.Fatalf("result 53: exit %+v; want 401", ex)
		}
	}
	if n := srv.Binds.Load(); n != 3 {
		t.Errorf("binds = %d; want 3 (a refusal is cached)", n)
	}
}

// TestDNEscaping: the username cannot add RDNs to the bind DN.
func TestDNEscaping(t *testing.T) {
	srv := newServer(t, false)
	dns := make(chan string, 1)
	srv.SetCode(func(dn, _ string) int { dns <- dn; return 49 })
	l := newInstance(t, serverConfig(srv, nil))
	run(l, map[string]string{"Authorization": ldap("einstein,ou=admins:password")})
	if got, want := <-dns, `uid=einstein\,ou=admins,`+baseDN; got != want {
		t.Errorf("bind DN %q; want %q", got, want)
	}
}

// TestConnectionReuse: binds share one connection; a connection the
// server closed while idle is replaced transparently.
func TestConnectionReuse(t *testing.T) {
	srv := newServer(t, false)
	l := newInstance(t, serverConfig(srv, nil))
	for _, u := range []string{"einstein:password", "tesla:ac", "tesla:wrong"} {
		if c, _ := run(l, map[string]string{"Authorization": ldap(u)}); u != "tesla:wrong" && c.Exited() != nil {
			t.Fatalf("%s: exit %+v", u, c.Exited())
		}
	}
	if n := srv.Conns.Load(); n != 1 {
		t.Fatalf("connections = %d; want 1", n)
	}
	srv.DropConns()
	time.Sleep(10 * time.Millisecond)
	c, _ := run(l, map[string]string{"Authorization": ldap("einstein:password2")})
	if ex := c.Exited(); ex == nil || ex.Status != 401 {
		t.Fatalf("after drop: exit %+v; want 401", ex)
	}
	if n := srv.Conns.Load(); n != 2 {
		t.Errorf("connections = %d; want 2", n)
	}

	short := newInstance(t, serverConfig(srv, map[string]any{"keepalive": 20}))
	run(short, map[string]string{"Authorization": ldap("einstein:password3")})
	if short.cl.pool.size() != 1 {
		t.Fatal("connection not kept")
	}
	for deadline := time.Now().Add(5 * time.Second); short.cl.pool.size() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("idle connection kept past keepalive")
		}
	}
	none := newInstance(t, serverConfig(srv, map[string]any{"keepalive": -1}))
	run(none, map[string]string{"Authorization": ldap("einstein:password4")})
	if n := none.cl.pool.size(); n != 0 {
		t.Errorf("idle connections with keepalive -1 = %d; want 0", n)
	}
}

func TestStartTLS(t *testing.T) {
	srv := newServer(t, false)
	srv.StartTLS.Store(true)
	l := newInstance(t, serverConfig(srv, map[string]any{"start_tls": true}))
	for _, u := range []string{"einstein:password", "tesla:ac"} {
		if c, _ := run(l, map[string]string{"Authorization": ldap(u)}); c.Exited() != nil {
			t.Fatalf("%s: exit %+v", u, c.Exited())
		}
	}
	if n, m := srv.StartTLSs.Load(), srv.Conns.Load(); n != 1 || m != 1 {
		t.Errorf("StartTLS %d on %d connections; want 1, 1", n, m)
	}

	// verify_ldap_host: the self-signed certificate is refused (Kong: 401)
	// unless trusted.
	v := newInstance(t, serverConfig(srv, map[string]any{"start_tls": true, "verify_ldap_host": true}))
	if c, _ := run(v, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() == nil || c.Exited().Status != 401 {
		t.Fatalf("untrusted certificate: exit %+v; want 401", c.Exited())
	}
	v.cl.tls.RootCAs = srv.Roots
	if c, _ := run(v, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() != nil {
		t.Fatalf("trusted certificate: exit %+v", c.Exited())
	}

	// A server without StartTLS: Kong answers 500.
	plain := newServer(t, false)
	p := newInstance(t, serverConfig(plain, map[string]any{"start_tls": true}))
	if c, _ := run(p, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() == nil || c.Exited().Status != 500 {
		t.Fatalf("StartTLS refused: exit %+v; want 500", c.Exited())
	}
}

func TestLDAPS(t *testing.T) {
	srv := newServer(t, true)
	l := newInstance(t, serverConfig(srv, map[string]any{"ldaps": true}))
	if c, _ := run(l, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() != nil {
		t.Fatalf("exit %+v", c.Exited())
	}
	// By name, verified.
	v := newInstance(t, serverConfig(srv, map[string]any{"ldaps": true, "verify_ldap_host": true, "ldap_host": "localhost"}))
	v.cl.tls.RootCAs = srv.Roots
	v.cl.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)) // "localhost" may resolve to ::1 first
	if c, _ := run(v, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() != nil {
		t.Fatalf("verified: exit %+v", c.Exited())
	}
	// A plain client against a TLS server gets no LDAP answer.
	p := newInstance(t, serverConfig(srv, map[string]any{"timeout": 500}))
	if c, _ := run(p, map[string]string{"Authorization": ldap("einstein:password")}); c.Exited() == nil {
		t.Fatal("plain client accepted by an LDAPS server")
	}
}

// BenchmarkAccess measures a request whose credentials are cached.
func BenchmarkAccess(b *testing.B) {
	srv := newServer(b, false)
	l := newInstance(b, serverConfig(srv, nil))
	r, _ := http.NewRequest("GET", "http://x/", nil)
	auth := ldap("einstein:password")
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("Authorization", auth)
		c := plugin.Ctx{Request: r}
		l.Access(&c)
		if c.Exited() != nil {
			b.Fatal("rejected")
		}
	}
	if n := srv.Binds.Load(); n != 1 {
		b.Errorf("binds = %d; want 1", n)
	}
}

// TestBusyNotCached: a directory that answers busy (51) is asked again by
// the next request instead of the refusal being cached.
func TestBusyNotCached(t *testing.T) {
	srv := newServer(t, false)
	srv.SetCode(func(string, string) int { return 51 })
	l := newInstance(t, serverConfig(srv, nil))
	for i := 0; i < 2; i++ {
		c, _ := run(l, map[string]string{"Authorization": ldap("tesla:ac")})
		if ex := c.Exited(); ex == nil || ex.Status != 401 {
			t.Fatalf("result 51: exit %+v; want 401", ex)
		}
	}
	if n := srv.Binds.Load(); n != 2 {
		t.Errorf("binds = %d; want 2 (busy is not cached)", n)
	}
}
