package requesttransformer_test

import (
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
