package acl_test

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"sluice/internal/model"
	_ "sluice/internal/plugin/acl"
	_ "sluice/internal/plugin/basicauth"
	_ "sluice/internal/plugin/keyauth"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"key-auth": `{}`,
		"acl":      `{"allow":["admin","ops"]}`,
	})
	alice, bob := "alice", "bob"
	cfg.Consumers = []*model.Consumer{{ID: "00000000-0000-4000-8000-0000000000c1", Username: &alice},
		{ID: "00000000-0000-4000-8000-0000000000c2", Username: &bob}}
	fk := func(id string) *model.ForeignKey { return &model.ForeignKey{ID: id} }
	cfg.KeyAuthCredentials = []*model.KeyAuthCredential{
		{ID: "00000000-0000-4000-8000-0000000000a1", Consumer: fk(cfg.Consumers[0].ID), Key: "alice-key"},
		{ID: "00000000-0000-4000-8000-0000000000a2", Consumer: fk(cfg.Consumers[1].ID), Key: "bob-key"},
	}
	cfg.ACLs = []*model.ACL{
		{ID: "00000000-0000-4000-8000-0000000000b1", Consumer: fk(cfg.Consumers[0].ID), Group: "admin"},
		{ID: "00000000-0000-4000-8000-0000000000b2", Consumer: fk(cfg.Consumers[0].ID), Group: "ops"},
		{ID: "00000000-0000-4000-8000-0000000000b3", Consumer: fk(cfg.Consumers[1].ID), Group: "dev"},
	}
	g := proxytest.Serve(t, cfg)

	tests := []struct {
		name   string
		key    string
		status int
		msg    string
		groups string
	}{
		{"allowed", "alice-key", 200, "", "admin, ops"},
		{"not allowed", "bob-key", 403, "You cannot consume this service", ""},
		{"no key (key-auth answers first)", "", 401, "No API key found in request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"X-Consumer-Groups": "spoofed"}
			if tt.key != "" {
				hdr["apikey"] = tt.key
			}
			res, body := g.Do(t, "GET", "/x", hdr, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if got := proxytest.Message(t, body); got != tt.msg {
					t.Errorf("message = %q; want %q", got, tt.msg)
				}
				return
			}
			e := proxytest.DecodeEcho(t, body)
			if got := e.Headers.Values("X-Consumer-Groups"); len(got) != 1 || got[0] != tt.groups {
				t.Errorf("upstream X-Consumer-Groups = %q; want [%q]", got, tt.groups)
			}
			if got := e.Headers.Get("X-Consumer-Username"); got != "alice" {
				t.Errorf("upstream X-Consumer-Username = %q; want alice", got)
			}
		})
	}
}

// TestWithoutAuthPlugin: acl alone has no consumer and answers 401.
func TestWithoutAuthPlugin(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"acl": `{"deny":["x"]}`})
	res, body := g.Do(t, "GET", "/", nil, "")
	if res.StatusCode != 401 || proxytest.Message(t, body) != "Unauthorized" {
		t.Errorf("got %d %s; want 401 Unauthorized", res.StatusCode, body)
	}
}

// TestAnonymousOR: basic-auth with an anonymous consumer in front of acl.
// A valid credential is checked with its consumer's groups; without one the
// request continues as the anonymous consumer, checked with its own groups.
func TestAnonymousOR(t *testing.T) {
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	const aliceID, anonID = "00000000-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c9"
	cfg := proxytest.Config(t, up.URL, map[string]string{
		"basic-auth": `{"anonymous":"` + anonID + `"}`,
		"acl":        `{"allow":["admin"]}`,
	})
	alice, anon := "alice", "anon"
	cfg.Consumers = []*model.Consumer{{ID: aliceID, Username: &alice}, {ID: anonID, Username: &anon}}
	fk := func(id string) *model.ForeignKey { return &model.ForeignKey{ID: id} }
	cfg.BasicAuthCredentials = []*model.BasicAuthCredential{{ID: "00000000-0000-4000-8000-0000000000a1", Consumer: fk(aliceID),
		Username: "alice", Password: model.HashBasicAuthPassword("pw", aliceID)}}
	cfg.ACLs = []*model.ACL{
		{ID: "00000000-0000-4000-8000-0000000000b1", Consumer: fk(aliceID), Group: "admin"},
		{ID: "00000000-0000-4000-8000-0000000000b2", Consumer: fk(anonID), Group: "guest"},
	}
	g := proxytest.Serve(t, cfg)
	for _, tt := range []struct {
		name, auth string
		status     int
	}{
		{"credential", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), 200},
		{"anonymous", "", 403},
		{"bad password falls back to anonymous", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:x")), 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			res, body := g.Do(t, "GET", "/", hdr, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.status == 403 {
				if got := proxytest.Message(t, body); got != "You cannot consume this service" {
					t.Errorf("message = %q; want You cannot consume this service", got)
				}
				return
			}
			if got := proxytest.DecodeEcho(t, body).Headers.Get("X-Consumer-Groups"); got != "admin" {
				t.Errorf("upstream X-Consumer-Groups = %q; want admin", got)
			}
		})
	}
}
