package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
)

// rawUpstream is a keep-alive HTTP/1.1 server that answers every request
// with a fixed 200-byte body and allocates (almost) nothing per request, so
// that allocation counts in the benchmarks are the proxy's.
func rawUpstream(b testing.TB) string {
	b.Helper()
	body := strings.Repeat("x", 200)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 16<<10)
				for {
					// Read the request head; requests in the benchmark have no body.
					for {
						l, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(l) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// discardWriter is a reusable ResponseWriter.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return len(p), nil
}

// BenchmarkProxySmall measures the proxy itself (handler to upstream and
// back, real loopback upstream with keep-alive, 200-byte response).
func BenchmarkProxySmall(b *testing.B) {
	s := svcTo(b, rawUpstream(b))
	e := newEnv(b, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/bench")}}, Options{})
	h := e.proxy.Handler(8000, false)
	req, _ := http.NewRequest("GET", "http://bench.test/bench/item?x=1", nil)
	req.RequestURI = "/bench/item?x=1"
	req.RemoteAddr = "127.0.0.1:40000"
	req = req.WithContext(context.Background())
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.status != 200 || w.n != 200 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}

// BenchmarkProxySmallE2E is the same through a real front listener and an
// http.Client (client and server allocations included).
func BenchmarkProxySmallE2E(b *testing.B) {
	s := svcTo(b, rawUpstream(b))
	e := newEnv(b, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/bench")}}, Options{})
	url := e.front.URL + "/bench/item"
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n != 200 {
			b.Fatalf("status %d, %d bytes", res.StatusCode, n)
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if negotiate("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") != mimeHTML {
			b.Fatal("negotiate")
		}
	}
}

var sinkBody []byte

func BenchmarkErrorBody(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBody = errorBody(mimeJSON, msgNoRoute, "0123456789abcdef0123456789abcdef")
	}
	if !bytes.Contains(sinkBody, []byte(msgNoRoute)) {
		b.Fatal("body")
	}
}

// BenchmarkProxySmallParallel is BenchmarkProxySmall from GOMAXPROCS
// goroutines at once (shared snapshot, transport and balancer-free service).
func BenchmarkProxySmallParallel(b *testing.B) {
	s := svcTo(b, rawUpstream(b))
	e := newEnv(b, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/bench")}}, Options{})
	h := e.proxy.Handler(8000, false)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", "http://bench.test/bench/item", nil)
		req.RequestURI = "/bench/item"
		req.RemoteAddr = "127.0.0.1:40000"
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.status, w.n = 0, 0
			h.ServeHTTP(w, req)
			if w.status != 200 {
				b.Errorf("status %d", w.status)
				return
			}
		}
	})
}
