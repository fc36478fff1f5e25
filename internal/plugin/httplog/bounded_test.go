package httplog

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// TestQueueMemoryBounded: the collector accepts connections and never
// answers; requests with 64 KiB of headers keep coming. With the default
// queue (max_entries 10000, max_bytes null) the queue stops at
// DefaultMaxBytes of encoded entries, the rest is dropped and counted, the
// gauges show the queue, the heap grows by far less than what was logged,
// and every request completes.
func TestQueueMemoryBounded(t *testing.T) {
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-gate }))
	defer srv.Close()
	defer close(gate)
	gw := proxytest.New(t, http.HandlerFunc(ok), map[string]string{
		"http-log": `{"http_endpoint":"` + srv.URL + `/bounded","timeout":600000}`})
	big := strings.Repeat("x", 64<<10)
	// Warm up the gateway's pools before measuring.
	gw.Do(t, "GET", "/warm", map[string]string{"X-Big": big}, "")
	var q *queue
	queuesMu.Lock()
	for _, x := range queues {
		if x.conf.HTTPEndpoint == srv.URL+"/bounded" {
			q = x
		}
	}
	queuesMu.Unlock()
	if q == nil {
		t.Fatal("queue not found")
	}
	before := proxytest.HeapInuse()
	const n = 1200 // about 77 MiB of entries, 2.4 times the byte cap
	start := time.Now()
	for range n {
		if res, _ := gw.Do(t, "GET", "/b", map[string]string{"X-Big": big}, ""); res.StatusCode != 200 {
			t.Fatalf("status %d; want 200", res.StatusCode)
		}
	}
	took := time.Since(start)
	for i := 0; i < 500 && q.accepted.Load()+q.drops.Load() < n+1; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	after := proxytest.HeapInuse()
	acc, drops := q.accepted.Load(), q.drops.Load()
	if acc+drops != n+1 {
		t.Fatalf("accepted %d + dropped %d; want %d", acc, drops, n+1)
	}
	q.mu.Lock()
	qb, qn := q.bytes, len(q.items)
	q.mu.Unlock()
	if qb > DefaultMaxBytes || drops == 0 {
		t.Fatalf("queue holds %d bytes (cap %d) with %d drops", qb, DefaultMaxBytes, drops)
	}
	if got := q.gBytes.Value(); got != float64(qb) {
		t.Errorf("sluice_http_log_queue_bytes = %v; want %d", got, qb)
	}
	if got := q.gEntries.Value(); got != float64(qn) {
		t.Errorf("sluice_http_log_queue_entries = %v; want %d", got, qn)
	}
	logged := uint64(n) * uint64(len(big))
	if after > before && after-before > 56<<20 {
		t.Fatalf("heap in use grew by %d MiB for %d MiB logged; want under 56 MiB (queue cap %d MiB)",
			(after-before)>>20, logged>>20, DefaultMaxBytes>>20)
	}
	t.Logf("%d requests in %v; heap in use %+d MiB; queued %d entries, %d MiB; %d dropped",
		n, took, (int64(after)-int64(before))>>20, qn, qb>>20, drops)
}
