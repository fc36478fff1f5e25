package jwt_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"sluice/internal/model"
	_ "sluice/internal/plugin/jwt"
	"sluice/internal/proxytest"
)

func hs256(claims, secret string) string {
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + enc(m.Sum(nil))
}

func TestThroughProxy(t *testing.T) {
	up := httptest.NewServer(proxytest.EchoUpstream)
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{"jwt": `{"claims_to_verify":["exp"],"realm":"api"}`})
	alice := "alice"
	cid := "00000000-0000-4000-8000-0000000000c1"
	cfg.Consumers = []*model.Consumer{{ID: cid, Username: &alice}}
	cfg.JWTSecrets = []*model.JWTSecret{{ID: "00000000-0000-4000-8000-0000000000a1", Consumer: &model.ForeignKey{ID: cid},
		Key: "alice-iss", Secret: "alice-secret", Algorithm: "HS256"}}
	g := proxytest.Serve(t, cfg)

	future := time.Now().Add(time.Hour).Unix()
	valid := hs256(`{"iss":"alice-iss","exp":`+itoa(future)+`}`, "alice-secret")
	tests := []struct {
		name, auth string
		status     int
		body, www  string
	}{
		{"valid", "Bearer " + valid, 200, "", ""},
		{"expired", "Bearer " + hs256(`{"iss":"alice-iss","exp":1}`, "alice-secret"), 401,
			`{"exp":"token expired"}`, `Bearer realm="api" error="invalid_token"`},
		{"bad signature", "Bearer " + hs256(`{"iss":"alice-iss","exp":`+itoa(future)+`}`, "nope"), 401,
			`{"message":"Invalid signature"}`, `Bearer realm="api" error="invalid_token"`},
		{"none", "", 401, `{"message":"Unauthorized"}`, `Bearer realm="api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"X-Consumer-Username": "spoofed"}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			res, body := g.Do(t, "GET", "/x", hdr, "")
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				if body != tt.body {
					t.Errorf("body = %s; want %s", body, tt.body)
				}
				if got := res.Header.Get("WWW-Authenticate"); got != tt.www {
					t.Errorf("WWW-Authenticate = %q; want %q", got, tt.www)
				}
				if got := res.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q; want application/json; charset=utf-8", got)
				}
				return
			}
			e := proxytest.DecodeEcho(t, body)
			for h, want := range map[string]string{"X-Consumer-Id": cid, "X-Consumer-Username": "alice", "X-Credential-Identifier": "alice-iss"} {
				if got := e.Headers.Get(h); got != want {
					t.Errorf("upstream %s = %q; want %q", h, got, want)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
