package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestUpstreamKeepAlive checks that upstream connections are pooled: many
// sequential requests reuse a few connections instead of dialling each time.
func TestUpstreamKeepAlive(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/ka]
`, map[string]string{"UP": up.URL}))
	const n = 100
	for i := range n {
		resp := g.mustDo(t, request{path: "/ka"})
		if resp.status != 200 {
			t.Fatalf("request %d: status = %d; want 200", i, resp.status)
		}
	}
	if got := conns.Load(); got > 3 {
		t.Errorf("%d sequential requests opened %d upstream connections; want them reused (at most 3)", n, got)
	}
}

// TestConcurrentRequests sends requests from many clients at once: every
// one must be answered by the upstream.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	up := newBackend(t, "up")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: r
    paths: [/c]
`, map[string]string{"UP": up.url()}))
	const clients, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				path := fmt.Sprintf("/c/%d/%d", c, i)
				resp, err := g.do(request{path: path})
				switch {
				case err != nil:
					errs <- fmt.Sprintf("%s: %v", path, err)
				case resp.status != 200:
					errs <- fmt.Sprintf("%s: status %d", path, resp.status)
				default:
					if e, ok := decodeEcho(resp.body); !ok || e.URI != fmt.Sprintf("/%d/%d", c, i) {
						errs <- fmt.Sprintf("%s: upstream saw %q", path, e.URI)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d concurrent requests failed; first: %v", len(failed), clients*each, failed[:min(5, len(failed))])
	}
	if got := up.hits.Load(); got != clients*each {
		t.Errorf("upstream received %d requests; want %d", got, clients*each)
	}
}
