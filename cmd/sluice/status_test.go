package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("profile")) }))
	for addr, want := range map[string]int{
		"127.0.0.1:5000":          200,
		"[::1]:5000":              200,
		"[::ffff:127.0.0.1]:5000": 200,
		"10.0.0.7:5000":           403,
		"[2001:db8::1]:5000":      403,
		"garbage":                 403,
	} {
		r := httptest.NewRequest(http.MethodGet, "/debug/pprof/heap", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("client %s: %d %q; want %d", addr, w.Code, w.Body.String(), want)
		}
	}
}

// The status listener serves Go's profiles to a local client of a running
// gateway.
func TestStatusPprof(t *testing.T) {
	g := startGateway(t, goodConfig)
	base := "http://127.0.0.1:" + strconv.Itoa(g.statusPort)
	for path, want := range map[string]string{
		"/debug/pprof/heap?debug=1":            "heap profile:",
		"/debug/pprof/goroutine?debug=1":       "goroutine profile:",
		"/debug/pprof/":                        "Types of profiles available",
		"/debug/pprof/profile?seconds=1":       "", // binary protobuf
		"/debug/pprof/trace?seconds=0.1":       "go 1.",
		"/debug/pprof/cmdline":                 "start",
		"/debug/pprof/allocs?debug=1":          "heap profile:",
		"/debug/pprof/threadcreate?debug=1":    "threadcreate profile:",
		"/debug/pprof/mutex?debug=1":           "mutex",
		"/debug/pprof/block?debug=1":           "contention",
		"/debug/pprof/nonexistent-profile-xyz": "Unknown profile",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantCode := 200
		if strings.Contains(path, "nonexistent") {
			wantCode = 404
		}
		if resp.StatusCode != wantCode || len(body) == 0 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, %d bytes %.80q; want %d containing %q", path, resp.StatusCode, len(body), body, wantCode, want)
		}
	}
}
