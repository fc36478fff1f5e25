// Package router compiles Kong routes into an immutable matcher with Kong's
// traditional_compatible semantics. It does no I/O.
//
// Every route is compiled once into one or more sub-routes (Kong splits a
// route whose paths differ in kind or length), each with Kong's 64-bit
// priority. The sub-routes are sorted by priority (ties: larger UUID first,
// as in Kong's ATC router) and the first one that matches a request wins.
// To avoid scanning every route, sub-routes whose hosts are all plain are
// indexed by host, and inside each host bucket by a radix tree of their
// plain path prefixes (or the literal prefix of their regex paths); the
// search visits only the candidates that can match and stops as soon as no
// better-ranked candidate remains.
package router

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"sluice/internal/model"
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
}

// UpstreamPath is the path to send upstream for the normalised request path,
// from service.path and strip_path by Kong's get_upstream_uri_v0 rules.
// path_handling "v1" behaves as "v0": Kong's traditional_compatible router
// ignores it. The query string is not part of reqPath nor of the result.
func (m *Match) UpstreamPath(reqPath string) string {
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

// entry is a sub-route as placed in one Router: the shared compiled matcher
// plus the route and service versions of this build.
type entry struct {
	m       *matcher
	route   *model.Route
	service *model.Service
}

// Router is immutable once built and safe for concurrent use.
type Router struct {
	entries  []entry                   // by priority, best first
	compiled map[string]*compiledRoute // by route id, for reuse by the next Build
	exact    map[string]*bucket        // by lower-cased plain host
	other    bucket                    // sub-routes without hosts or with wildcard hosts
}

// Len returns the number of compiled sub-routes.
func (r *Router) Len() int { return len(r.entries) }

// Build compiles routes. services maps service id to service. prev, when not
// nil, is the previous router: compiled routes whose matching fields are
// unchanged are reused instead of recompiled (services do not take part in
// matching; the current route and service objects are always the ones a
// Match returns). Routes of stream
// protocols (tcp, tls, tls_passthrough, udp) are left out. An invalid route
// (a regex that does not compile) fails the whole build.
func Build(prev *Router, routes []*model.Route, services map[string]*model.Service) (*Router, error) {
	r := &Router{compiled: make(map[string]*compiledRoute, len(routes))}
	n := 0
	compiled := make([]*compiledRoute, 0, len(routes))
	for _, rt := range routes {
		var cr *compiledRoute
		if prev != nil {
			if old, ok := prev.compiled[rt.ID]; ok && reusable(old.route, rt) {
				cr = old
			}
		}
		if cr == nil {
			var err error
			if cr, err = compileRoute(rt); err != nil {
				return nil, err
			}
		}
		r.compiled[rt.ID] = cr
		compiled = append(compiled, cr)
		n += len(cr.subs)
	}
	r.entries = make([]entry, 0, n)
	for i, cr := range compiled {
		rt := routes[i]
		var svc *model.Service
		if rt.Service != nil {
			svc = services[rt.Service.ID]
		}
		for _, m := range cr.subs {
			r.entries = append(r.entries, entry{m: m, route: rt, service: svc})
		}
	}
	slices.SortFunc(r.entries, func(a, b entry) int { return compareMatchers(a.m, b.m) })
	r.buildIndex()
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
		(len(old.Sources) > 0) == (len(cur.Sources) > 0) &&
		(len(old.Destinations) > 0) == (len(cur.Destinations) > 0) &&
		maps.EqualFunc(old.Headers, cur.Headers, slices.Equal)
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
	best := len(r.entries)
	if len(r.exact) > 0 {
		var b *bucket
		if hasUpper(host) && len(host) <= 255 {
			var buf [255]byte
			for i := 0; i < len(host); i++ {
				buf[i] = lowerByte(host[i])
			}
			b = r.exact[string(buf[:len(host)])]
		} else {
			b = r.exact[host]
		}
		if b != nil {
			best = r.search(b, &q, best)
		}
	}
	best = r.search(&r.other, &q, best)
	if best == len(r.entries) {
		return Match{}, false
	}
	e := &r.entries[best]
	m := Match{Route: e.route, Service: e.service}
	switch {
	case e.m.plainLen > 0:
		m.Matched = req.Path[:e.m.plainLen]
	case len(e.m.regexes) > 0:
		m.Matched, m.Captures = e.m.regexMatch(req.Path)
	}
	return m, true
}

// MatchLinear is Match without the index: it tries every sub-route in
// priority order. It exists to check the index against.
func (r *Router) MatchLinear(req *Request) (Match, bool) {
	host, hostPort := splitHostPort(req.Host)
	port := hostPort
	if port == 0 {
		port = req.Port
	}
	q := query{req: req, host: host, port: port}
	for i := range r.entries {
		e := &r.entries[i]
		if !e.m.matchesExceptPath(&q) || !e.m.matchesPath(req.Path) {
			continue
		}
		m := Match{Route: e.route, Service: e.service}
		switch {
		case e.m.plainLen > 0:
			m.Matched = req.Path[:e.m.plainLen]
		case len(e.m.regexes) > 0:
			m.Matched, m.Captures = e.m.regexMatch(req.Path)
		}
		return m, true
	}
	return Match{}, false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
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
