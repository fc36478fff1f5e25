package filelog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func TestSchema(t *testing.T) {
	for _, tt := range []struct {
		in      map[string]any
		wantErr string
	}{
		{map[string]any{"path": "/tmp/a.log"}, ""},
		{map[string]any{}, "required field missing"},
		{map[string]any{"path": "/tmp/ovo*"}, "not a valid filename"},
		{map[string]any{"path": "/tmp/a`b"}, "not a valid filename"},
		{map[string]any{"path": "/tmp/a.log", "custom_fields_by_lua": map[string]any{"x": "return 1"}}, ""},
	} {
		rec, err := Schema.Process(tt.in, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
			t.Errorf("%v: got error %q; want %q", tt.in, got, tt.wantErr)
		}
		if err == nil && rec["reopen"] != false {
			t.Errorf("%v: reopen = %v; want false", tt.in, rec["reopen"])
		}
	}
}

// readLines waits until path has n complete lines (a line still being
// written, without its newline, is not read) and decodes them.
func readLines(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for range 300 {
		out = out[:0]
		if b, err := os.ReadFile(path); err == nil {
			complete := b[:bytes.LastIndexByte(b, '\n')+1]
			for _, l := range bytes.SplitAfter(complete, []byte("\n")) {
				if len(l) == 0 {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(l, &m); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				out = append(out, m)
			}
		}
		if len(out) >= n {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("got %d lines; want %d", len(out), n)
	return nil
}

func TestLinesThroughProxy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	gw := proxytest.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Up", "1")
		w.WriteHeader(201)
	}), map[string]string{"file-log": `{"path":"` + path + `"}`})
	for range 3 {
		res, _ := gw.Do(t, "GET", "/p/x?a=1&b&a=2", map[string]string{"Authorization": "secret"}, "")
		if res.StatusCode != 201 {
			t.Fatalf("status %d; want 201", res.StatusCode)
		}
	}
	lines := readLines(t, path, 3)
	if len(lines) != 3 {
		t.Fatalf("got %d lines; want 3", len(lines))
	}
	e := lines[0]
	req := e["request"].(map[string]any)
	resp := e["response"].(map[string]any)
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"request.method", req["method"], "GET"},
		{"request.uri", req["uri"], "/p/x?a=1&b&a=2"},
		{"request.headers.authorization", req["headers"].(map[string]any)["authorization"], "REDACTED"},
		{"request.querystring.b", req["querystring"].(map[string]any)["b"], true},
		{"request.querystring.a", len(req["querystring"].(map[string]any)["a"].([]any)), 2},
		{"response.status", resp["status"], float64(201)},
		{"response.headers.x-up", resp["headers"].(map[string]any)["x-up"], "1"},
		{"service.name", e["service"].(map[string]any)["name"], "svc"},
		{"route.id", e["route"].(map[string]any)["id"], "00000000-0000-4000-8000-000000000002"},
		{"client_ip", e["client_ip"], "127.0.0.1"},
		{"upstream_uri", e["upstream_uri"], "/p/x?a=1&b&a=2"},
		{"source", e["source"], "service"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.what, c.got, c.want)
		}
	}
	if s, _ := e["started_at"].(float64); s < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Errorf("started_at %v; want a recent time in ms", e["started_at"])
	}
}

// TestQueueBounded blocks the file and queues far more entries than the
// queue holds: what does not fit is dropped and counted, never queued.
func TestQueueBounded(t *testing.T) {
	w := newWriter("/dev/null", false, 8, QueueBytes)
	gate := make(chan struct{})
	w.write = func([]byte) error { <-gate; return nil }
	go w.run()
	r, _ := http.NewRequest("GET", "http://x/", nil)
	const n = 1000
	for range n {
		w.enqueue(plugin.NewLogEntry(&plugin.Ctx{Request: r}, time.Now()))
	}
	acc, drops := w.accepted.Load(), w.drops.Load()
	if acc+drops != n {
		t.Fatalf("accepted %d + dropped %d; want %d", acc, drops, n)
	}
	if acc > 9 || len(w.queue) > 8 {
		t.Fatalf("accepted %d (queue %d); want at most the queue (8) plus one in flight", acc, len(w.queue))
	}
	close(gate)
	w.closed.Store(true)
	close(w.stop)
	<-w.done
	if !w.enqueue(plugin.NewLogEntry(&plugin.Ctx{Request: r}, time.Now())) && w.drops.Load() != drops+1 {
		t.Fatalf("enqueue after stop not counted as a drop")
	}
}

func TestReopenFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	w := newWriter(path, true, 8, QueueBytes)
	go w.run()
	r, _ := http.NewRequest("GET", "http://x/", nil)
	w.enqueue(plugin.NewLogEntry(&plugin.Ctx{Request: r}, time.Now()))
	readLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.enqueue(plugin.NewLogEntry(&plugin.Ctx{Request: r}, time.Now()))
	if got := readLines(t, path, 1); len(got) != 1 {
		t.Fatalf("new file has %d lines; want 1", len(got))
	}
	w.closed.Store(true)
	close(w.stop)
	<-w.done
}

// TestInstancesShareWriter: instances for one path share a writer that
// stops with the last Close; a Log after that is dropped, not a panic.
func TestInstancesShareWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.log")
	rec, serr := Schema.Process(map[string]any{"path": path}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	a, err := New(rec, plugin.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(rec, plugin.Deps{})
	fa, fb := a.(*FileLog), b.(*FileLog)
	if fa.w != fb.w {
		t.Fatal("two instances for one path got different writers")
	}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	fa.Log(&plugin.Ctx{Request: r})
	fa.Close()
	fa.Close() // idempotent
	fb.Log(&plugin.Ctx{Request: r})
	readLines(t, path, 2)
	fb.Close()
	<-fb.w.done
	before := fb.w.drops.Load()
	fb.Log(&plugin.Ctx{Request: r})
	if got := fb.w.drops.Load(); got != before+1 {
		t.Fatalf("drops after stop: got %d; want %d", got, before+1)
	}
	if got := readLines(t, path, 2); len(got) != 2 {
		t.Fatalf("lines: got %d; want 2", len(got))
	}
}

// TestDefaultProtocols: the plugin's default protocols are Kong OSS 3.x's
// (typedefs.protocols: no ws/wss, which are Enterprise-only), so that a
// plugin entity without protocols validates.
func TestDefaultProtocols(t *testing.T) {
	if !slices.Equal(Schema.Protocols, model.Protocols) {
		t.Fatalf("default protocols %v; want %v", Schema.Protocols, model.Protocols)
	}
}
