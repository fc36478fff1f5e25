package basicauth_test

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"sluice/internal/model"
	_ "sluice/internal/plugin/basicauth"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{"basic-auth": `{"hide_credentials":true,"realm":"orders"}`})
	alice := "alice"
	cid := "00000000-0000-4000-8000-0000000000c1"
	cfg.Consumers = []*model.Consumer{{ID: cid, Username: &alice}}
	cfg.BasicAuthCredentials = []*model.BasicAuthCredential{{ID: "00000000-0000-4000-8000-0000000000a1",
		Consumer: &model.ForeignKey{ID: cid}, Username: "alice", Password: model.HashBasicAuthPassword("s3cret", cid)}}
	g := proxytest.Serve(t, cfg)

	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"valid", enc("alice:s3cret"), 200},
		{"wrong password", enc("alice:nope"), 401},
		{"no header", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"X-Consumer-Id": "spoofed"}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			res, body := g.Do(t, "GET", "/x", hdr, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.status == 401 {
				if got := proxytest.Message(t, body); got != "Unauthorized" {
					t.Errorf("message = %q; want Unauthorized", got)
				}
				if got := res.Header.Get("WWW-Authenticate"); got != `Basic realm="orders"` {
					t.Errorf("WWW-Authenticate = %q; want %q", got, `Basic realm="orders"`)
				}
				return
			}
			e := proxytest.DecodeEcho(t, body)
			for h, want := range map[string]string{"X-Consumer-Id": cid, "X-Consumer-Username": "alice",
				"X-Credential-Identifier": "alice", "Authorization": ""} {
				if got := e.Headers.Get(h); got != want {
					t.Errorf("upstream %s = %q; want %q", h, got, want)
				}
			}
		})
	}
}
