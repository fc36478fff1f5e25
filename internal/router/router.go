// Package router compiles Kong routes into an immutable matcher with Kong's
// traditional_compatible semantics. It does no I/O.
//
// Every route is compiled once into one or more sub-routes (Kong splits a
// route whose paths differ in kind or length), each with Kong's 64-bit
// priority; the best-priority sub-route that matches a request wins, ties
// going to the larger UUID as in Kong's ATC router. By default priorities
// are the ones Kong 3.x really computes (see luaPriority), which differ from
// its documented layout in a few orderings; Options.DocumentedPriority
// selects the documented layout.
//
// To avoid scanning every route, sub-routes are filed by host (exact, "*.x"
// suffix, "x.*" prefix, or no host) and inside each host bucket in a radix
// tree of their plain path prefixes (or the literal prefix of their regex
// paths). A search visits only the candidates that can match and leaves a
// list as soon as it cannot beat the best match found. The index is
// persistent, so a Build from a previous router copies only what changed.
package router

import (
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"sluice/internal/model"
	"sluice/internal/sched"
)

// Request is what the router looks at. Callers fill it without allocating.
type Request struct {
	Method string
	Host   string      // Host header value as received (may carry :port)
	Path   string      // normalised request path (NormalizePath), no query
	Header http.Header // request headers
	SNI    string      // TLS server name; "" when the request is not TLS
	TLS    bool        // request arrived over TLS
	Port   int         // local listening port the request arrived on
	// ClientIP, ClientPort and LocalIP are only looked at by routes with
	// sources or destinations (zero values match no IP condition).
	ClientIP   netip.Addr
	ClientPort int
	LocalIP    netip.Addr
}

// Match is a successful match.
type Match struct {
	Route   *model.Route
	Service *model.Service // nil when the route has no service
	// Matched is the part of the request path the route's path matched (the
	// prefix for plain paths, the whole regex match for regex paths); "" when
	// the route matched without paths.
	Matched string
	// Captures holds regex captures as Kong's router returns them: the whole
	// match as "0", every group by position ("1", "2"...) and named groups
	// also by name; groups that did not take part in the match are absent. nil for plain paths and for regexes
	// without groups.
	Captures map[string]string

	// v1 selects Kong's path_handling v1 rules: the route asks for them and
	// the router runs the "traditional" flavor (see Options.PathHandlingV1).
	v1 bool
}

// UpstreamPath is the path to send upstream for the normalised request path,
// from service.path and strip_path by Kong's get_upstream_uri_v0 rules.
// path_handling "v1" behaves as "v0" (Kong's traditional_compatible router,
// the default, ignores it) unless the router was built with
// Options.PathHandlingV1 (router_flavor = traditional). The query string is
// not part of reqPath nor of the result.
func (m *Match) UpstreamPath(reqPath string) string {
	if m.v1 {
		return m.upstreamPathV1(reqPath)
	}
	base := "/"
	if m.Service != nil && m.Service.Path != nil && *m.Service.Path != "" {
		base = *m.Service.Path
	}
	strip := m.Route != nil && m.Route.StripPath
	prefix := "/"
	if strip && m.Matched != "" {
		prefix = m.Matched
	}
	postfix := ""
	if len(prefix) <= len(reqPath) {
		postfix = sanitizePostfix(reqPath[len(prefix):])
	}
	return upstreamURIv0(strip, postfix, reqPath, base)
}

// upstreamPathV1 follows Kong's path_handling v1: the service path and the
// rest of the request path (after the matched prefix when strip_path is on,
// after the leading slash otherwise) are joined as they are, with no slash
// added between them and a doubled slash merged.
func (m *Match) upstreamPathV1(reqPath string) string {
	base := "/"
	if m.Service != nil && m.Service.Path != nil && *m.Service.Path != "" {
		base = *m.Service.Path
	}
	var postfix string
	switch {
	case m.Route != nil && m.Route.StripPath && m.Matched != "" && len(m.Matched) <= len(reqPath):
		postfix = sanitizePostfix(reqPath[len(m.Matched):])
	case reqPath != "":
		postfix = reqPath[1:]
	}
	if strings.HasSuffix(base, "/") && strings.HasPrefix(postfix, "/") {
		postfix = postfix[1:]
	}
	return base + postfix
}

