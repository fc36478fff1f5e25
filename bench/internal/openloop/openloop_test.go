package openloop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 10, 1 * time.Millisecond},
		{ms(1, 2, 3), 100, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v; want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestRequest(t *testing.T) {
	got := string(Request("127.0.0.1:80", "/r1/small", "apikey", "key-1"))
	want := "GET /r1/small HTTP/1.1\r\nHost: 127.0.0.1:80\r\napikey: key-1\r\n\r\n"
	if got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func addr(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func TestRunFixedRate(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/deny" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Write([]byte("Hello, World!"))
	}))
	defer srv.Close()
	reqs := [][]byte{Request(addr(srv), "/ok"), Request(addr(srv), "/ok"), Request(addr(srv), "/deny")}
	start := time.Now()
	res, err := Run(context.Background(), Config{Addr: addr(srv), Rate: 1000, Duration: 300 * time.Millisecond, Conns: 4, Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 280*time.Millisecond {
		t.Errorf("run took %v; want at least the 300ms of sending (open loop keeps to the schedule)", el)
	}
	if res.Scheduled != 300 || res.OK != 200 || res.Status != 100 || res.Errors != 0 || res.Missed != 0 {
		t.Errorf("got %+v; want 300 scheduled, 200 ok, 100 status, no errors", res)
	}
	if got := n.Load(); got != 300 {
		t.Errorf("server saw %d requests; want 300", got)
	}
	if !(res.P50US > 0 && res.P50US <= res.P99US && res.P99US <= res.MaxUS) {
		t.Errorf("percentiles out of order: %+v", res)
	}
}

// TestRunCountsQueueing is the point of an open-loop generator: a server
// that takes 20ms per request on one connection, asked for 100 requests a
// second, falls behind, and the latencies measured from the intended send
// times must show the growing queue rather than 20ms.
func TestRunCountsQueueing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Addr: addr(srv), Rate: 100, Duration: 300 * time.Millisecond, Conns: 1, Requests: [][]byte{Request(addr(srv), "/")}})
	if err != nil {
		t.Fatal(err)
	}
	// 30 requests, 20ms each back to back: the last is due at 290ms and
	// done at about 600ms.
	if res.OK != 30 {
		t.Errorf("ok = %d; want 30", res.OK)
	}
	if res.MaxUS < 200_000 {
		t.Errorf("max latency %.0fus; want above 200ms, the queue behind a slow server", res.MaxUS)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), Config{Addr: "127.0.0.1:1", Rate: 10, Duration: time.Second, Conns: 1, Requests: [][]byte{[]byte("x")}}); err == nil {
		t.Error("Run against a closed port succeeded; want a dial error")
	}
	if _, err := Run(context.Background(), Config{Rate: 0}); err == nil {
		t.Error("Run with rate 0 succeeded; want an error")
	}
}

func TestRunObserve(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Write([]byte("Hello, World!"))
	}))
	defer srv.Close()
	reqs := [][]byte{Request(addr(srv), "/ok"), Request(addr(srv), "/deny")}
	var mu sync.Mutex
	codes := map[int]int{}
	seen := map[int64]bool{}
	var prev time.Time
	ordered := true
	res, err := Run(context.Background(), Config{Addr: addr(srv), Rate: 500, Duration: 200 * time.Millisecond, Conns: 1, Requests: reqs,
		Observe: func(i int64, intended time.Time, lat time.Duration, code int, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil || lat <= 0 || seen[i] {
				t.Errorf("request %d: latency %v, error %v, seen before %v; want a positive latency once, no error", i, lat, err, seen[i])
			}
			if !prev.IsZero() && !intended.After(prev) {
				ordered = false
			}
			prev = intended
			seen[i] = true
			codes[code]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	if codes[200] != 50 || codes[401] != 50 || len(codes) != 2 {
		t.Errorf("observed codes %v; want 50 of 200 and 50 of 401 (result %+v)", codes, res)
	}
	if !ordered {
		t.Error("intended times on one connection not increasing")
	}
}
