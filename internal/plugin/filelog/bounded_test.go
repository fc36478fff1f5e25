package filelog

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// TestQueueMemoryBounded logs to a FIFO nobody reads, so the writer blocks
// opening it: requests with 64 KiB of headers keep coming, the queue stops
// at QueueBytes of lines, the rest is dropped and counted, the gauges show
// the queue, the heap grows by far less than what was logged, and every
// request completes.
func TestQueueMemoryBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocked.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	gw := proxytest.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		map[string]string{"file-log": `{"path":"` + path + `"}`})
	t.Cleanup(func() {
		// Unblock the writer: read what it writes until the test binary
		// exits.
		go func() {
			if f, err := os.Open(path); err == nil {
				_, _ = io.Copy(io.Discard, f)
			}
		}()
	})
	big := strings.Repeat("x", 64<<10)
	gw.Do(t, "GET", "/warm", map[string]string{"X-Big": big}, "")
	writersMu.Lock()
	w := writers[path]
	writersMu.Unlock()
	if w == nil {
		t.Fatal("writer not found")
	}
	before := proxytest.HeapInuse()
	const n = 700 // about 44 MiB of lines, 2.7 times the byte cap
	for range n {
		if res, _ := gw.Do(t, "GET", "/b", map[string]string{"X-Big": big}, ""); res.StatusCode != 200 {
			t.Fatalf("status %d; want 200", res.StatusCode)
		}
	}
	for i := 0; i < 500 && w.accepted.Load()+w.drops.Load() < n+1; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	after := proxytest.HeapInuse()
	acc, drops := w.accepted.Load(), w.drops.Load()
	if acc+drops != n+1 {
		t.Fatalf("accepted %d + dropped %d; want %d", acc, drops, n+1)
	}
	qb := w.bytes.Load()
	if qb > QueueBytes || drops == 0 || w.wrote.Load() != 0 {
		t.Fatalf("queue holds %d bytes (cap %d), %d drops, %d written to a blocked file", qb, QueueBytes, drops, w.wrote.Load())
	}
	if got := w.gBytes.Value(); got != float64(qb) {
		t.Errorf("sluice_file_log_queue_bytes = %v; want %d", got, qb)
	}
	// The queue plus the line the writer holds while blocked.
	if got := w.gEntries.Value(); got != float64(acc) {
		t.Errorf("sluice_file_log_queue_entries = %v; want %d", got, acc)
	}
	if got := dropped.With(path).Value(); got != float64(drops) {
		t.Errorf("sluice_file_log_dropped_total = %v; want %d", got, drops)
	}
	logged := uint64(n) * uint64(len(big))
	if after > before && after-before > 32<<20 {
		t.Fatalf("heap in use grew by %d MiB for %d MiB logged; want under 32 MiB (queue cap %d MiB)",
			(after-before)>>20, logged>>20, QueueBytes>>20)
	}
	t.Logf("heap in use %+d MiB; queued %d lines, %d MiB; %d dropped",
		(int64(after)-int64(before))>>20, len(w.queue), qb>>20, drops)
}