func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}

func upstreamURIv0(strip bool, postfix, req, base string) string {
	if strings.HasSuffix(base, "/") {
		if !strip {
			if req == "" {
				return base
			}
			return base + req[1:]
		}
		switch {
		case postfix == "":
			if base == "/" {
				return "/"
			}
			if strings.HasSuffix(req, "/") {
				return base
			}
			return base[:len(base)-1]
		case postfix[0] == '/':
			return base[:len(base)-1] + postfix
		}
		return base + postfix
	}
	if !strip {
		if req == "/" {
			return base
		}
		return base + req
	}
	switch {
	case postfix == "":
		if len(req) > 1 && strings.HasSuffix(req, "/") {
			return base + "/"
		}
		return base
	case postfix[0] == '/':
		return base + postfix
	}
	return base + "/" + postfix
}

// routeState is a route as placed in one Router: its compiled form (shared
// between builds while unchanged) and the route and service objects of this
// build, which are what Match returns.
type routeState struct {
	cr      *compiledRoute
	route   *model.Route
	service *model.Service
}

// Router is immutable once built and safe for concurrent use.
type Router struct {
	routes map[string]routeState // by route id
	ix     *index
	subs   int
	opts   Options
}

// Len returns the number of compiled sub-routes.
func (r *Router) Len() int { return r.subs }

// Build compiles routes. services maps service id to service. prev, when not
// nil, is the previous router: compiled routes whose matching fields are
// unchanged are reused instead of recompiled, and only the parts of the
// index that hold changed routes are copied (services do not take part in
// matching; the current route and service objects are always the ones a
// Match returns). prev is never modified. Routes of stream protocols (tcp,
// tls, tls_passthrough, udp) are left out. An invalid route (a regex that
// does not compile) or a duplicate route id fails the whole build.
func Build(prev *Router, routes []*model.Route, services map[string]*model.Service) (*Router, error) {
	return BuildWithOptions(prev, routes, services, Options{})
}

// BuildWithOptions is Build with options. A prev built with other options
// is not reused.
func BuildWithOptions(prev *Router, routes []*model.Route, services map[string]*model.Service, opts Options) (*Router, error) {
	if prev != nil && prev.opts != opts {
		prev = nil
	}
	r := &Router{routes: make(map[string]routeState, len(routes)), opts: opts}
	tk := &token{}
	var removed, added []*matcher
	seen := 0
	for _, rt := range routes {
		sched.Point()
		if _, dup := r.routes[rt.ID]; dup {
			return nil, fmt.Errorf("duplicate route id %s", rt.ID)
		}
		var cr *compiledRoute
		if prev != nil {
			if old, ok := prev.routes[rt.ID]; ok {
				seen++
				if reusable(old.cr.route, rt) {
					cr = old.cr
				} else {
					removed = append(removed, old.cr.subs...)
				}
			}
		}
		if cr == nil {
			var err error
			if cr, err = compileRoute(rt, opts); err != nil {
				return nil, err
			}
			added = append(added, cr.subs...)
		}
		var svc *model.Service
		if rt.Service != nil {
			svc = services[rt.Service.ID]
		}
		r.routes[rt.ID] = routeState{cr: cr, route: rt, service: svc}
		r.subs += len(cr.subs)
	}
	if prev == nil {
		r.ix = newIndex(tk)
		// Inserting best first keeps every list append-only.
		slices.SortFunc(added, func(a, b *matcher) int { return compareMatchers(a, b) })
		for _, m := range added {
			r.ix.insert(m)
		}
		return r, nil
	}
	if seen != len(prev.routes) {
		for id, old := range prev.routes {
			if _, ok := r.routes[id]; !ok {
				removed = append(removed, old.cr.subs...)
			}
		}
	}
	r.ix = prev.ix.derive(tk)
	for _, m := range removed {
		r.ix.remove(m)
	}
	for _, m := range added {
		r.ix.insert(m)
	}
	return r, nil
}

