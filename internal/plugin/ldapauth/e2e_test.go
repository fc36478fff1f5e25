package ldapauth_test

import (
	"encoding/base64"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/ldapauth"
	"sluice/internal/proxytest"
)

const baseDN = "ou=scientists,dc=ldap,dc=example,dc=com"

func ldapHeader(s string) string { return "ldap " + base64.StdEncoding.EncodeToString([]byte(s)) }

// gateway serves one route with ldap-auth configured by conf (JSON object
// members added to the server's address) and an anonymous consumer.
func gateway(t *testing.T, srv *ldapauth.FakeLDAP, conf string) *proxytest.Gateway {
	t.Helper()
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := `{"ldap_host":"127.0.0.1","ldap_port":` + portOf(t, srv) + `,"base_dn":"` + baseDN + `","attribute":"uid"` + conf + `}`
	mc := proxytest.Config(t, up.URL, map[string]string{"ldap-auth": cfg})
	anon := "nobody"
	mc.Consumers = []*model.Consumer{{ID: "00000000-0000-4000-8000-0000000000c9", Username: &anon}}
	return proxytest.Serve(t, mc)
}

func portOf(t *testing.T, srv *ldapauth.FakeLDAP) string {
	t.Helper()
	if srv == nil { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		_ = ln.Close()
		return p
	}
	_, p, _ := net.SplitHostPort(srv.Addr())
	return p
}

func fakeServer(t *testing.T, ldaps bool) *ldapauth.FakeLDAP {
	srv := ldapauth.NewFakeLDAP(t, ldaps)
	srv.AddUser("uid=einstein,"+baseDN, "password")
	return srv
}

func TestThroughProxy(t *testing.T) {
	srv := fakeServer(t, false)
	g := gateway(t, srv, `,"hide_credentials":true,"realm":"kong"`)
	spoof := map[string]string{"X-Consumer-Id": "spoofed", "X-Anonymous-Consumer": "spoofed"}

	res, body := g.Do(t, "GET", "/x", spoof, "")
	if res.StatusCode != 401 || proxytest.Message(t, body) != "Unauthorized" || res.Header.Get("WWW-Authenticate") != `LDAP realm="kong"` {
		t.Fatalf("no credentials: %d %s %q", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}
	spoof["Authorization"] = ldapHeader("einstein:nope")
	res, body = g.Do(t, "GET", "/x", spoof, "")
	if res.StatusCode != 401 || proxytest.Message(t, body) != "Unauthorized" || res.Header.Get("WWW-Authenticate") != `LDAP realm="kong"` {
		t.Fatalf("wrong password: %d %s %q", res.StatusCode, body, res.Header.Get("WWW-Authenticate"))
	}
	spoof["Authorization"] = ldapHeader("einstein:password")
	for i := 0; i < 2; i++ {
		res, body = g.Do(t, "GET", "/x", spoof, "")
		if res.StatusCode != 200 {
			t.Fatalf("good credentials: %d %s", res.StatusCode, body)
		}
		e := proxytest.DecodeEcho(t, body)
		for h, want := range map[string]string{"X-Credential-Identifier": "einstein", "X-Consumer-Id": "",
			"X-Consumer-Username": "", "X-Anonymous-Consumer": "", "Authorization": ""} {
			if got := e.Headers.Get(h); got != want {
				t.Errorf("upstream %s = %q; want %q", h, got, want)
			}
		}
	}
	if n := srv.Binds.Load(); n != 2 {
		t.Errorf("binds = %d; want 2 (one per distinct credentials, then cached)", n)
	}
}

func TestThroughProxyAnonymous(t *testing.T) {
	g := gateway(t, fakeServer(t, false), `,"anonymous":"nobody"`)
	res, body := g.Do(t, "GET", "/x", map[string]string{"Authorization": ldapHeader("einstein:nope")}, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s", res.StatusCode, body)
	}
	e := proxytest.DecodeEcho(t, body)
	for h, want := range map[string]string{"X-Anonymous-Consumer": "true", "X-Consumer-Username": "nobody",
		"X-Consumer-Id": "00000000-0000-4000-8000-0000000000c9", "X-Credential-Identifier": "",
		"Authorization": ldapHeader("einstein:nope")} {
		if got := e.Headers.Get(h); got != want {
			t.Errorf("upstream %s = %q; want %q", h, got, want)
		}
	}

	g = gateway(t, fakeServer(t, false), `,"anonymous":"ghost"`)
	res, body = g.Do(t, "GET", "/x", nil, "")
	if res.StatusCode != 500 || proxytest.Message(t, body) != "anonymous consumer ghost is configured but doesn't exist" {
		t.Errorf("missing anonymous: %d %s", res.StatusCode, body)
	}
}

func TestThroughProxyServerDown(t *testing.T) {
	g := gateway(t, nil, `,"timeout":2000`)
	res, body := g.Do(t, "GET", "/x", map[string]string{"Authorization": ldapHeader("einstein:password")}, "")
	if res.StatusCode != 500 || proxytest.Message(t, body) != "An unexpected error occurred" {
		t.Errorf("server down: %d %s", res.StatusCode, body)
	}
}

func TestThroughProxyTLS(t *testing.T) {
	starttls := fakeServer(t, false)
	starttls.StartTLS.Store(true)
	ldaps := fakeServer(t, true)
	for name, tc := range map[string]struct {
		srv  *ldapauth.FakeLDAP
		conf string
	}{
		"start_tls": {starttls, `,"start_tls":true`},
		"ldaps":     {ldaps, `,"ldaps":true`},
	} {
		t.Run(name, func(t *testing.T) {
			g := gateway(t, tc.srv, tc.conf)
			res, body := g.Do(t, "GET", "/x", map[string]string{"Proxy-Authorization": ldapHeader("einstein:password")}, "")
			if res.StatusCode != 200 {
				t.Fatalf("status %d %s", res.StatusCode, body)
			}
			if e := proxytest.DecodeEcho(t, body); e.Headers.Get("X-Credential-Identifier") != "einstein" ||
				e.Headers.Get("Proxy-Authorization") == "" {
				t.Errorf("upstream headers %v", e.Headers)
			}
			// verify_ldap_host with a certificate the system does not
			// trust: Kong's 401.
			g = gateway(t, tc.srv, tc.conf+`,"verify_ldap_host":true`)
			res, body = g.Do(t, "GET", "/x", map[string]string{"Authorization": ldapHeader("einstein:password")}, "")
			if res.StatusCode != 401 {
				t.Errorf("untrusted certificate: %d %s", res.StatusCode, body)
			}
		})
	}
	if starttls.StartTLSs.Load() == 0 {
		t.Error("no StartTLS request reached the server")
	}
}

// TestRegistered: the definition is Kong's.
func TestRegistered(t *testing.T) {
	d, ok := plugin.Lookup("ldap-auth")
	if !ok || d.Priority != 1200 || !d.NoConsumer || d.Version != "3.9.1" ||
		strings.Join(d.Protocols, ",") != "grpc,grpcs,http,https" {
		t.Errorf("definition %+v", d)
	}
}
