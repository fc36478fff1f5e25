package admin

import (
	"bytes"
	"encoding/json"
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

// BenchmarkAdminWritesPostgres measures, through the handler on a
// PostgreSQL store, the writes of bench/churn's bulk change: a PATCH of a
// route's paths, and a key-auth credential rotation (DELETE, then POST).
// One op is the three requests.
func BenchmarkAdminWritesPostgres(b *testing.B) {
	h := New(Options{Store: newPGStore(b), Database: "postgres"})
	do := func(method, path, body string, want int) []byte {
		r := httptest.NewRequest(method, path, bytes.NewBufferString(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	const n = 100
	do("POST", "/services", `{"name":"svc","host":"example.com"}`, 201)
	keys := make([]string, n)
	for i := range n {
		do("POST", "/services/svc/routes", fmt.Sprintf(`{"name":"r%d","paths":["/r%d"]}`, i, i), 201)
		do("POST", "/consumers", fmt.Sprintf(`{"username":"c%d"}`, i), 201)
		var k struct{ ID string }
		_ = json.Unmarshal(do("POST", fmt.Sprintf("/consumers/c%d/key-auth", i), fmt.Sprintf(`{"key":"k%d"}`, i), 201), &k)
		keys[i] = k.ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % n
		do("PATCH", fmt.Sprintf("/routes/r%d", j), fmt.Sprintf(`{"paths":["/r%d-%d"]}`, j, i), 200)
		do("DELETE", fmt.Sprintf("/consumers/c%d/key-auth/%s", j, keys[j]), "", 204)
		var k struct{ ID string }
		_ = json.Unmarshal(do("POST", fmt.Sprintf("/consumers/c%d/key-auth", j), fmt.Sprintf(`{"key":"k%d-%d"}`, j, i), 201), &k)
		keys[j] = k.ID
	}
}
