package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/declarative"
	"sluice/internal/model"
)

// churnBody is bench/churn's POST /config body: n services with one route
// each and n consumers with one key-auth credential each (without the
// bench's plugins, which need the plugin registry); gen > 0 changes a fifth of the paths and a tenth of the keys.
func churnBody(n, gen int) []byte {
	var b strings.Builder
	b.WriteString(`{"_format_version":"3.0","services":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		path := fmt.Sprintf("/r%d", i)
		if gen > 0 && i%5 == gen%5 {
			path = fmt.Sprintf("/r%d-g%d", i, gen)
		}
		fmt.Fprintf(&b, `{"name":"s%d","url":"http://127.0.0.1:9000","routes":[{"name":"r%d","paths":[%q]}]}`, i, i, path)
	}
	b.WriteString(`],"consumers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		key := fmt.Sprintf("key-%d", i)
		if gen > 0 && i%10 == gen%10 {
			key = fmt.Sprintf("key-%d-g%d", i, gen)
		}
		fmt.Fprintf(&b, `{"username":"c%d","keyauth_credentials":[{"key":%q}]}`, i, key)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// peakHeapOver runs f and returns the largest heap (live and unswept
// objects, what RSS follows) seen while it ran above the live heap before
// it, sampled every 100µs.
func peakHeapOver(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return peak.Load() - min(peak.Load(), base)
}

// BenchmarkPostConfigChurn posts bench/churn's 5 000-route config over the
// previous generation through the handler and reports the peak heap of the
// request above the live heap before it.
func BenchmarkPostConfigChurn(b *testing.B) {
	var cur *model.Config
	h := New(Options{Database: "off",
		Apply:   func(cfg *model.Config, _ string) error { cur = cfg; return nil },
		Current: func() (*model.Config, string) { return cur, "" }})
	post := func(body []byte) {
		r := httptest.NewRequest("POST", "/config", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.code != http.StatusCreated {
			b.Fatalf("POST /config: %d", w.code)
		}
	}
	const n = 5000
	bodies := [2][]byte{churnBody(n, 0), churnBody(n, 1)}
	post(bodies[0])
	b.ReportAllocs()
	var peak uint64
	i := 0
	for b.Loop() {
		i++
		peak = max(peak, peakHeapOver(func() { post(bodies[i%2]) }))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-over-live-MiB")
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

var _ io.Writer = (*discardWriter)(nil)

// entitiesByID is how the answer was built before replyEntities: through
// generic maps. It is the reference the streamed answer is checked against.
func entitiesByID(cfg any) map[string]any {
	var generic map[string][]map[string]any
	if b, err := json.Marshal(cfg); err == nil {
		_ = json.Unmarshal(b, &generic)
	}
	out := map[string]any{}
	for name, list := range generic {
		m := make(map[string]any, len(list))
		for _, rec := range list {
			id, _ := rec["id"].(string)
			m[id] = rec
		}
		out[name] = m
	}
	return out
}

// TestPostConfigAnswer checks that the streamed POST /config answer holds
// what the generic-map rendering held, for every entity type, through the
// handler and written directly.
func TestPostConfigAnswer(t *testing.T) {
	c, d := newDBless(t, 0)
	body := c.must(201, "POST", "/config", map[string]any{"config": kongYML})
	cfg, _ := d.current()
	want := decodeGeneric(t, entitiesByID(cfg))
	if !reflect.DeepEqual(map[string]any(body), want) {
		t.Errorf("POST /config answer:\n%v\nwant\n%v", body, want)
	}
	for _, name := range []string{"services", "routes", "consumers", "keyauth_credentials", "upstreams", "targets"} {
		if m, _ := body[name].(map[string]any); len(m) != 1 {
			t.Errorf("%s: %d entries; want 1", name, len(m))
		}
	}

	// A larger config with every list empty or not, written directly.
	cfg, err := declarative.Parse(churnBody(50, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeEntitiesByID(bw, cfg); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, buf.Bytes())
	}
	if want := decodeGeneric(t, entitiesByID(cfg)); !reflect.DeepEqual(got, want) {
		t.Errorf("answer:\n%v\nwant\n%v", got, want)
	}
	if n := len(got["routes"].(map[string]any)); n != 50 {
		t.Errorf("routes: %d; want 50", n)
	}
}

// decodeGeneric round-trips v through JSON.
func decodeGeneric(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReaderCacheDrop: the reader is reused for the same configuration,
// rebuilt for a new one, and forgotten (with its configuration) by drop,
// which its idle timer calls.
func TestReaderCacheDrop(t *testing.T) {
	cfg, err := declarative.Parse(churnBody(5, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var c readerCache
	r1 := c.get(cfg)
	if r2 := c.get(cfg); r2 != r1 {
		t.Fatal("the reader of the same configuration was rebuilt")
	}
	if c.timer == nil {
		t.Fatal("no idle timer")
	}
	c.drop()
	if c.cfg != nil || c.r != nil {
		t.Fatal("drop kept the configuration or its reader")
	}
	r3 := c.get(cfg)
	if r3 == r1 {
		t.Fatal("the reader was not rebuilt after drop")
	}
	if rec, err := r3.Get(context.Background(), "services", cfg.Services[0].ID); err != nil || rec["name"] != "s0" {
		t.Fatalf("Get after drop: %v, %v", rec, err)
	}
	c.timer.Stop()
}

// FuzzWriteJSONString: the answer's keys are written as json.Marshal
// writes them, whether or not they take the fast path.
func FuzzWriteJSONString(f *testing.F) {
	for _, s := range []string{"", "3b2f7c4e-0d1a-4b8e-9a55-1f0e2d3c4b5a", "keyauth_credentials", "a\"b", "<&>", "é", "\u2028", "\x00", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		writeJSONString(bw, s)
		_ = bw.Flush()
		want, _ := json.Marshal(s)
		if buf.String() != string(want) {
			t.Errorf("writeJSONString(%q) = %s; want %s", s, buf.Bytes(), want)
		}
	})
}
