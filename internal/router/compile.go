package router

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"sluice/internal/model"
)

// splitNamespace is the UUID v5 namespace Kong uses to name the sub-routes
// of a route whose paths are split by kind and length.
var splitNamespace = [16]byte{0x7f, 0x14, 0x5b, 0xf9, 0x0d, 0xce, 0x4f, 0x91, 0x98, 0xeb, 0xde, 0xbb, 0xce, 0x4b, 0x9f, 0x6b}

type hostKind uint8

const (
	hostExact  hostKind = iota
	hostSuffix          // "*.example.com": value ".example.com"
	hostPrefix          // "example.*": value "example."
)

type hostMatcher struct {
	kind  hostKind
	value string // lower-cased, without the '*' and without the port
	port  int    // 0: any port
}

// netMatcher is one element of sources or destinations: an IP or CIDR
// and/or a port; both must match when both are set.
type netMatcher struct {
	prefix netip.Prefix // invalid: any address
	port   int          // 0: any port
}

func compileNets(list []model.CIDRPort) ([]netMatcher, error) {
	var out []netMatcher
	for _, e := range list {
		var nm netMatcher
		if e.IP != nil {
			ip := *e.IP
			var err error
			if strings.Contains(ip, "/") {
				nm.prefix, err = netip.ParsePrefix(ip)
				nm.prefix = nm.prefix.Masked()
			} else {
				var a netip.Addr
				if a, err = netip.ParseAddr(ip); err == nil {
					nm.prefix = netip.PrefixFrom(a, a.BitLen())
				}
			}
			if err != nil {
				return nil, fmt.Errorf("invalid ip %q: %w", ip, err)
			}
		}
		if e.Port != nil {
			nm.port = *e.Port
		}
		out = append(out, nm)
	}
	return out, nil
}

func matchNets(list []netMatcher, addr netip.Addr, port int) bool {
	for _, nm := range list {
		if nm.prefix.IsValid() && !nm.prefix.Contains(addr.Unmap()) {
			continue
		}
		if nm.port != 0 && nm.port != port {
			continue
		}
		return true
	}
	return false
}

type headerMatcher struct {
	key     string           // canonical request header key
	values  []string         // lower-cased plain values
	regexes []*regexp.Regexp // lower-cased "~*" patterns
}

type regexPath struct {
	re      *regexp.Regexp
	prefix  string   // literal prefix every match starts with
	index   []string // capture keys by group index: "0", "1", ...
	names   []string // group names by index ("" when unnamed)
	capture bool     // the regex has capture groups
}

// matcher is one compiled sub-route: a route, or one path group of a route
// whose paths are of several kinds or lengths. It is immutable and shared by
// every Router built from the same route version.
type matcher struct {
	routeID  string // id of the route this sub-route belongs to
	priority uint64
	tie      string // Kong orders equal priorities by UUID, larger first

	methods  []string
	hosts    []hostMatcher
	headers  []headerMatcher
	snis     []hostMatcher
	sources  []netMatcher
	dests    []netMatcher
	plain    []string // plain prefixes, all of the same length
	plainLen int
	regexes  []regexPath
}

// compiledRoute is a route compiled into its sub-routes.
type compiledRoute struct {
	route *model.Route
	subs  []*matcher
}

// isHTTPRoute reports whether the route belongs to the HTTP router: Kong
// decides by the first protocol; routes with no protocols default to http.
func isHTTPRoute(r *model.Route) bool {
	if len(r.Protocols) == 0 {
		return true
	}
	switch r.Protocols[0] {
	case "http", "https", "grpc", "grpcs":
		return true
	}
	return false
}

// ValidateRoute compiles r the way Build does and reports the first error:
// an invalid regex path or header regex. Stream routes are not checked.
func ValidateRoute(r *model.Route) error {
	_, err := compileRoute(r, Options{})
	return err
}

func compileRoute(r *model.Route, opts Options) (*compiledRoute, error) {
	cr := &compiledRoute{route: r}
	if !isHTTPRoute(r) {
		return cr, nil
	}
	base := matcher{routeID: r.ID}
	base.methods = slices.Clone(r.Methods)
	for _, h := range r.Hosts {
		base.hosts = append(base.hosts, compileHost(h))
	}
	var err error
	if base.sources, err = compileNets(r.Sources); err != nil {
		return nil, fmt.Errorf("route %s: sources: %w", r.ID, err)
	}
	if base.dests, err = compileNets(r.Destinations); err != nil {
		return nil, fmt.Errorf("route %s: destinations: %w", r.ID, err)
	}
	for _, s := range r.SNIs {
		base.snis = append(base.snis, compileSNI(s))
	}
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		hm := headerMatcher{key: http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))}
		for _, v := range r.Headers[name] {
			if strings.HasPrefix(v, "~*") {
				re, err := regexp.Compile(asciiLower(v[2:]))
				if err != nil {
					return nil, fmt.Errorf("route %s: header %q: invalid regex %q: %w", r.ID, name, v[2:], err)
				}
				hm.regexes = append(hm.regexes, re)
				continue
			}
			hm.values = append(hm.values, asciiLower(v))
		}
		base.headers = append(base.headers, hm)
	}

	groups, err := groupPaths(r)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		m := base
		m.priority = priority(r, &m, opts)
		m.tie = tieKey(r.ID)
		cr.subs = []*matcher{&m}
		return cr, nil
	}
	for i, g := range groups {
		m := base
		m.plain = g.plain
		m.regexes = g.regexes
		if len(g.plain) > 0 {
			m.plainLen = len(g.plain[0])
		}
		m.priority = priority(r, &m, opts)
		if len(groups) == 1 {
			m.tie = tieKey(r.ID)
		} else {
			u := uuidV5(splitNamespace, r.ID+"#"+strconv.Itoa(i+1))
			m.tie = string(u[:])
		}
		cr.subs = append(cr.subs, &m)
	}
	return cr, nil
}

