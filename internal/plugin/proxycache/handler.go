package proxycache

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/internal/plugin"
)

// now is the clock (Unix seconds, like ngx.time); tests replace it.
var now = func() int64 { return time.Now().Unix() }

// ctxKey holds the per-request state in plugin.Ctx.
const ctxKey = "\x00proxy-cache"

// hopByHop are the headers never replayed from the cache (Kong's list, with
// content-length, which is recomputed).
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailers": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
}

// Cache is one configured instance.
type Cache struct {
	conf  *Config
	store *Store
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	return &Cache{conf: decode(cfg), store: shared}, nil
}

// reqState is what access hands to the response phases of a request that
// is to be stored.
type reqState struct {
	key      string
	storeKey string
	header   http.Header
	status   int
	ttl      int64
	body     []byte
	tooLarge bool
}

func (p *Cache) setHeader(c *plugin.Ctx, name, value string) {
	if p.enabled(c, name) {
		c.SetResponseHeader(name, value)
	}
}

// enabled reports whether a diagnostic header is sent: per
// response_headers, or always with a Kong-Debug request header.
func (p *Cache) enabled(c *plugin.Ctx, name string) bool {
	if c.Request.Header.Get("Kong-Debug") != "" {
		return true
	}
	switch name {
	case "Age":
		return p.conf.HeaderAge
	case "X-Cache-Status":
		return p.conf.HeaderStatus
	case "X-Cache-Key":
		return p.conf.HeaderKey
	}
	return false
}

// Access looks the request up and serves a fresh cached response.
func (p *Cache) Access(c *plugin.Ctx) {
	r := c.Request
	reqCC := parseDirectives(r.Header.Values("Cache-Control"))
	if !p.cacheableRequest(r, reqCC) {
		p.setHeader(c, "X-Cache-Status", "Bypass")
		return
	}
	key := p.cacheKey(c)
	p.setHeader(c, "X-Cache-Key", key)
	storeKey := p.conf.Dictionary + ":" + key
	t := now()
	res := p.store.Get(storeKey, t)
	if res == nil {
		if p.conf.CacheControl && reqCC.has("only-if-cached") {
			// kong.response.exit(504) without a body.
			c.Terminate(&plugin.Exit{Status: http.StatusGatewayTimeout, Body: []byte{}})
			return
		}
		p.miss(c, key, storeKey, "Miss")
		return
	}
	age := t - res.Timestamp
	if p.conf.CacheControl {
		if v, ok := reqCC.num("max-age"); ok && age > v {
			p.miss(c, key, storeKey, "Refresh")
			return
		}
		if v, ok := reqCC.num("max-stale"); ok && age-res.TTL > v {
			p.miss(c, key, storeKey, "Refresh")
			return
		}
		if v, ok := reqCC.num("min-fresh"); ok && res.TTL-age < v {
			p.miss(c, key, storeKey, "Refresh")
			return
		}
	} else if age > p.conf.CacheTTL {
		p.miss(c, key, storeKey, "Refresh")
		return
	}
	h := make(http.Header, len(res.Header)+3)
	for k, v := range res.Header {
		if hopByHop[k] || strings.Contains(strings.ToLower(k), "ratelimit-remaining") {
			continue
		}
		h[k] = v[:len(v):len(v)] // shared with the stored entry: an Add must not write into it
	}
	delete(h, "Age")
	delete(h, "X-Cache-Status")
	delete(h, "X-Cache-Key")
	vals := [3]string{strconv.FormatInt(age, 10), "Hit", key}
	if p.enabled(c, "Age") {
		h["Age"] = vals[0:1:1]
	}
	if p.enabled(c, "X-Cache-Status") {
		h["X-Cache-Status"] = vals[1:2:2]
	}
	if p.enabled(c, "X-Cache-Key") {
		h["X-Cache-Key"] = vals[2:3:3]
	}
	// No state is kept: header_filter and body_filter leave a hit alone.
	c.Terminate(&plugin.Exit{Status: res.Status, Body: res.Body, Header: h})
}

func (p *Cache) miss(c *plugin.Ctx, key, storeKey, status string) {
	c.Set(ctxKey, &reqState{key: key, storeKey: storeKey})
	p.setHeader(c, "X-Cache-Status", status)
}

func state(c *plugin.Ctx) *reqState {
	v, _ := c.Get(ctxKey)
	s, _ := v.(*reqState)
	if s == nil || s.key == "" {
		return nil
	}
	return s
}

