package admin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkCreateRoute measures POST /routes through the handler on the
// embedded store (entities per second = 1e9 / ns/op).
func BenchmarkCreateRoute(b *testing.B) {
	st := newStore(b)
	h := New(Options{Store: st, Database: "embedded"})
	post := func(path, body string) int {
		r := httptest.NewRequest("POST", path, bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := post("/services", `{"name":"svc","host":"example.com"}`); code != http.StatusCreated {
		b.Fatalf("service: %d", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"name":"r-%d","paths":["/p/%d"],"service":{"name":"svc"}}`, i, i)
		if code := post("/routes", body); code != http.StatusCreated {
			b.Fatalf("route %d: %d", i, code)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "routes/s")
}

// BenchmarkGetRoute measures GET /routes/{name}.
func BenchmarkGetRoute(b *testing.B) {
	st := newStore(b)
	h := New(Options{Store: st, Database: "embedded"})
	r := httptest.NewRequest("POST", "/routes", bytes.NewBufferString(`{"name":"r","paths":["/"]}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), r)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/routes/r", nil))
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d", w.Code)
		}
	}
}
