package e2e

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// closingUpstream accepts connections, reads the request head and closes the
// connection without answering.
func closingUpstream(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestErrorResponses checks the 502, 503 and 504 Kong produces, with their
// exact bodies. 502 and 504 are nginx-level errors (text/plain unless the
// request's Accept or Content-Type says otherwise); the 503 of an empty
// balancer comes from kong.response.error (JSON by default).
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	closing := closingUpstream(t)
	slow := newBackend(t, "slow")
	slow.delay.Store(int64(time.Second))
	w1, w2 := newBackend(t, "w1"), newBackend(t, "w2")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: closes
  url: http://${CLOSING}
  retries: 1
  routes:
  - name: closes
    paths: [/closes]
- name: slow
  url: ${SLOW}
  read_timeout: 200
  retries: 0
  routes:
  - name: slow
    paths: [/slow]
- name: nopeer
  host: zero.weight.upstream
  routes:
  - name: nopeer
    paths: [/nopeer]
upstreams:
- name: zero.weight.upstream
  targets:
  - target: ${W1}
    weight: 0
  - target: ${W2}
    weight: 0
`, map[string]string{"CLOSING": closing, "SLOW": slow.url(), "W1": w1.addr(), "W2": w2.addr()}))

	const (
		msg502 = "An invalid response was received from the upstream server"
		msg503 = "failure to get a peer from the ring-balancer"
		msg504 = "The upstream server is timing out"
	)
	jsonBody := func(msg string) func(string) string {
		return func(id string) string { return "{\n  \"message\":\"" + msg + "\",\n  \"request_id\":\"" + id + "\"\n}" }
	}
	textBody := func(msg string) func(string) string {
		return func(id string) string { return msg + "\nrequest_id: " + id + "\n" }
	}
	const typeJSON, typeText = "application/json; charset=utf-8", "text/plain; charset=utf-8"

	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantType   string
		wantBody   func(id string) string
		maxTime    time.Duration
	}{
		{name: "502 default text", req: request{path: "/closes"}, wantStatus: 502, wantType: typeText, wantBody: textBody(msg502)},
		{name: "502 accept json", req: request{path: "/closes", headers: map[string]string{"Accept": "application/json"}}, wantStatus: 502, wantType: typeJSON, wantBody: jsonBody(msg502)},
		{name: "502 content-type json", req: request{method: "POST", path: "/closes", body: "{}", headers: map[string]string{"Content-Type": "application/json"}}, wantStatus: 502, wantType: typeJSON, wantBody: jsonBody(msg502)},
		{name: "503 default json", req: request{path: "/nopeer"}, wantStatus: 503, wantType: typeJSON, wantBody: jsonBody(msg503)},
		{name: "503 accept text", req: request{path: "/nopeer", headers: map[string]string{"Accept": "text/plain"}}, wantStatus: 503, wantType: typeText, wantBody: textBody(msg503)},
		{name: "504 default text", req: request{path: "/slow"}, wantStatus: 504, wantType: typeText, wantBody: textBody(msg504), maxTime: 900 * time.Millisecond},
		{name: "504 accept json", req: request{path: "/slow", headers: map[string]string{"Accept": "application/json"}}, wantStatus: 504, wantType: typeJSON, wantBody: jsonBody(msg504), maxTime: 900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			resp := g.mustDo(t, tt.req)
			took := time.Since(start)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, body %q; want %d", resp.status, resp.body, tt.wantStatus)
			}
			id := resp.header.Get("X-Kong-Request-Id")
			if !requestIDRe.MatchString(id) {
				t.Errorf("X-Kong-Request-Id = %q; want 32 hex digits", id)
			}
			if got, want := string(resp.body), tt.wantBody(id); got != want {
				t.Errorf("body = %q; want %q", got, want)
			}
			if got := resp.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q; want %q", got, tt.wantType)
			}
			if got := resp.header.Get("Server"); !strings.HasPrefix(got, "kong/") {
				t.Errorf("Server = %q; want kong/<version>", got)
			}
			if tt.maxTime > 0 && took > tt.maxTime {
				t.Errorf("took %v; want under %v (read_timeout 200 ms, retries 0)", took, tt.maxTime)
			}
		})
	}
	if n := w1.hits.Load() + w2.hits.Load(); n != 0 {
		t.Errorf("weight-0 targets received %d requests; want 0", n)
	}
}

// TestRetriesOnConnectionError checks that a refused connection is retried on
// the next target: with one dead and one live target every request succeeds.
func TestRetriesOnConnectionError(t *testing.T) {
	t.Parallel()
	live := newBackend(t, "live")
	dead := freePort(t) // nothing listens here
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  host: retry.upstream
  retries: 3
  connect_timeout: 500
  routes:
  - name: r
    paths: [/r]
upstreams:
- name: retry.upstream
  targets:
  - target: 127.0.0.1:${DEAD}
  - target: ${LIVE}
`, map[string]string{"LIVE": live.addr(), "DEAD": itoa(dead)}))
	for i := range 10 {
		resp := g.mustDo(t, request{path: "/r/x"})
		if resp.status != http.StatusOK {
			t.Fatalf("request %d: status = %d, body %q; want 200 (retried on the live target)", i, resp.status, resp.body)
		}
	}
}
