package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCount measures what the Server adds to every request: the
// request counter and the connection's phase change.
func BenchmarkCount(b *testing.B) {
	s := New(Options{})
	l := &trackingListener{srv: s}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	tc := &trackedConn{Conn: c1, l: l}
	tc.phase.Store(phaseReading)
	h := s.count(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), connKey{}, tc))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		n++
		h.ServeHTTP(w, req)
		s.connState(tc, http.StateIdle)
		s.connState(tc, http.StateActive)
	}
	if got := s.Stats().TotalRequests; got != n {
		b.Fatalf("TotalRequests = %d; want %d", got, n)
	}
}
