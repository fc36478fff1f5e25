package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/bench/internal/openloop"
)

func TestNiceArgv(t *testing.T) {
	if got := niceArgv(-5, []string{"/bin/x", "a"}); len(got) != 5 || !strings.HasSuffix(got[0], "nice") || got[2] != "-5" || got[3] != "/bin/x" {
		t.Errorf("niceArgv = %q", got)
	}
	if got := niceArgv(0, []string{"/bin/x"}); len(got) != 1 {
		t.Errorf("niceArgv(0) = %q", got)
	}
}

// TestRunLoadgen: the child's side, in process: two streams against a
// real server, one of them failing, reported per stream with latencies
// against the epoch.
func TestRunLoadgen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(500)
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	epoch := time.Now()
	spec := loadSpec{Duration: 500 * time.Millisecond, Grace: time.Second, Epoch: epoch.UnixNano(), Streams: []stream{
		{Addr: addr, Rate: 100, Conns: 2, Requests: [][]byte{openloop.Request("t", "/good")}},
		{Addr: addr, Rate: 40, Conns: 1, Requests: [][]byte{openloop.Request("t", "/bad")}},
	}}
	in, _ := json.Marshal(spec)
	var out strings.Builder
	if err := runLoadgen(context.Background(), strings.NewReader(string(in)), &out); err != nil {
		t.Fatal(err)
	}
	var rep loadReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 2 || len(rep.Samples[0]) < 40 || len(rep.Samples[1]) < 15 {
		t.Fatalf("samples per stream: %d streams, %v", len(rep.Samples), []int{len(rep.Samples[0]), len(rep.Samples[1])})
	}
	for _, s := range rep.Samples[0] {
		if s.Failed || s.T < 0 || s.T > 1 || s.Lat <= 0 {
			t.Fatalf("good stream sample %+v", s)
		}
	}
	for _, s := range rep.Samples[1] {
		if !s.Failed {
			t.Fatalf("a 500 not counted as failed: %+v", s)
		}
	}
	if rep.Results[0].OK < 40 || rep.Results[1].Status < 15 {
		t.Errorf("results %+v", rep.Results)
	}
}
