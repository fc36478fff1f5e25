// Command upstream is the benchmark's upstream: a keep-alive HTTP server
// that answers any path ending in /16k with a 16 KiB body and every other
// path with the 13-byte body "Hello, World!".
//
//	upstream -listen 127.0.0.1:9000
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var (
	small = []byte("Hello, World!")
	big   = bytes.Repeat([]byte("0123456789abcdef"), 1024)
)

// handler writes the body chosen by the path's last segment.
func handler(w http.ResponseWriter, r *http.Request) {
	body := small
	if strings.HasSuffix(r.URL.Path, "/16k") {
		body = big
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.Write(body)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(handler), IdleTimeout: 5 * time.Minute, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
