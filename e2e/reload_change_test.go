package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReloadChangesTargetsAndServices checks that a reload takes effect for
// what the balancer and the proxy keep between snapshots: removed and added
// targets, a changed weight, a service moved to another host, and a new
// certificate.
func TestReloadChangesTargetsAndServices(t *testing.T) {
	t.Parallel()
	t1, t2, t3 := newBackend(t, "t1"), newBackend(t, "t2"), newBackend(t, "t3")
	s1, s2 := newBackend(t, "s1"), newBackend(t, "s2")
	certX, keyX := selfSigned(t, "x.test")
	certY, keyY := selfSigned(t, "x.test", "y-only.test")
	cfg := func(targets, svcURL, cert, key string) string {
		return fill(`_format_version: "3.0"
services:
- name: lb
  host: lb.upstream
  routes:
  - name: lb
    paths: [/lb]
- name: moved
  url: ${SVC}
  routes:
  - name: moved
    paths: [/moved]
upstreams:
- name: lb.upstream
  targets:
${TARGETS}certificates:
- cert: ${CERT}
  key: ${KEY}
  snis: [{name: x.test}]
`, map[string]string{"TARGETS": targets, "SVC": svcURL, "CERT": yamlString(cert), "KEY": yamlString(key)})
	}
	target := func(b *backend, weight int) string {
		return fmt.Sprintf("  - target: %s\n    weight: %d\n", b.addr(), weight)
	}
	g := startGateway(t, cfg(target(t1, 100)+target(t2, 100), s1.url(), certX, keyX))

	servedBy := func(path string, n int) map[string]int {
		counts := map[string]int{}
		for range n {
			resp, err := g.do(request{path: path})
			if err != nil {
				counts["error"]++
				continue
			}
			if e, ok := decodeEcho(resp.body); ok {
				counts[e.Server]++
			} else {
				counts[fmt.Sprint(resp.status)]++
			}
		}
		return counts
	}
	if c := servedBy("/lb/x", 20); c["t1"] != 10 || c["t2"] != 10 {
		t.Fatalf("before the reload: %v; want t1 and t2 10 each", c)
	}
	if c := servedBy("/moved/x", 3); c["s1"] != 3 {
		t.Fatalf("before the reload /moved: %v; want s1", c)
	}

	// t1 removed, t3 added with twice t2's weight, the service moved to s2,
	// the certificate for x.test replaced.
	g.reload(cfg(target(t2, 100)+target(t3, 200), s2.url(), certY, keyY))
	if took, ok := eventually(3*time.Second, func() bool { return servedBy("/moved/x", 1)["s2"] == 1 }); !ok {
		t.Fatalf("service still not on s2 %v after the reload", took)
	}
	if c := servedBy("/lb/x", 30); c["t1"] != 0 || c["t2"] != 10 || c["t3"] != 20 {
		t.Errorf("after the reload: %v; want t2 10 and t3 20, none to the removed t1", c)
	}
	if c := servedBy("/moved/x", 5); c["s2"] != 5 {
		t.Errorf("after the reload /moved: %v; want s2 only", c)
	}
	if names := servedNames(t, g.httpsPort, "x.test"); !strings.Contains(strings.Join(names, ","), "y-only.test") {
		t.Errorf("SNI x.test after the reload got certificate %v; want the new one", names)
	}
}

// TestStreamAcrossReload keeps a streamed response open while the config is
// reloaded: every chunk must arrive.
func TestStreamAcrossReload(t *testing.T) {
	t.Parallel()
	const chunks = 15
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Write([]byte("ok"))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range chunks {
			fmt.Fprintf(w, "data: %d\n\n", i)
			_ = rc.Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	cfg := func(extra string) string {
		return fill(`_format_version: "3.0"
services:
- name: s
  url: ${UP}
  routes:
  - name: events
    paths: [/events]
    response_buffering: false
`+extra, map[string]string{"UP": up.URL})
	}
	g := startGateway(t, cfg(""))

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, g.url("/events"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d; want 200", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	got := 0
	start := time.Now()
	var firstAt time.Duration
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if line != fmt.Sprintf("data: %d", got) {
			t.Fatalf("chunk %d = %q; want %q", got, line, fmt.Sprintf("data: %d", got))
		}
		if got == 0 {
			firstAt = time.Since(start)
		}
		got++
		if got == 3 {
			g.reload(cfg("  - name: added\n    paths: [/added]\n    strip_path: false\n"))
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("stream broke after %d chunks: %v", got, err)
	}
	if got != chunks {
		t.Errorf("received %d chunks; want %d", got, chunks)
	}
	if firstAt > time.Second {
		t.Errorf("first chunk after %v; want it streamed (response_buffering false), not held until the end", firstAt)
	}
	if resp := g.mustDo(t, request{path: "/added"}); resp.status != 200 {
		t.Errorf("the reload during the stream was not applied: /added = %d; want 200", resp.status)
	}
}
