package e2e

import (
	"encoding/json"
	"testing"
)

// TestProxySettings checks kong.conf settings that change what the proxy
// sends: headers=off (no Via, Server, latency or request-id headers),
// headers_upstream=off (no X-Kong-Request-Id upstream) and
// error_default_type (format of nginx-level errors without Accept).
func TestProxySettings(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	closing := closingUpstream(t)
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/r]
- name: closes
  url: http://${CLOSING}
  retries: 0
  routes:
  - name: closes
    paths: [/closes]
`, map[string]string{"UP": up.url(), "CLOSING": closing}),
		withEnv("KONG_HEADERS=off", "KONG_HEADERS_UPSTREAM=off", "KONG_ERROR_DEFAULT_TYPE=application/json"))

	t.Run("proxied response", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/r/x"})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
		}
		for _, h := range []string{"Via", "X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency", "X-Kong-Request-Id"} {
			if got := resp.header.Get(h); got != "" {
				t.Errorf("downstream %s = %q; want none with headers=off", h, got)
			}
		}
		if got := e.Headers.Get("X-Kong-Request-Id"); got != "" {
			t.Errorf("upstream X-Kong-Request-Id = %q; want none with headers_upstream=off", got)
		}
	})
	t.Run("gateway response", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/nothing"})
		if resp.status != 404 {
			t.Fatalf("status = %d; want 404", resp.status)
		}
		for _, h := range []string{"Server", "X-Kong-Response-Latency", "X-Kong-Request-Id"} {
			if got := resp.header.Get(h); got != "" {
				t.Errorf("%s = %q; want none with headers=off", h, got)
			}
		}
	})
	t.Run("error_default_type", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/closes"})
		if resp.status != 502 {
			t.Fatalf("status = %d, body %q; want 502", resp.status, resp.body)
		}
		if got, want := resp.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
			t.Errorf("Content-Type = %q; want %q (error_default_type)", got, want)
		}
		var body struct {
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil || body.Message != "An invalid response was received from the upstream server" || !requestIDRe.MatchString(body.RequestID) {
			t.Errorf("body = %q; want the JSON 502 template with a request_id", resp.body)
		}
	})
}
