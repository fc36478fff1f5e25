package benchstats

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

var sink []byte

func TestStatsCountAllocations(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func() Stats {
		resp, err := http.Get(srv.URL + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s Stats
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := get()
	// The runtime counts a span's objects when the span is handed out, so
	// a count may lag by a partly used span: allocate many, expect most.
	for range 100000 {
		sink = make([]byte, 64)
	}
	after := get()
	if d := after.AllocObjects - before.AllocObjects; d < 95000 {
		t.Errorf("allocated objects grew by %d; want most of the 100000 made here", d)
	}
	if d := after.AllocBytes - before.AllocBytes; d < 95000*64 {
		t.Errorf("allocated bytes grew by %d; want most of 6400000", d)
	}
	resp, err := http.Get(srv.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("pprof index: status %d; want 200", resp.StatusCode)
	}
}
