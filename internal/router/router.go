// Package router compiles Kong routes into an immutable matcher with Kong's
// traditional_compatible semantics. It does no I/O.
package router

import (
	"net/http"

	"sluice/internal/model"
)

// API CONTRACT (stub: the router owner replaces the bodies, keeps the signatures).

// Request is what the router looks at. Callers fill it without allocating.
type Request struct {
	Method string
	Host   string      // Host header value as received (may carry :port)
	Path   string      // normalised request path (NormalizePath), no query
	Header http.Header // request headers
	SNI    string      // TLS server name; "" when the request is not TLS
	TLS    bool        // request arrived over TLS
	Port   int         // local listening port the request arrived on
}

// Match is a successful match.
type Match struct {
	Route   *model.Route
	Service *model.Service // nil when the route has no service
	// Matched is the part of the request path the route's path matched (the
	// prefix for plain paths, the whole regex match for regex paths); "" when
	// the route matched without paths.
	Matched string
	// Captures holds regex captures: positional as "1", "2"..., named by name.
	// nil for plain paths.
	Captures map[string]string
}

// UpstreamPath is the path to send upstream for the normalised request path,
// from service.path, strip_path and path_handling (Kong's v0 rules).
func (m *Match) UpstreamPath(reqPath string) string { return reqPath }

// Router is immutable once built and safe for concurrent use.
type Router struct{}

// Build compiles routes. services maps service id to service. prev, when not
// nil, is the previous router: compiled routes whose id and updated_at (and
// their service's) are unchanged are reused instead of recompiled.
func Build(prev *Router, routes []*model.Route, services map[string]*model.Service) (*Router, error) {
	return &Router{}, nil
}

// Match finds the route for req by Kong's priority rules.
func (r *Router) Match(req *Request) (Match, bool) { return Match{}, false }

// NormalizePath applies Kong's request path normalisation.
func NormalizePath(raw string) string { return raw }
