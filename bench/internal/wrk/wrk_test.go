package wrk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// textReport is wrk 4.1's report for a run with --latency.
const textReport = `Running 5s test @ http://127.0.0.1:9080/hello
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   732.47us  159.15us   2.62ms   89.17%
    Req/Sec     6.78k   460.18     7.50k    67.65%
  Latency Distribution
     50%  685.00us
     75%  757.00us
     90%    0.90ms
     99%    1.39ms
  68815 requests in 5.10s, 16.21MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  13492.64
Transfer/sec:      3.18MB
`

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want Result
	}{
		{
			name: "text report",
			out:  textReport,
			want: Result{
				Requests: 68815, Duration: 5100 * time.Millisecond, RPS: 13492.64,
				P50: 685 * time.Microsecond, P90: 900 * time.Microsecond, P99: 1390 * time.Microsecond,
				Errors: Errors{Connect: 1, Read: 2, Write: 3, Status: 12, Timeout: 4},
			},
		},
		{
			name: "json line wins over the text report",
			out: textReport + JSONMarker + `{"requests":50000,"duration_us":2000000,"bytes":1,` +
				`"errors":{"connect":0,"read":0,"write":0,"status":7,"timeout":0},` +
				`"latency_us":{"p50":100,"p90":200,"p99":300,"p999":400,"mean":120.5,"max":900}}` + "\n",
			want: Result{
				Requests: 50000, Duration: 2 * time.Second, RPS: 25000,
				P50: 100 * time.Microsecond, P90: 200 * time.Microsecond, P99: 300 * time.Microsecond, P999: 400 * time.Microsecond,
				Errors: Errors{Status: 7},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.out)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, out, wantErr string
	}{
		{"empty", "", "no Requests/sec"},
		{"no latency", "Requests/sec: 10.0\n", "latency distribution"},
		{"bad json", JSONMarker + "{oops\n", "json line"},
		{"zero duration", JSONMarker + `{"requests":1,"duration_us":0}` + "\n", "duration"},
		{"bad rps", "Requests/sec: many\n", "requests/sec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"685.00us", 685 * time.Microsecond, false},
		{"1.39ms", 1390 * time.Microsecond, false},
		{"5.10s", 5100 * time.Millisecond, false},
		{"1.00m", time.Minute, false},
		{"2.00h", 2 * time.Hour, false},
		{"12", 0, true},
		{"NaNms", 0, true},
		{"-1s", 0, true},
		{"xs", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(textReport)
	f.Add(JSONMarker + `{"requests":1,"duration_us":10}`)
	f.Add("Requests/sec: 1\n 50% 1us\n 99% 2ms\n")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := Parse(out)
		if err == nil && r.RPS < 0 && !strings.Contains(out, "-") {
			t.Errorf("negative rate %v from input without a minus sign", r.RPS)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1us", "2.5ms", "3s", "1m", "NaNs", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %v; want a non-negative duration", s, d)
		}
	})
}

func TestMix(t *testing.T) {
	m := Mix{Routes: 3, PathFormat: "/r%d/small", KeyHeader: "apikey", Keys: 5, KeyFormat: "key-%d"}
	if got := m.Len(); got != 5 {
		t.Errorf("Len() = %d; want 5", got)
	}
	p, k := m.Request(4)
	if p != "/r1/small" || k != "key-4" {
		t.Errorf("Request(4) = %q, %q; want /r1/small, key-4", p, k)
	}
	bad := []Mix{
		{Routes: 0, PathFormat: "/r%d"},
		{Routes: 1, PathFormat: "/r"},
		{Routes: 1, PathFormat: "/r%d%d"},
		{Routes: 1, PathFormat: `/r%d"); os.exit(1) --`},
		{Routes: 1, PathFormat: "/r%d", KeyHeader: "apikey", Keys: 0, KeyFormat: "k%d"},
		{Routes: 1, PathFormat: "/r%d", KeyHeader: "api key", Keys: 1, KeyFormat: "k%d"},
	}
	for _, b := range bad {
		if _, err := Script(b); err == nil {
			t.Errorf("Script(%+v) succeeded; want an error", b)
		}
	}
}

// TestScriptWithWrk runs the real wrk for a second against a test server:
// every route and key of the mix must arrive, and non-2xx answers must be
// counted as status errors.
func TestScriptWithWrk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk")
	}
	bin, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed")
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path+" "+r.Header.Get("apikey")] = true
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/r2/") {
			w.WriteHeader(http.StatusUnauthorized)
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	m := Mix{Routes: 3, PathFormat: "/r%d/small", KeyHeader: "apikey", Keys: 3, KeyFormat: "key-%d"}
	s, err := Script(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mix.lua")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-t1", "-c4", "-d1s", "--latency", "-s", path, srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	r, err := Parse(string(out))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, out)
	}
	if r.Requests < 30 || r.RPS <= 0 || r.P99 <= 0 || r.P99 < r.P50 {
		t.Errorf("got %+v; want a run with requests and ordered percentiles", r)
	}
	// Every third request goes to /r2/ and gets 401.
	if lo, hi := r.Requests/4, r.Requests/2; r.Errors.Status < lo || r.Errors.Status > hi {
		t.Errorf("status errors %d of %d requests; want about a third", r.Errors.Status, r.Requests)
	}
	srv.Close() // waits for handlers still running after wrk stopped
	mu.Lock()
	defer mu.Unlock()
	for j := range 3 {
		p, k := m.Request(j)
		if !seen[p+" "+k] {
			t.Errorf("server never saw %s with apikey %s; saw %v", p, k, seen)
		}
	}
}
