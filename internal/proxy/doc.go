// Package proxy is sluice's data plane: for each request it takes one
// snapshot, matches a route, checks the route's protocols, picks an upstream
// peer and forwards the request with Kong's headers, retries, timeouts and
// error bodies.
//
// The proxy sees only the snapshot (it never imports store, admin,
// declarative or reload). Requests from HTTP/1.x clients to plain-HTTP
// services (no protocol upgrade) are forwarded by forward over sluice's own
// HTTP/1.1 client (package upconn): the request head is written straight
// from the client's request and the response head parsed into the client's
// header map, on the request's goroutine. Everything else (https, grpc,
// grpcs, upgrades, HTTP/2 clients) uses httputil.ReverseProxy with a
// Rewrite hook over net/http's transport. Both are kept in a pool keyed by
// the service's transport-relevant fields so that config reloads neither
// drop keep-alive connections nor leak them (unused ones are evicted).
//
// Kong behaviours reproduced here (Kong 3.9):
//   - 404 "no Route matched with those values" and every other proxy error
//     body use Kong's templates (JSON, text, HTML, XML) with the request id;
//     errors produced before proxying negotiate from Accept (default JSON),
//     upstream failures from Accept, then Content-Type, then
//     error_default_type, like kong/error_handlers.lua.
//   - A matched route without a service answers 503 "no Service found with
//     those values".
//   - https-only routes reached over plain HTTP answer 426 or redirect with
//     https_redirect_status_code; gRPC routes check HTTP/2 and content type.
//   - Upstream failures: connect errors, resets and bad responses map to 502,
//     timeouts to 504, no healthy target to 503, DNS failure to 503, a client
//     that went away to 499 (logged, nothing written).
//
// Upstream protocols: http and https use HTTP/1.1 with keep-alive; grpc uses
// HTTP/2 with prior knowledge (h2c) and grpcs HTTP/2 over TLS, both through
// the standard library's transport, with trailers passed through. Upstream
// certificates are verified only when the service's tls_verify is true
// (nginx's proxy_ssl_verify is off by default in Kong).
//
// Deviations from Kong: upstream_keepalive_max_requests is enforced only on
// the own HTTP/1.1 client (Go's transports cannot retire a connection after
// N requests); the upstream's 100 Continue is not passed on (the client
// got its own from the server when the body was read), other 1xx are;
// read_timeout and write_timeout apply to every read and write on the
// upstream connection, as nginx's proxy timeouts do, which for a shared
// HTTP/2 connection means "idle for read_timeout" rather than per stream;
// request bodies are replayed on retries only when they were buffered
// (request_buffering on and at most Options.MaxReplayBody bytes) or when no
// byte of them was sent yet.
package proxy
