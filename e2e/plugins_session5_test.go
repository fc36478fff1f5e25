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
	"strings"
	"testing"
	"time"
)

// TestResponseRateLimitingWebhooksLambda runs the sluice binary with a
// kong.yml using response-ratelimiting (the upstream spends a limit with
// X-Kong-Limit), standard-webhooks and aws-lambda (against a fake Invoke
// API, the route without a service).
func TestResponseRateLimitingWebhooksLambda(t *testing.T) {
	t.Parallel()
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Kong-Limit", "image=1")
		w.Header().Set("X-Seen-Remaining", r.Header.Get("X-RateLimit-Remaining-image"))
		io.WriteString(w, "picture")
	}))
	t.Cleanup(media.Close)
	lambda := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDE2E/") {
			w.WriteHeader(403)
			return
		}
		b, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{"statusCode": 201, "body": "lambda saw " + string(b),
			"headers": map[string]string{"X-Fn": r.URL.Path}})
	}))
	t.Cleanup(lambda.Close)
	lport := lambda.Listener.Addr().String()[strings.LastIndex(lambda.Listener.Addr().String(), ":")+1:]
	b := newBackend(t, "b")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: media
  url: ${MEDIA}
  routes:
  - name: images
    paths: [/images]
  plugins:
  - name: response-ratelimiting
    config:
      limits:
        image:
          minute: 2
- name: hooks
  url: ${UPSTREAM}
  routes:
  - name: hooks
    paths: [/hooks]
    plugins:
    - name: standard-webhooks
      config:
        secret_v1: whsec_e2e
routes:
- name: fn
  paths: [/fn]
  plugins:
  - name: aws-lambda
    config:
      host: 127.0.0.1
      port: ${LPORT}
      disable_https: true
      aws_region: us-east-1
      aws_key: AKIDE2E
      aws_secret: e2e-secret
      function_name: hello
      is_proxy_integration: true
`, map[string]string{"MEDIA": media.URL, "UPSTREAM": b.srv.URL, "LPORT": lport}))

	// response-ratelimiting: two responses fit, the third is refused
	// empty (the log phase counts after the response: wait for it)
	for n := 1; n <= 3; n++ {
		var r response
		var err error
		for deadline := time.Now().Add(3 * time.Second); ; {
			r, err = g.do(request{path: "/images/a.png"})
			if err != nil || n < 3 || r.status == 429 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		switch {
		case err != nil:
			t.Fatal(err)
		case n < 3 && (r.status != 200 || string(r.body) != "picture" || r.header.Get("X-RateLimit-Remaining-image-minute") != strconv.Itoa(2-n)):
			t.Fatalf("image %d: %d %q %v", n, r.status, r.body, r.header)
		case n == 3 && (r.status != 429 || len(r.body) != 0):
			t.Fatalf("image 3: %d %q; want 429 with an empty body", r.status, r.body)
		}
		if r.header.Get("X-Kong-Limit") != "" {
			t.Errorf("image %d: the quota header reached the client", n)
		}
		time.Sleep(30 * time.Millisecond)
	}

	// standard-webhooks
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte("whsec_e2e"))
	m.Write([]byte("msg_1." + ts + `.{"a":1}`))
	sig := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	hdr := map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
	if r, err := g.do(request{method: "POST", path: "/hooks", headers: hdr, body: `{"a":1}`}); err != nil || r.status != 200 {
		t.Fatalf("signed webhook: %v %+v", err, r)
	}
	hdr["webhook-signature"] = "v1,AAAA"
	if r, err := g.do(request{method: "POST", path: "/hooks", headers: hdr, body: `{"a":1}`}); err != nil || r.status != 400 {
		t.Fatalf("badly signed webhook: %v %d; want 400", err, r.status)
	}

	// aws-lambda on a route without a service
	r, err := g.do(request{path: "/fn?name=x"})
	if err != nil || r.status != 201 || string(r.body) != `lambda saw {"name":"x"}` || r.header.Get("X-Fn") != "/2015-03-31/functions/hello/invocations" {
		t.Fatalf("lambda: %v %d %q %v", err, r.status, r.body, r.header)
	}
}

// TestRequestTransformerReplaceURI: replace.uri is the path sent upstream
// (Kong's ngx.var.upstream_uri), the query kept; the route's own path
// handling no longer applies.
func TestRequestTransformerReplaceURI(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: svc
  url: ${UPSTREAM}
  routes:
  - paths: ["~/old/(?<id>\\d+)$"]
    plugins:
    - name: request-transformer
      config:
        replace:
          uri: /new/$(uri_captures.id)
`, map[string]string{"UPSTREAM": b.url()}))
	r := g.mustDo(t, request{path: "/old/42?a=1"})
	var e struct{ URI string }
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if e.URI != "/new/42?a=1" {
		t.Errorf("upstream got %q; want /new/42?a=1", e.URI)
	}
}

