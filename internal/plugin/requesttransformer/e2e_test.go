package requesttransformer_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	_ "sluice/internal/plugin/requesttransformer"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"request-transformer": `{
		"remove":{"headers":["x-secret"],"querystring":["debug"],"body":["password"]},
		"rename":{"headers":["x-user:x-upstream-user"]},
		"add":{"headers":["x-via:sluice","x-q:$(query_params.q)"],"querystring":["added:1"],"body":["source:gw"]},
		"append":{"headers":["x-tag:b"]}}`})
	res, body := g.Do(t, "POST", "/x?q=hello&debug=1", map[string]string{"X-Secret": "s", "X-User": "bob", "X-Tag": "a",
		"Content-Type": "application/json"}, `{"password":"p","name":"n"}`)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	e := proxytest.DecodeEcho(t, body)
	if e.URI != "/x?added=1&q=hello" {
		t.Errorf("upstream uri = %q; want /x?added=1&q=hello", e.URI)
	}
	if e.Body != `{"name":"n","source":"gw"}` {
		t.Errorf("upstream body = %s; want {\"name\":\"n\",\"source\":\"gw\"}", e.Body)
	}
	for k, want := range map[string]string{"X-Secret": "", "X-User": "", "X-Upstream-User": "bob", "X-Via": "sluice", "X-Q": "hello",
		"Content-Length": strconv.Itoa(len(`{"name":"n","source":"gw"}`))} {
		if got := e.Headers.Get(k); got != want {
			t.Errorf("upstream %s = %q; want %q", k, got, want)
		}
	}
	if got := strings.Join(e.Headers.Values("X-Tag"), ","); got != "a,b" {
		t.Errorf("upstream X-Tag = %q; want a,b", got)
	}
}

func TestMethodThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"request-transformer": `{"http_method":"GET"}`})
	_, body := g.Do(t, "POST", "/x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=1")
	e := proxytest.DecodeEcho(t, body)
	if e.Method != "GET" || e.URI != "/x?a=1" {
		t.Errorf("upstream %s %s; want GET /x?a=1", e.Method, e.URI)
	}
}

// TestUpstreamHostThroughProxy: replace.headers host sets the Host the
// upstream receives, with and without the route's preserve_host (Kong's
// set_headers with host sets $upstream_host, which wins over both); without
// the plugin's host the upstream sees the service host or, with
// preserve_host, the client's.
func TestUpstreamHostThroughProxy(t *testing.T) {
	for _, tt := range []struct {
		cfg      string
		preserve bool
		want     string // "" = the service's host:port, "client" = the Host the client sent
	}{
		{`{"replace":{"headers":["host:api.internal"]}}`, false, "api.internal"},
		{`{"replace":{"headers":["host:api.internal"]}}`, true, "api.internal"},
		{`{"rename":{"headers":["x-target:host"]}}`, false, "renamed.internal"},
		{`{"add":{"headers":["host:ignored"]}}`, false, ""},
		{`{"add":{"headers":["host:ignored"]}}`, true, "client"},
	} {
		var got string
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Host }))
		cfg := proxytest.Config(t, up.URL, map[string]string{"request-transformer": tt.cfg})
		cfg.Routes[0].PreserveHost = tt.preserve
		g := proxytest.Serve(t, cfg)
		res, _ := g.Do(t, "GET", "/x", map[string]string{"X-Target": "renamed.internal"}, "")
		up.Close()
		want := tt.want
		switch want {
		case "":
			want = strings.TrimPrefix(up.URL, "http://")
		case "client":
			want = strings.TrimPrefix(g.URL, "http://")
		}
		if res.StatusCode != 200 || got != want {
			t.Errorf("%s preserve_host=%v: upstream Host %q (status %d); want %q", tt.cfg, tt.preserve, got, res.StatusCode, want)
		}
	}
}
