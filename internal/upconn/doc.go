// Package upconn is sluice's HTTP/1.1 client for plain-text upstreams: a
// bounded pool of keep-alive connections per upstream address, each with
// its own reused bufio reader and writer, a writer the proxy writes the
// request head into directly, and a parser of the response head and body
// framing (Content-Length, chunked with trailers, close-delimited; no body
// for HEAD, 1xx, 204 and 304).
//
// It exists because net/http's Transport costs two goroutine hand-offs,
// several channels and some thirty allocations per request; here a request
// is written and its response read on the calling goroutine, and the
// response head costs two allocations (one string holding every header
// name and value, one []string backing the values).
//
// Timeouts follow nginx's proxy timeouts: connect_timeout bounds the dial,
// read_timeout and write_timeout bound every single read and write. A
// watched context (the client's) ends a blocked exchange within
// WatchInterval of being done. A
// connection is reused only after its response was read to the end with
// no error and neither side asked to close; it is retired after
// MaxRequests requests (upstream_keepalive_max_requests) and when idle for
// IdleTimeout (upstream_keepalive_idle_timeout). A connection taken from
// the pool after some idle time is checked for a close by the upstream
// (a non-blocking peek) before it is used.
//
// TLS, HTTP/2, gRPC and protocol upgrades are not handled here; the proxy
// sends those through net/http.
package upconn