// reusable reports whether the compiled form of old can serve cur: the
// compiled form depends only on the fields compared here, so a route read
// again from the store, or changed only in other fields, is not recompiled.
// (Kong keys its reuse on updated_at, which has a resolution of one second;
// comparing the fields also catches edits within the same second.)
func reusable(old, cur *model.Route) bool {
	if old == cur {
		return true
	}
	return old.ID == cur.ID &&
		old.RegexPriority == cur.RegexPriority &&
		slices.Equal(old.Protocols, cur.Protocols) &&
		slices.Equal(old.Methods, cur.Methods) &&
		(old.Hosts == nil) == (cur.Hosts == nil) && slices.Equal(old.Hosts, cur.Hosts) &&
		slices.Equal(old.Paths, cur.Paths) &&
		slices.Equal(old.SNIs, cur.SNIs) &&
		slices.EqualFunc(old.Sources, cur.Sources, sameCIDRPort) &&
		slices.EqualFunc(old.Destinations, cur.Destinations, sameCIDRPort) &&
		maps.EqualFunc(old.Headers, cur.Headers, slices.Equal)
}

func sameCIDRPort(a, b model.CIDRPort) bool {
	return samePtr(a.IP, b.IP) && samePtr(a.Port, b.Port)
}

func samePtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// compareMatchers orders by priority, higher first, then by tie key, larger
// first.
func compareMatchers(a, b *matcher) int {
	switch {
	case a.priority > b.priority:
		return -1
	case a.priority < b.priority:
		return 1
	}
	return -strings.Compare(a.tie, b.tie)
}

// Match finds the route for req by Kong's priority rules.
func (r *Router) Match(req *Request) (Match, bool) {
	host, hostPort := splitHostPort(req.Host)
	port := hostPort
	if port == 0 {
		port = req.Port
	}
	q := query{req: req, host: host, port: port}
	ix := r.ix
	var best *matcher
	if len(ix.exact) > 0 || len(ix.suffix) > 0 || len(ix.prefix) > 0 {
		// The host is lower-cased into a stack buffer; map lookups keyed by
		// string(bytes) do not allocate.
		var buf [255]byte
		var h []byte
		if len(host) <= len(buf) {
			h = buf[:len(host)]
			for i := 0; i < len(host); i++ {
				h[i] = lowerByte(host[i])
			}
		} else {
			h = []byte(asciiLower(host))
		}
		if b := ix.exact[string(h)]; b != nil {
			best = b.search(&q, best)
		}
		if len(ix.suffix) > 0 {
			for i := 0; i < len(h); i++ {
				if h[i] == '.' {
					if b := ix.suffix[string(h[i:])]; b != nil {
						best = b.search(&q, best)
					}
				}
			}
		}
		if len(ix.prefix) > 0 {
			for i := 0; i < len(h); i++ {
				if h[i] == '.' {
					if b := ix.prefix[string(h[:i+1])]; b != nil {
						best = b.search(&q, best)
					}
				}
			}
		}
	}
	best = ix.any.search(&q, best)
	if best == nil {
		return Match{}, false
	}
	return r.result(best, req.Path), true
}

func (r *Router) result(best *matcher, path string) Match {
	st := r.routes[best.routeID]
	m := Match{Route: st.route, Service: st.service, v1: r.opts.PathHandlingV1 && st.route.PathHandling == "v1"}
	switch {
	case best.plainLen > 0:
		m.Matched = path[:best.plainLen]
	case len(best.regexes) > 0:
		m.Matched, m.Captures = best.regexMatch(path)
	}
	return m
}

