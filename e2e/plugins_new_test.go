package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestNewPluginsAndEnvVault runs the sluice binary with a kong.yml that
// uses this session's additions: an http-log endpoint given as an env vault
// reference (resolved from the process environment, kept as a reference in
// the configuration), request-termination, redirect and hmac-auth with a
// credential nested under its consumer.
func TestNewPluginsAndEnvVault(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	logs := make(chan map[string]any, 10)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e map[string]any
		data, _ := io.ReadAll(r.Body)
		if json.Unmarshal(data, &e) == nil {
			logs <- e
		}
	}))
	t.Cleanup(sink.Close)
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: svc
  url: ${UPSTREAM}
  routes:
  - name: logged
    paths: [/logged]
    plugins:
    - name: http-log
      config:
        http_endpoint: "{vault://env/e2e-log-sink}"
  - name: gone
    paths: [/gone]
    plugins:
    - name: request-termination
      config:
        status_code: 410
        message: moved away
  - name: moved
    paths: [/moved]
    plugins:
    - name: redirect
      config:
        location: https://new.example.com
        keep_incoming_path: true
  - name: signed
    paths: [/signed]
    plugins:
    - name: hmac-auth
consumers:
- username: alice
  hmacauth_credentials:
  - username: alice-hmac
    secret: s3cret
`, map[string]string{"UPSTREAM": b.srv.URL}), withEnv("E2E_LOG_SINK="+sink.URL+"/logs"))

	if r, err := g.do(request{path: "/logged/x"}); err != nil || r.status != 200 {
		t.Fatalf("/logged: %v %+v", err, r)
	}
	select {
	case e := <-logs:
		if req, _ := e["request"].(map[string]any); req["uri"] != "/logged/x" {
			t.Errorf("http-log entry request %v", e["request"])
		}
	case <-time.After(10 * time.Second):
		t.Error("no http-log entry reached the endpoint given by {vault://env/e2e-log-sink}")
	}

	if r, err := g.do(request{path: "/gone"}); err != nil || r.status != 410 || string(r.body) != `{"message":"moved away"}` {
		t.Errorf("/gone: %v %d %s", err, r.status, r.body)
	}
	if r, err := g.do(request{path: "/moved/a?b=1"}); err != nil || r.status != 301 || r.header.Get("Location") != "https://new.example.com/moved/a?b=1" {
		t.Errorf("/moved: %v %d %q", err, r.status, r.header.Get("Location"))
	}

	r, err := g.do(request{path: "/signed"})
	if err != nil || r.status != 401 || r.header.Get("WWW-Authenticate") != "hmac" {
		t.Errorf("/signed without credentials: %v %d %q", err, r.status, r.header.Get("WWW-Authenticate"))
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("date: " + date + "\nhost: 127.0.0.1:" + strconv.Itoa(g.httpPort) + "\nGET /signed HTTP/1.1"))
	auth := `hmac username="alice-hmac",algorithm="hmac-sha256",headers="date host request-line",signature="` +
		base64.StdEncoding.EncodeToString(m.Sum(nil)) + `"`
	r, err = g.do(request{path: "/signed", headers: map[string]string{"Date": date, "Authorization": auth}})
	if err != nil || r.status != 200 {
		t.Fatalf("/signed with a signature: %v %d %s", err, r.status, r.body)
	}
	var e echo
	if json.Unmarshal(r.body, &e) != nil || e.Headers.Get("X-Consumer-Username") != "alice" ||
		e.Headers.Get("X-Credential-Identifier") != "alice-hmac" {
		t.Errorf("upstream saw %v", e.Headers)
	}
}
