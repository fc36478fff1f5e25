package filelog

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/proxytest"
)

func portOf(t *testing.T, addr string) float64 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return float64(n)
}

// TestTimingThroughProxy: an upstream that answers after 120 ms; the line
// has the proxy's latencies (proxy at least 120 ms), the exact bytes that
// crossed the client connection, started_at, upstream_uri and one try.
func TestTimingThroughProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		_, _ = io.WriteString(w, strings.Repeat("b", 3000))
	}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "timing.log")
	gw := proxytest.Serve(t, proxytest.Config(t, up.URL, map[string]string{"file-log": `{"path":"` + path + `"}`}))
	before := time.Now().UnixMilli()
	sent, received := gw.RawExchange(t, "POST /t?x=1 HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
	e := readLines(t, path, 1)[0]
	lat := e["latencies"].(map[string]any)
	kong, proxyMs, request, receive := lat["kong"].(float64), lat["proxy"].(float64), lat["request"].(float64), lat["receive"].(float64)
	if proxyMs < 120 || request < proxyMs || kong < 0 || receive < 0 || kong+proxyMs > request+1 {
		t.Errorf("latencies %v; want proxy >= 120, request >= kong + proxy, none negative", lat)
	}
	if got := e["request"].(map[string]any)["size"]; got != float64(sent) {
		t.Errorf("request.size = %v; want %d (bytes the client wrote)", got, sent)
	}
	if got := e["response"].(map[string]any)["size"]; got != float64(received) {
		t.Errorf("response.size = %v; want %d (bytes the client read)", got, received)
	}
	if s := e["started_at"].(float64); s < float64(before) || s > float64(time.Now().UnixMilli()) {
		t.Errorf("started_at %v; want between %d and now", s, before)
	}
	if e["upstream_uri"] != "/t?x=1" {
		t.Errorf("upstream_uri = %v; want /t?x=1", e["upstream_uri"])
	}
	tries, _ := e["tries"].([]any)
	if len(tries) != 1 {
		t.Fatalf("tries = %v; want one", e["tries"])
	}
	try := tries[0].(map[string]any)
	if try["ip"] != "127.0.0.1" || try["port"] != portOf(t, strings.TrimPrefix(up.URL, "http://")) ||
		try["balancer_latency"] == nil || try["state"] != nil {
		t.Errorf("tries[0] = %v; want ip 127.0.0.1, the upstream's port, a balancer_latency and no state", try)
	}
}

// TestTriesThroughProxy: an upstream entity with a dead and a live target;
// a request that tried the dead one first logs two tries, the first
// "failed".
func TestTriesThroughProxy(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer live.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	liveAddr := strings.TrimPrefix(live.URL, "http://")

	path := filepath.Join(t.TempDir(), "tries.log")
	cfg := proxytest.Config(t, live.URL, map[string]string{"file-log": `{"path":"` + path + `"}`})
	up := &model.Upstream{ID: "00000000-0000-4000-8000-0000000000a1", Name: "tries-up", Algorithm: "round-robin",
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/", Slots: 10000}
	fk := &model.ForeignKey{ID: up.ID}
	cfg.Upstreams = []*model.Upstream{up}
	cfg.Targets = []*model.Target{{ID: "00000000-0000-4000-8000-0000000000b1", Upstream: fk, Target: dead, Weight: 100},
		{ID: "00000000-0000-4000-8000-0000000000b2", Upstream: fk, Target: liveAddr, Weight: 100}}
	cfg.Services[0].Host, cfg.Services[0].Port = "tries-up", 80
	gw := proxytest.Serve(t, cfg)
	const n = 10
	for i := range n {
		if res, _ := gw.Do(t, "GET", fmt.Sprintf("/r%d", i), nil, ""); res.StatusCode != 200 {
			t.Fatalf("request %d: status %d; want 200", i, res.StatusCode)
		}
	}
	retried := 0
	for _, e := range readLines(t, path, n) {
		tries := e["tries"].([]any)
		first, last := tries[0].(map[string]any), tries[len(tries)-1].(map[string]any)
		if last["port"] != portOf(t, liveAddr) || last["state"] != nil {
			t.Errorf("last try %v; want the live target without a state", last)
		}
		if len(tries) == 2 {
			retried++
			if first["port"] != portOf(t, dead) || first["state"] != "failed" || first["code"] != nil {
				t.Errorf("first try %v; want the dead target, state failed, no code", first)
			}
		}
	}
	if retried == 0 {
		t.Errorf("no request of %d tried the dead target first (round-robin over two targets)", n)
	}
}
