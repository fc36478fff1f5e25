// Package proxy is sluice's data plane: for each request it takes one
// snapshot, matches a route, checks the route's protocols, picks an upstream
// peer and forwards the request with Kong's headers, retries, timeouts and
// error bodies.
//
// The proxy sees only the snapshot (it never imports store, admin,
// declarative or reload). Forwarding uses httputil.ReverseProxy with a
// Rewrite hook; transports are kept in a pool keyed by the service's
// transport-relevant fields so that config reloads neither drop keep-alive
// connections nor leak them (unused transports are evicted).
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
// Deviations from Kong: upstream_keepalive_max_requests is accepted but not
// enforced (Go's transports cannot retire a connection after N requests);
// read_timeout and write_timeout apply to every read and write on the
// upstream connection, as nginx's proxy timeouts do, which for a shared
// HTTP/2 connection means "idle for read_timeout" rather than per stream;
// request bodies are replayed on retries only when they were buffered
// (request_buffering on and at most Options.MaxReplayBody bytes) or when no
// byte of them was sent yet.
package proxy
