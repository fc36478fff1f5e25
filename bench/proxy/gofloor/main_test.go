package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Set("X-Key", r.Header.Get("apikey"))
		w.Header().Set("X-Fwd", r.Header.Get("X-Forwarded-For"))
		w.Write([]byte("Hello, World!"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	front := httptest.NewServer(newProxy(u, 4))
	defer front.Close()
	for range 3 { // reuse of pooled buffers and connections
		req, _ := http.NewRequest("GET", front.URL+"/r3/small", nil)
		req.Header.Set("apikey", "key-3")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "Hello, World!" || resp.Header.Get("X-Path") != "/r3/small" || resp.Header.Get("X-Key") != "key-3" || resp.Header.Get("X-Fwd") != "127.0.0.1" {
			t.Errorf("got body %q, headers %v; want the upstream's answer for /r3/small with the key and X-Forwarded-For", body, resp.Header)
		}
	}
}

// BenchmarkProxy is the Go floor's cost per proxied request inside the
// handler (transport included, the client-side server loop not): the
// reference for sluice's own proxy benchmarks.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, World!"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	p := newProxy(u, 64)
	req := httptest.NewRequest("GET", "http://sluice.test/r1/small", nil)
	req.Header.Set("apikey", "key-1")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
