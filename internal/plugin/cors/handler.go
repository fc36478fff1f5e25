package cors

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// CORS is one configured instance; everything per-config (joined header
// values, compiled origin regexes) is computed once in New.
type CORS struct {
	allowAll bool
	// fixed is the single non-regex origin, always sent as is.
	fixed   string
	origins []origin

	allowHeaders   string // "" echoes Access-Control-Request-Headers
	exposeHeaders  string
	methods        string
	maxAge         string
	credentials    bool
	privateNetwork bool
	continuePre    bool
	originAbsent   bool

	// preflight holds the preflight answer's headers that do not depend
	// on the request; each answer starts from a clone.
	preflight http.Header
}

type origin struct {
	re *regexp.Regexp // nil for a plain origin
	// byHost matches a regex against the origin's host only (the entry has
	// no ':'); otherwise against scheme://host[:port].
	byHost bool
	domain string // normalised plain origin
}

// plainOrigin is Kong's test for "does not look like a regex".
var plainOrigin = regexp.MustCompile(`^[A-Za-z0-9.:/-]+$`)

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	c := &CORS{}
	origins := strings1(cfg["origins"])
	switch {
	case len(origins) == 0 || len(origins) == 1 && origins[0] == "*":
		c.allowAll = true
	case len(origins) == 1 && plainOrigin.MatchString(origins[0]):
		c.fixed = origins[0]
	default:
		for _, e := range origins {
			if plainOrigin.MatchString(e) {
				c.origins = append(c.origins, origin{domain: normalize(e).domain})
				continue
			}
			expr := e
			// Kong anchors entries at both ends, keeping a user's anchors.
			if !strings.HasSuffix(expr, "$") {
				expr += "$"
			}
			expr = strings.TrimPrefix(expr, "^")
			re, err := regexp.Compile("^(?:" + expr + ")")
			if err != nil {
				// The anchoring edit broke the expression: use it as written.
				re, err = regexp.Compile("^(?:" + e + ")")
			}
			if err != nil {
				return nil, fmt.Errorf("cors: origin %q: %w", e, err)
			}
			c.origins = append(c.origins, origin{re: re, byHost: !strings.Contains(e, ":")})
		}
	}
	c.allowHeaders = strings.Join(strings1(cfg["headers"]), ",")
	c.exposeHeaders = strings.Join(strings1(cfg["exposed_headers"]), ",")
	if m := strings1(cfg["methods"]); cfg["methods"] != nil {
		c.methods = strings.Join(m, ",")
	} else {
		c.methods = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
	}
	if n, ok := cfg["max_age"].(float64); ok {
		c.maxAge = strconv.FormatFloat(n, 'f', -1, 64)
	} else if n, ok := cfg["max_age"].(int); ok {
		c.maxAge = strconv.Itoa(n)
	}
	c.credentials, _ = cfg["credentials"].(bool)
	c.privateNetwork, _ = cfg["private_network"].(bool)
	c.continuePre, _ = cfg["preflight_continue"].(bool)
	c.originAbsent = true
	if b, ok := cfg["allow_origin_absent"].(bool); ok {
		c.originAbsent = b
	}
	c.preflight = http.Header{"Access-Control-Allow-Methods": {c.methods}}
	if c.allowHeaders != "" {
		c.preflight.Set("Access-Control-Allow-Headers", c.allowHeaders)
	}
	if c.maxAge != "" {
		c.preflight.Set("Access-Control-Max-Age", c.maxAge)
	}
	return c, nil
}