// HeaderFilter decides whether the response is stored and keeps its
// headers.
func (p *Cache) HeaderFilter(c *plugin.Ctx) {
	s := state(c)
	if s == nil {
		return
	}
	resCC := parseDirectives(c.Header.Values("Cache-Control"))
	if !p.cacheableResponse(c, resCC) {
		p.setHeader(c, "X-Cache-Status", "Bypass")
		s.key = ""
		return
	}
	s.status = c.Status
	s.header = c.Header.Clone()
	if p.conf.CacheControl {
		s.ttl = resourceTTL(resCC, c.Header)
	} else {
		s.ttl = p.conf.CacheTTL
	}
	if bodiless(c) {
		// The proxy runs no body_filter on a response without a body.
		p.save(s)
	}
}

// bodiless reports whether the response cannot have a body (HEAD, 204,
// 304) or declares an empty one.
func bodiless(c *plugin.Ctx) bool {
	return c.Request.Method == http.MethodHead || c.Status == http.StatusNoContent ||
		c.Status == http.StatusNotModified || c.Header.Get("Content-Length") == "0"
}

// save stores the captured response.
func (p *Cache) save(s *reqState) {
	t := now()
	ttl := s.ttl
	if p.conf.StorageTTL != 0 {
		ttl = p.conf.StorageTTL
	}
	body := s.body
	if body == nil {
		body = []byte{}
	}
	p.store.Put(s.storeKey, &Response{Status: s.status, Header: s.header, Body: body, Timestamp: t, TTL: s.ttl}, ttl, t)
	s.key, s.body = "", nil
}

// BodyFilter buffers the body (up to the store's maximum entry size) and
// stores the response at its end.
func (p *Cache) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	s := state(c)
	if s == nil || s.tooLarge {
		return chunk
	}
	if int64(len(s.body)+len(chunk)) > p.store.MaxEntry() {
		s.tooLarge, s.body = true, nil
		return chunk
	}
	s.body = append(s.body, chunk...)
	if last {
		p.save(s)
	}
	return chunk
}

func (p *Cache) cacheableRequest(r *http.Request, cc directives) bool {
	if !slices.Contains(p.conf.RequestMethods, r.Method) {
		return false
	}
	if p.conf.CacheControl && (cc.has("no-store") || cc.has("no-cache") || r.Header.Get("Authorization") != "") {
		return false
	}
	return true
}

func (p *Cache) cacheableResponse(c *plugin.Ctx, cc directives) bool {
	if !slices.Contains(p.conf.ResponseCodes, c.Status) {
		return false
	}
	cts := c.Header.Values("Content-Type")
	if len(cts) != 1 || cts[0] == "" {
		return false
	}
	got, ok := parseMime(cts[0])
	if !ok {
		return false
	}
	match := false
	for _, want := range p.conf.ContentTypes {
		if want.matches(got) {
			match = true
			break
		}
	}
	if !match {
		return false
	}
	if p.conf.CacheControl {
		if cc.has("private") || cc.has("no-store") || cc.has("no-cache") {
			return false
		}
		if resourceTTL(cc, c.Header) <= 0 {
			return false
		}
	}
	return true
}