type pathGroup struct {
	plain   []string
	regexes []regexPath
}

// groupPaths splits a route's paths the way Kong does: one group for all
// regex paths and one per plain-path length, in order of first appearance.
func groupPaths(r *model.Route) ([]pathGroup, error) {
	if len(r.Paths) == 0 {
		return nil, nil
	}
	var groups []pathGroup
	var keys []int // -1: regex group, else plain length
	for _, p := range r.Paths {
		k := len(p)
		isRegex := strings.HasPrefix(p, "~")
		if isRegex {
			k = -1
		}
		gi := -1
		for i, kk := range keys {
			if kk == k {
				gi = i
				break
			}
		}
		if gi < 0 {
			keys = append(keys, k)
			groups = append(groups, pathGroup{})
			gi = len(groups) - 1
		}
		if !isRegex {
			groups[gi].plain = append(groups[gi].plain, p)
			continue
		}
		rp, err := compileRegexPath(p[1:])
		if err != nil {
			return nil, fmt.Errorf("route %s: invalid regex path %q: %w", r.ID, p, err)
		}
		groups[gi].regexes = append(groups[gi].regexes, rp)
	}
	return groups, nil
}

func compileRegexPath(pattern string) (regexPath, error) {
	full := "^" + pattern
	re, err := regexp.Compile(full)
	if err != nil {
		return regexPath{}, err
	}
	rp := regexPath{re: re, prefix: regexLiteralPrefix(full)}
	n := re.NumSubexp()
	rp.capture = n > 0
	if rp.capture {
		rp.index = make([]string, n+1)
		for i := range rp.index {
			rp.index[i] = strconv.Itoa(i)
		}
		rp.names = re.SubexpNames()
	}
	return rp, nil
}

// regexLiteralPrefix returns the literal text every match of an anchored
// pattern starts with ("" when there is none or it is not case-sensitive).
func regexLiteralPrefix(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	var b strings.Builder
	for _, s := range re.Sub[1:] {
		if s.Op != syntax.OpLiteral || s.Flags&syntax.FoldCase != 0 {
			break
		}
		b.WriteString(string(s.Rune))
	}
	return b.String()
}

// splitHostPort splits "host:port" at the first colon when what follows is
// a port number, as Kong's split_host_port does; otherwise port is 0.
func splitHostPort(h string) (string, int) {
	i := strings.IndexByte(h, ':')
	if i < 0 {
		return h, 0
	}
	p := h[i+1:]
	if p == "" || len(p) > 5 {
		return h, 0
	}
	n := 0
	for j := 0; j < len(p); j++ {
		c := p[j]
		if c < '0' || c > '9' {
			return h, 0
		}
		n = n*10 + int(c-'0')
	}
	return h[:i], n
}

func compileHost(h string) hostMatcher {
	host, port := splitHostPort(h)
	host = asciiLower(host)
	switch {
	case strings.HasPrefix(host, "*"):
		return hostMatcher{kind: hostSuffix, value: host[1:], port: port}
	case strings.HasSuffix(host, "*"):
		return hostMatcher{kind: hostPrefix, value: host[:len(host)-1], port: port}
	}
	return hostMatcher{kind: hostExact, value: host, port: port}
}

func compileSNI(s string) hostMatcher {
	s = asciiLower(s)
	if strings.HasSuffix(s, "*") {
		return hostMatcher{kind: hostPrefix, value: s[:len(s)-1]}
	}
	if len(s) > 1 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if strings.HasPrefix(s, "*") {
		return hostMatcher{kind: hostSuffix, value: s[1:]}
	}
	return hostMatcher{kind: hostExact, value: s}
}

// tieKey is the key Kong's ATC router breaks priority ties with: the route's
// UUID as bytes (a larger key wins). Non-UUID ids compare as strings.
func tieKey(id string) string {
	if u, ok := parseUUID(id); ok {
		return string(u[:])
	}
	return id
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		h, ok1 := unhex(s[i])
		l, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = h<<4 | l
		j++
		i += 2
	}
	return u, true
}

func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldLower compares s with lower, which is already ASCII lower-case,
// ignoring ASCII case in s (Lua's string.lower is ASCII-only).
func equalFoldLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerByte(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, lowerPrefix string) bool {
	return len(s) >= len(lowerPrefix) && equalFoldLower(s[:len(lowerPrefix)], lowerPrefix)
}

func hasSuffixFold(s, lowerSuffix string) bool {
	return len(s) >= len(lowerSuffix) && equalFoldLower(s[len(s)-len(lowerSuffix):], lowerSuffix)
}
