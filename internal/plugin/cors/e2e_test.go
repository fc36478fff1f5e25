package cors_test

import (
	"testing"

	_ "sluice/internal/plugin/cors"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"cors": `{"origins":["http://a.com","https://.*\\.b\\.org"],"exposed_headers":["X-Up"],"credentials":true,"max_age":600}`})

	res, body := g.Do(t, "OPTIONS", "/x", map[string]string{"Origin": "https://api.b.org", "Access-Control-Request-Method": "PUT",
		"Access-Control-Request-Headers": "X-Foo"}, "")
	if res.StatusCode != 200 || body != "" {
		t.Errorf("preflight: got %d %q; want 200 and no body", res.StatusCode, body)
	}
	for k, want := range map[string]string{"Access-Control-Allow-Origin": "https://api.b.org", "Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers": "X-Foo", "Access-Control-Max-Age": "600", "Vary": "Origin",
		"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("preflight %s = %q; want %q", k, got, want)
		}
	}

	res, body = g.Do(t, "GET", "/x", map[string]string{"Origin": "http://a.com"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("simple request: status %d", res.StatusCode)
	}
	if e := proxytest.DecodeEcho(t, body); e.URI != "/x" {
		t.Errorf("upstream saw %q; want /x", e.URI)
	}
	for k, want := range map[string]string{"Access-Control-Allow-Origin": "http://a.com", "Access-Control-Expose-Headers": "X-Up",
		"Access-Control-Allow-Credentials": "true", "Vary": "Origin"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("simple request %s = %q; want %q", k, got, want)
		}
	}

	res, _ = g.Do(t, "GET", "/x", map[string]string{"Origin": "http://evil.com"}, "")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", got)
	}
}