// cacheKey is Kong's build_cache_key: the hex SHA-256 of
// "prefix|method|path|params|headers".
func (p *Cache) cacheKey(c *plugin.Ctx) string {
	r := c.Request
	prefix := "default"
	if c.Route != nil {
		prefix = c.Route.ID
		if c.Consumer != nil {
			prefix = c.Consumer.ID + ":" + c.Route.ID
		}
	}
	path := r.RequestURI
	if path == "" || path == "*" {
		path = r.URL.EscapedPath()
	} else if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if p.conf.IgnoreURICase {
		path = strings.ToLower(path)
	}
	b := make([]byte, 0, 256)
	b = append(b, prefix...)
	b = append(b, '|')
	b = append(b, r.Method...)
	b = append(b, '|')
	b = append(b, path...)
	b = append(b, '|')
	b = appendParams(b, r.URL.RawQuery, p.conf.VaryQueryParams)
	b = append(b, '|')
	if len(p.conf.VaryHeaders) > 0 {
		b = appendHeaders(b, r.Header, p.conf.VaryHeaders)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// queryPair is one query argument; flag marks "?a" without "=" (Kong's
// true).
type queryPair struct {
	name, value string
	flag        bool
}

// parseQuery reads a raw query into pairs the way kong.request.get_query
// decodes it ("a" alone is a flag, "a=" an empty string), appending to dst.
func parseQuery(dst []queryPair, raw string) []queryPair {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, hasEq := strings.Cut(part, "=")
		if strings.ContainsAny(k, "%+") {
			if dk, err := url.QueryUnescape(k); err == nil {
				k = dk
			}
		}
		if k == "" {
			continue
		}
		if hasEq && strings.ContainsAny(v, "%+") {
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
		}
		dst = append(dst, queryPair{name: k, value: v, flag: !hasEq})
	}
	return dst
}

// appendArg writes one argument of the key: "name" for a flag, else
// "name=v" with several values sorted and joined by ",". A flag repeated
// with values counts as its values.
func appendArg(b []byte, name string, pairs []queryPair) []byte {
	var one string
	n := 0
	for _, p := range pairs {
		if p.name == name && !p.flag {
			one = p.value
			n++
		}
	}
	b = append(b, name...)
	switch n {
	case 0:
		return b
	case 1:
		b = append(b, '=')
		return append(b, one...)
	}
	vals := make([]string, 0, n)
	for _, p := range pairs {
		if p.name == name && !p.flag {
			vals = append(vals, p.value)
		}
	}
	return appendValues(b, vals)
}

func appendParams(b []byte, raw string, vary []string) []byte {
	if raw == "" {
		return b
	}
	var arr [16]queryPair
	pairs := parseQuery(arr[:0], raw)
	first := true
	if len(vary) == 0 {
		// Every argument, by name.
		slices.SortStableFunc(pairs, func(a, b queryPair) int { return strings.Compare(a.name, b.name) })
		for i := range pairs {
			if i > 0 && pairs[i].name == pairs[i-1].name {
				continue
			}
			if !first {
				b = append(b, ':')
			}
			first = false
			j := i + 1
			for j < len(pairs) && pairs[j].name == pairs[i].name {
				j++
			}
			b = appendArg(b, pairs[i].name, pairs[i:j])
		}
		return b
	}
	for _, f := range vary {
		found := false
		for _, p := range pairs {
			if p.name == f {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		if !first {
			b = append(b, ':')
		}
		first = false
		b = appendArg(b, f, pairs)
	}
	return b
}

func appendHeaders(b []byte, h http.Header, fields []string) []byte {
	first := true
	for _, f := range fields {
		v := h.Values(f)
		if len(v) == 0 {
			continue
		}
		if len(v) > 1 {
			v = slices.Clone(v) // appendValues sorts
		}
		if !first {
			b = append(b, ':')
		}
		first = false
		b = append(b, f...)
		b = appendValues(b, v)
	}
	return b
}

// appendValues writes "=v" or, for several values, "=v1,v2" sorted (v is
// sorted in place when it has several values).
func appendValues(b []byte, v []string) []byte {
	b = append(b, '=')
	if len(v) == 1 {
		return append(b, v[0]...)
	}
	slices.Sort(v)
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return b
}

// directives is a parsed Cache-Control header: lower-case name to value
// ("" for a bare directive).
type directives map[string]string

// parseDirectives parses comma-separated directives (Kong's
// parse_directive_header); nil when there are none.
func parseDirectives(vals []string) directives {
	if len(vals) == 0 {
		return nil
	}
	d := directives{}
	for _, h := range vals {
		for h != "" {
			var part string
			part, h, _ = strings.Cut(h, ",")
			part = strings.TrimLeft(part, " \t")
			if part == "" {
				continue
			}
			k, v, _ := strings.Cut(part, "=")
			d[strings.ToLower(strings.TrimSpace(k))] = v
		}
	}
	return d
}

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// num returns a directive's numeric value.
func (d directives) num(name string) (int64, bool) {
	v, ok := d[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, false
	}
	return int64(n), true
}

// resourceTTL is Kong's calculate_resource_ttl: s-maxage, else max-age,
// else Expires minus now; never negative.
func resourceTTL(cc directives, h http.Header) int64 {
	ttl, ok := cc.num("s-maxage")
	if !ok {
		ttl, ok = cc.num("max-age")
	}
	if !ok {
		exp := h.Values("Expires")
		if len(exp) == 0 {
			return 0
		}
		t, err := http.ParseTime(exp[len(exp)-1])
		if err != nil {
			return 0
		}
		ttl = t.Unix() - now()
	}
	return max(ttl, 0)
}

var (
	_ plugin.Accessor       = (*Cache)(nil)
	_ plugin.HeaderFilterer = (*Cache)(nil)
	_ plugin.BodyFilterer   = (*Cache)(nil)
)