func strings1(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

type normalized struct{ domain, host string }

// normalize is Kong's normalize_origin: scheme://host[:port] without the
// scheme's default port (anything after the authority dropped); a value
// without "scheme://" is kept as is. It slices s and does not allocate.
func normalize(s string) normalized {
	i := strings.Index(s, "://")
	if i <= 0 {
		return normalized{domain: s, host: s}
	}
	scheme := s[:i]
	start := i + 3
	end := len(s)
	if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
		end = start + j
	}
	auth := s[start:end]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		// userinfo is not part of an origin; rebuild without it.
		return normalize(scheme + "://" + auth[at+1:])
	}
	if auth == "" {
		return normalized{domain: s, host: s}
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		if k := strings.IndexByte(auth, ']'); k >= 0 {
			host = auth[1:k]
			if rest := auth[k+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
		}
	} else if k := strings.LastIndexByte(auth, ':'); k >= 0 {
		host, port = auth[:k], auth[k+1:]
	}
	domainEnd := end
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" || port == "" && strings.HasSuffix(auth, ":") {
		domainEnd = end - len(port) - 1
	}
	return normalized{domain: s[:domainEnd], host: host}
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// Access answers a preflight request with 200 unless preflight_continue.
func (p *CORS) Access(c *plugin.Ctx) {
	r := c.Request
	if !isPreflight(r) || p.continuePre {
		return
	}
	h := p.preflight.Clone()
	allowAll := p.origin(r, h, false)
	p.setCredentials(r, h, allowAll, false)
	if p.allowHeaders == "" {
		if acrh := r.Header.Get("Access-Control-Request-Headers"); acrh != "" {
			h.Set("Access-Control-Allow-Headers", acrh)
		}
	}
	if p.privateNetwork && r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	c.Terminate(&plugin.Exit{Status: http.StatusOK, Header: h})
}

// HeaderFilter adds the CORS headers to a response that is not the
// answer to a preflight.
func (p *CORS) HeaderFilter(c *plugin.Ctx) {
	if isPreflight(c.Request) || c.Header == nil {
		return
	}
	if !p.originAbsent && c.Request.Header.Get("Origin") == "" {
		return
	}
	allowAll := p.origin(c.Request, c.Header, true)
	p.setCredentials(c.Request, c.Header, allowAll, true)
	if p.exposeHeaders != "" {
		c.Header.Set("Access-Control-Expose-Headers", p.exposeHeaders)
	}
}

// origin sets Access-Control-Allow-Origin (and Vary) and reports whether
// every origin is allowed.
func (p *CORS) origin(r *http.Request, h http.Header, filter bool) bool {
	if p.allowAll {
		h.Set("Access-Control-Allow-Origin", "*")
		return true
	}
	addVary(h, filter)
	if p.fixed != "" {
		h.Set("Access-Control-Allow-Origin", p.fixed)
		return false
	}
	if reqOrigin := r.Header.Get("Origin"); reqOrigin != "" {
		n := normalize(reqOrigin)
		for _, o := range p.origins {
			var found bool
			if o.re != nil {
				subject := n.domain
				if o.byHost {
					subject = n.host
				}
				found = o.re.MatchString(subject)
			} else {
				found = n.domain == o.domain
			}
			if found {
				h.Set("Access-Control-Allow-Origin", n.domain)
				return false
			}
		}
	}
	h.Del("Access-Control-Allow-Origin")
	return false
}

func (p *CORS) setCredentials(r *http.Request, h http.Header, allowAll, filter bool) {
	if !p.credentials {
		return
	}
	if !allowAll {
		h.Set("Access-Control-Allow-Credentials", "true")
		return
	}
	// "*" cannot go with credentials: echo the request's origin instead.
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		addVary(h, filter)
	}
}

// addVary sets Vary: Origin on a response produced by the plugin and adds
// an Origin value to an upstream response's Vary (Kong's add_header: the
// upstream's values are kept, even one that already names Origin).
func addVary(h http.Header, filter bool) {
	if !filter {
		h.Set("Vary", "Origin")
		return
	}
	h.Add("Vary", "Origin")
}

var (
	_ plugin.Accessor       = (*CORS)(nil)
	_ plugin.HeaderFilterer = (*CORS)(nil)
)
