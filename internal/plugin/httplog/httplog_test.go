package httplog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func TestSchemaDefaults(t *testing.T) {
	rec, err := Schema.Process(map[string]any{"http_endpoint": "http://127.0.0.1:1/log"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"method": "POST", "content_type": "application/json", "timeout": 10000, "keepalive": 60000}
	for k, v := range want {
		if fmt.Sprint(rec[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v; want %v", k, rec[k], v)
		}
	}
	q, _ := rec["queue"].(map[string]any)
	wantQ := map[string]any{"max_batch_size": 1, "max_coalescing_delay": 1, "max_entries": 10000, "max_bytes": nil,
		"max_retry_time": 60, "initial_retry_delay": 0.01, "max_retry_delay": 60, "concurrency_limit": 1}
	for k, v := range wantQ {
		if fmt.Sprint(q[k]) != fmt.Sprint(v) {
			t.Errorf("queue.%s = %v; want %v", k, q[k], v)
		}
	}
	for _, bad := range []map[string]any{
		{},
		{"http_endpoint": "not a url"},
		{"http_endpoint": "http://x/", "method": "GET"},
		{"http_endpoint": "http://x/", "queue": map[string]any{"max_batch_size": 0}},
	} {
		if _, err := Schema.Process(bad, nil); err == nil {
			t.Errorf("%v: valid; want an error", bad)
		}
	}
}

// collector records the payloads it receives.
type collector struct {
	mu       sync.Mutex
	payloads []string
	headers  []http.Header
	methods  []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.payloads = append(c.payloads, string(b))
	c.headers = append(c.headers, r.Header.Clone())
	c.methods = append(c.methods, r.Method)
	c.mu.Unlock()
}

// entries counts the records received so far (arrays count their items).
func (c *collector) entries(t *testing.T) (n int, batches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.payloads {
		if strings.HasPrefix(p, "[") {
			var a []map[string]any
			if err := json.Unmarshal([]byte(p), &a); err != nil {
				t.Fatalf("payload %q: %v", p, err)
			}
			n += len(a)
		} else {
			var m map[string]any
			if err := json.Unmarshal([]byte(p), &m); err != nil {
				t.Fatalf("payload %q: %v", p, err)
			}
			n++
		}
	}
	return n, len(c.payloads)
}

func waitEntries(t *testing.T, c *collector, want int) (batches int) {
	t.Helper()
	for range 300 {
		n, b := c.entries(t)
		if n >= want {
			if n > want {
				t.Fatalf("got %d entries; want %d", n, want)
			}
			return b
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, _ := c.entries(t)
	t.Fatalf("got %d entries; want %d", n, want)
	return 0
}

func ok(w http.ResponseWriter, r *http.Request) {}

func TestBatchesArrive(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	gw := proxytest.New(t, http.HandlerFunc(ok), map[string]string{"http-log": `{"http_endpoint":"` + srv.URL +
		`/logs","method":"PUT","headers":{"X-Token":"t1"},"queue":{"max_batch_size":3,"max_coalescing_delay":0.2}}`})
	for range 6 {
		gw.Do(t, "GET", "/b", nil, "")
	}
	batches := waitEntries(t, col, 6)
	if batches < 2 || batches > 6 {
		t.Fatalf("got %d batches for 6 entries of batch size 3", batches)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for i, p := range col.payloads {
		if !strings.HasPrefix(p, "[") {
			t.Errorf("payload %d is not an array: %.60s", i, p)
		}
		if got := col.headers[i].Get("X-Token"); got != "t1" {
			t.Errorf("X-Token = %q; want t1", got)
		}
		if got := col.headers[i].Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q; want application/json", got)
		}
		if col.methods[i] != "PUT" {
			t.Errorf("method %s; want PUT", col.methods[i])
		}
	}
}

func TestSingleEntryIsAnObject(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	gw := proxytest.New(t, http.HandlerFunc(ok), map[string]string{"http-log": `{"http_endpoint":"` + srv.URL + `/one"}`})
	gw.Do(t, "GET", "/one?x=1", nil, "")
	waitEntries(t, col, 1)
	col.mu.Lock()
	defer col.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal([]byte(col.payloads[0]), &m); err != nil {
		t.Fatalf("payload is not an object: %v", err)
	}
	req := m["request"].(map[string]any)
	if req["uri"] != "/one?x=1" || req["method"] != "GET" {
		t.Errorf("request = %v; want uri /one?x=1, method GET", req)
	}
	if s := m["service"].(map[string]any)["name"]; s != "svc" {
		t.Errorf("service.name = %v; want svc", s)
	}
}

// TestSlowCollectorFullQueue: the collector never answers while the test
// runs; proxied requests still complete, the queue keeps at most
// max_entries and the rest is dropped and counted.
func TestSlowCollectorFullQueue(t *testing.T) {
	gate := make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-gate
	}))
	defer srv.Close()
	defer close(gate)
	conf := `{"http_endpoint":"` + srv.URL + `/slow","timeout":60000,"queue":{"max_entries":5}}`
	gw := proxytest.New(t, http.HandlerFunc(ok), map[string]string{"http-log": conf})
	const n = 40
	start := time.Now()
	for range n {
		if res, _ := gw.Do(t, "GET", "/s", nil, ""); res.StatusCode != 200 {
			t.Fatalf("status %d; want 200", res.StatusCode)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("%d requests took %v with a stuck collector", n, d)
	}
	var q *queue
	queuesMu.Lock()
	for _, x := range queues {
		if x.conf.HTTPEndpoint == srv.URL+"/slow" {
			q = x
		}
	}
	queuesMu.Unlock()
	if q == nil {
		t.Fatal("queue not found")
	}
	// Wait for the log phase of the last request.
	for i := 0; i < 300 && q.accepted.Load()+q.drops.Load() < n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	acc, drops := q.accepted.Load(), q.drops.Load()
	if acc+drops != n {
		t.Fatalf("accepted %d + dropped %d; want %d", acc, drops, n)
	}
	// At most max_entries waiting plus the one batch in flight.
	if acc > 6 || q.len() > 5 {
		t.Fatalf("accepted %d, queued %d; want at most 6 and 5", acc, q.len())
	}
	if got := dropped.With("queue_full").Value(); got < float64(drops) {
		t.Fatalf("sluice_http_log_dropped_total{reason=queue_full} = %v; want at least %d", got, drops)
	}
}

func TestMaxBytes(t *testing.T) {
	mb := 100
	q := newQueue(Config{Queue: QueueConfig{MaxBatchSize: 1, MaxEntries: 1000, MaxBytes: &mb}})
	for range 50 {
		q.push(make([]byte, 30))
	}
	if got := q.len(); got != 3 {
		t.Fatalf("queued %d entries of 30 bytes under max_bytes 100; want 3", got)
	}
	if got := q.drops.Load(); got != 47 {
		t.Fatalf("dropped %d; want 47", got)
	}
}

func TestRetryThenGiveUp(t *testing.T) {
	for _, tt := range []struct {
		name      string
		failures  int
		retryTime float64
		wantSent  int64
		wantDrops int64
	}{
		{"recovers", 3, 5, 1, 0},
		{"gives up", 1000, 0.05, 0, 1},
		{"no retries", 1, -1, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(Config{Queue: QueueConfig{MaxBatchSize: 1, MaxEntries: 10, MaxRetryTime: tt.retryTime,
				InitialRetryDelay: 0.001, MaxRetryDelay: 0.01}})
			var calls atomic.Int64
			q.send = func(context.Context, []byte) error {
				if calls.Add(1) <= int64(tt.failures) {
					return errors.New("down")
				}
				return nil
			}
			go q.run()
			q.push([]byte(`{}`))
			for i := 0; i < 300 && q.sent.Load()+q.drops.Load() == 0; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			if q.sent.Load() != tt.wantSent || q.drops.Load() != tt.wantDrops {
				t.Fatalf("sent %d, dropped %d after %d calls; want %d and %d", q.sent.Load(), q.drops.Load(), calls.Load(), tt.wantSent, tt.wantDrops)
			}
			q.closed.Store(true)
			close(q.stop)
			<-q.done
		})
	}
}

func TestBasicAuthFromURL(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1)
	q := newQueue(Config{HTTPEndpoint: u, Method: "POST", ContentType: "application/json", Timeout: 1000, Keepalive: 1000,
		Queue: QueueConfig{MaxBatchSize: 1, MaxEntries: 10, MaxRetryTime: -1, InitialRetryDelay: 0.01, MaxRetryDelay: 1}})
	if err := q.send(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if got := col.headers[0].Get("Authorization"); got != "Basic dXNlcjpwdw==" {
		t.Fatalf("Authorization = %q; want Basic dXNlcjpwdw==", got)
	}
}

// TestInstancesShareQueue: instances with one configuration share a queue
// that stops with the last Close; records logged after that are dropped.
func TestInstancesShareQueue(t *testing.T) {
	rec, serr := Schema.Process(map[string]any{"http_endpoint": "http://127.0.0.1:1/share"}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	a, err := New(rec, plugin.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(rec, plugin.Deps{})
	ha, hb := a.(*HTTPLog), b.(*HTTPLog)
	if ha.q != hb.q {
		t.Fatal("two instances with one configuration got different queues")
	}
	ha.Close()
	ha.Close()
	if hb.q.closed.Load() {
		t.Fatal("queue stopped while an instance still uses it")
	}
	hb.Close()
	<-hb.q.done
	r, _ := http.NewRequest("GET", "http://x/", nil)
	before := hb.q.drops.Load()
	hb.Log(&plugin.Ctx{Request: r})
	if got := hb.q.drops.Load(); got != before+1 {
		t.Fatalf("drops after stop: got %d; want %d", got, before+1)
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