// TestPreAndPostFunction runs Lua from a kong.yml through the binary: a
// pre-function refusing requests without a header and setting one
// upstream, a post-function adding a response header from kong.ctx.shared.
func TestPreAndPostFunction(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: svc
  url: ${UPSTREAM}
  routes:
  - paths: [/]
plugins:
- name: pre-function
  config:
    access:
    - |
      local v = kong.request.get_header("x-api-version")
      if not v then
        return kong.response.exit(400, { message = "x-api-version is required" })
      end
      kong.service.request.set_header("X-Version-Seen", v)
      kong.ctx.shared.version = v
- name: post-function
  config:
    header_filter:
    - kong.response.set_header("X-Version", kong.ctx.shared.version)
`, map[string]string{"UPSTREAM": b.url()}))
	r := g.mustDo(t, request{path: "/x"})
	if r.status != 400 || string(r.body) != `{"message":"x-api-version is required"}` {
		t.Errorf("without the header: %d %s", r.status, r.body)
	}
	r = g.mustDo(t, request{path: "/x", headers: map[string]string{"X-Api-Version": "7"}})
	var e struct{ Headers map[string][]string }
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got := e.Headers["X-Version-Seen"]; len(got) != 1 || got[0] != "7" {
		t.Errorf("upstream X-Version-Seen = %v", got)
	}
	if got := r.header.Get("X-Version"); got != "7" {
		t.Errorf("response X-Version = %q", got)
	}
}

// TestZipkinThroughBinary: the binary reports a request's spans (balancer
// try, proxy, request) to a Zipkin collector, continuing the caller's B3
// trace, and sends the proxy span upstream.
func TestZipkinThroughBinary(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	got := make(chan []map[string]any, 4)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var spans []map[string]any
		data, _ := io.ReadAll(r.Body)
		if json.Unmarshal(data, &spans) == nil {
			got <- spans
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(collector.Close)
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: svc
  url: ${UPSTREAM}
  routes:
  - name: traced
    paths: [/]
plugins:
- name: zipkin
  config:
    http_endpoint: ${COLLECTOR}/api/v2/spans
    sample_ratio: 1
`, map[string]string{"UPSTREAM": b.url(), "COLLECTOR": collector.URL}))
	const trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := g.mustDo(t, request{path: "/t", headers: map[string]string{"X-B3-TraceId": trace, "X-B3-SpanId": span, "X-B3-Sampled": "1"}})
	var e struct{ Headers map[string][]string }
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	select {
	case spans := <-got:
		if len(spans) != 3 {
			t.Fatalf("%d spans: %v", len(spans), spans)
		}
		req, proxy := spans[2], spans[1]
		if req["name"] != "GET" || req["id"] != span || req["traceId"] != trace || proxy["name"] != "GET (proxy)" {
			t.Errorf("spans %v", spans)
		}
		if up := e.Headers["X-B3-Spanid"]; len(up) != 1 || up[0] != proxy["id"] {
			t.Errorf("upstream X-B3-SpanId %v; want the proxy span %v", up, proxy["id"])
		}
		if tags, _ := proxy["tags"].(map[string]any); tags["kong.route_name"] != "traced" || tags["kong.service_name"] != "svc" {
			t.Errorf("proxy tags %v", proxy["tags"])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no spans reported")
	}
}

// TestSessionThroughBinary: the session plugin's README example run by the
// binary: a key logs Alice in and sets the cookie, the cookie alone then
// lets her in, logout clears it, and without either the anonymous
// consumer's request-termination answers 403.
func TestSessionThroughBinary(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	g := startGateway(t, fill(`_format_version: "3.0"
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key
- username: anonymous
  plugins:
  - name: request-termination
    config:
      status_code: 403
      message: So it goes.
services:
- name: app
  url: ${UPSTREAM}
  routes:
  - name: app
    paths: [/app]
plugins:
- name: key-auth
  service: app
  config:
    anonymous: anonymous
- name: session
  service: app
  config:
    secret: change-me-to-a-long-random-string
    cookie_secure: false
`, map[string]string{"UPSTREAM": b.url()}))
	if r := g.mustDo(t, request{path: "/app"}); r.status != 403 {
		t.Fatalf("no key, no cookie: %d %s", r.status, r.body)
	}
	r := g.mustDo(t, request{path: "/app", headers: map[string]string{"apikey": "alice-key"}})
	cookie := r.header.Get("Set-Cookie")
	if r.status != 200 || !strings.HasPrefix(cookie, "session=") {
		t.Fatalf("with the key: %d, Set-Cookie %q", r.status, cookie)
	}
	pair, _, _ := strings.Cut(cookie, ";")
	r = g.mustDo(t, request{path: "/app", headers: map[string]string{"Cookie": pair}})
	var e struct{ Headers map[string][]string }
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 200 {
		t.Fatalf("with the cookie: %d %s", r.status, r.body)
	}
	if u := e.Headers["X-Consumer-Username"]; len(u) != 1 || u[0] != "alice" {
		t.Errorf("upstream X-Consumer-Username %v; want alice", u)
	}
	r = g.mustDo(t, request{method: "DELETE", path: "/app?session_logout=true", headers: map[string]string{"Cookie": pair}})
	if r.status != 200 || !strings.Contains(r.header.Get("Set-Cookie"), "session=;") {
		t.Errorf("logout: %d, Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
}