// MatchLinear is Match without the index: it checks every sub-route and
// keeps the best that matches. It exists to check the index against.
func (r *Router) MatchLinear(req *Request) (Match, bool) {
	host, hostPort := splitHostPort(req.Host)
	port := hostPort
	if port == 0 {
		port = req.Port
	}
	q := query{req: req, host: host, port: port}
	var best *matcher
	for _, st := range r.routes {
		for _, m := range st.cr.subs {
			if best != nil && !better(m, best) {
				continue
			}
			if m.matchesExceptPath(&q) && m.matchesPath(req.Path) {
				best = m
			}
		}
	}
	if best == nil {
		return Match{}, false
	}
	return r.result(best, req.Path), true
}

// query is the request as the predicates see it.
type query struct {
	req  *Request
	host string // Host header without port
	port int    // Host header port, else the local port
}

func (m *matcher) matchesExceptPath(q *query) bool {
	if len(m.methods) > 0 {
		ok := false
		for _, v := range m.methods {
			if v == q.req.Method {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(m.hosts) > 0 {
		ok := false
		for i := range m.hosts {
			if m.hosts[i].matchHost(q.host, q.port) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(m.sources) > 0 && !matchNets(m.sources, q.req.ClientIP, q.req.ClientPort) {
		return false
	}
	if len(m.dests) > 0 && !matchNets(m.dests, q.req.LocalIP, q.port) {
		return false
	}
	if len(m.snis) > 0 && q.req.TLS {
		sni := q.req.SNI
		if len(sni) > 1 && sni[len(sni)-1] == '.' {
			sni = sni[:len(sni)-1]
		}
		ok := false
		for i := range m.snis {
			if m.snis[i].matchHost(sni, 0) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range m.headers {
		if !m.headers[i].match(q.req.Header) {
			return false
		}
	}
	return true
}

func (h *hostMatcher) matchHost(host string, port int) bool {
	if h.port != 0 && h.port != port {
		return false
	}
	switch h.kind {
	case hostSuffix:
		return hasSuffixFold(host, h.value)
	case hostPrefix:
		return hasPrefixFold(host, h.value)
	}
	return equalFoldLower(host, h.value)
}

func (h *headerMatcher) match(hdr http.Header) bool {
	for _, v := range hdr[h.key] {
		for _, want := range h.values {
			if equalFoldLower(v, want) {
				return true
			}
		}
		if len(h.regexes) == 0 {
			continue
		}
		var buf [256]byte
		var lower []byte
		if len(v) <= len(buf) {
			lower = buf[:len(v)]
		} else {
			lower = make([]byte, len(v))
		}
		for i := 0; i < len(v); i++ {
			lower[i] = lowerByte(v[i])
		}
		for _, re := range h.regexes {
			if re.Match(lower) {
				return true
			}
		}
	}
	return false
}

// matchesPath checks the path condition alone.
func (m *matcher) matchesPath(path string) bool {
	if m.plainLen > 0 {
		for _, p := range m.plain {
			if strings.HasPrefix(path, p) {
				return true
			}
		}
		return false
	}
	if len(m.regexes) > 0 {
		return m.matchesRegex(path)
	}
	return true
}

func (m *matcher) matchesRegex(path string) bool {
	for i := range m.regexes {
		rp := &m.regexes[i]
		if strings.HasPrefix(path, rp.prefix) && rp.re.MatchString(path) {
			return true
		}
	}
	return false
}

// regexMatch returns the text matched by the first matching regex path and
// its captures.
func (m *matcher) regexMatch(path string) (string, map[string]string) {
	for i := range m.regexes {
		rp := &m.regexes[i]
		if !strings.HasPrefix(path, rp.prefix) {
			continue
		}
		if !rp.capture {
			loc := rp.re.FindStringIndex(path)
			if loc == nil {
				continue
			}
			return path[loc[0]:loc[1]], nil
		}
		loc := rp.re.FindStringSubmatchIndex(path)
		if loc == nil {
			continue
		}
		caps := make(map[string]string, 2*len(rp.index))
		for g, key := range rp.index {
			if loc[2*g] < 0 {
				continue
			}
			v := path[loc[2*g]:loc[2*g+1]]
			caps[key] = v
			if rp.names[g] != "" {
				caps[rp.names[g]] = v
			}
		}
		return path[loc[0]:loc[1]], caps
	}
	return "", nil
}
