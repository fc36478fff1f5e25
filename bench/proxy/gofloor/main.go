// Command gofloor is the Go floor of the benchmark: the least a Go reverse
// proxy does, net/http/httputil.ReverseProxy to one upstream with a shared
// keep-alive transport and a buffer pool, no routing and no plugins.
//
//	gofloor -listen 127.0.0.1:9001 -upstream 127.0.0.1:9000 -keepalive 64
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	// Allocation counters and pprof for the harness, when it asks.
	_ "sluice/bench/benchstats"
)

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

// newProxy returns the reverse proxy to target keeping up to keepalive idle
// upstream connections.
func newProxy(target *url.URL, keepalive int) *httputil.ReverseProxy {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        keepalive,
		MaxIdleConnsPerHost: keepalive,
		IdleConnTimeout:     60 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: &bufferPool{},
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	upstream := flag.String("upstream", "127.0.0.1:9000", "upstream host:port")
	keepalive := flag.Int("keepalive", 64, "idle keep-alive connections to the upstream")
	flag.Parse()
	target := &url.URL{Scheme: "http", Host: *upstream}
	srv := &http.Server{Addr: *listen, Handler: newProxy(target, *keepalive), IdleTimeout: 5 * time.Minute, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
