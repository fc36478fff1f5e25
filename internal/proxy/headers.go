package proxy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Header names Kong sets.
const (
	hdrVia             = "Via"
	hdrServer          = "Server"
	hdrProxyLatency    = "X-Kong-Proxy-Latency"
	hdrUpstreamLatency = "X-Kong-Upstream-Latency"
	hdrResponseLatency = "X-Kong-Response-Latency"
	hdrUpstreamStatus  = "X-Kong-Upstream-Status"
	hdrRequestID       = "X-Kong-Request-Id"
)

// enabledHeaders is the parsed `headers` setting.
type enabledHeaders struct {
	via, server, proxyLatency, upstreamLatency, responseLatency, upstreamStatus, requestID bool
}

// defaultHeaders is Kong 3.5+'s default: server_tokens, latency_tokens,
// x-kong-request-id.
var defaultHeaders = []string{"server_tokens", "latency_tokens", "x-kong-request-id"}

// parseHeaders reads the kong.conf `headers` token list. nil means the
// default; "off" disables everything.
func parseHeaders(tokens []string) (enabledHeaders, error) {
	if tokens == nil {
		tokens = defaultHeaders
	}
	var e enabledHeaders
	for _, t := range tokens {
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "off":
			if len(tokens) > 1 {
				return e, fmt.Errorf("headers: 'off' cannot be used with other values")
			}
			return enabledHeaders{}, nil
		case "server_tokens":
			e.server, e.via = true, true
		case "latency_tokens":
			e.proxyLatency, e.upstreamLatency, e.responseLatency = true, true, true
		case "server":
			e.server = true
		case "via":
			e.via = true
		case "x-kong-proxy-latency":
			e.proxyLatency = true
		case "x-kong-upstream-latency":
			e.upstreamLatency = true
		case "x-kong-response-latency":
			e.responseLatency = true
		case "x-kong-upstream-status":
			e.upstreamStatus = true
		case "x-kong-request-id":
			e.requestID = true
		case "x-kong-admin-latency", "advanced_latency_tokens", "x-kong-total-latency",
			"x-kong-third-party-latency", "x-kong-client-latency", "":
			// Admin API or not produced by the proxy.
		default:
			return e, fmt.Errorf("headers: invalid entry %q", t)
		}
	}
	return e, nil
}

// parseHeadersUpstream reads `headers_upstream`; nil means the default
// (x-kong-request-id). It reports whether X-Kong-Request-Id is sent upstream.
func parseHeadersUpstream(tokens []string) (bool, error) {
	if tokens == nil {
		return true, nil
	}
	on := false
	for _, t := range tokens {
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "x-kong-request-id":
			on = true
		case "off", "":
		default:
			return false, fmt.Errorf("headers_upstream: invalid entry %q", t)
		}
	}
	return on, nil
}

// trustedSet holds the trusted_ips CIDRs.
type trustedSet struct {
	prefixes []netip.Prefix
	all      bool
}

func parseTrusted(list []string) (trustedSet, error) {
	var t trustedSet
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "unix:" {
			continue // unix sockets: not used by the proxy listeners
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return t, fmt.Errorf("trusted_ips: invalid CIDR %q: %w", s, err)
			}
			p = p.Masked()
			if p.Bits() == 0 {
				t.all = t.all || p.Addr().Is4() // 0.0.0.0/0 and ::/0 together trust everyone
			}
			t.prefixes = append(t.prefixes, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return t, fmt.Errorf("trusted_ips: invalid address %q: %w", s, err)
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

func (t *trustedSet) contains(a netip.Addr) bool {
	if len(t.prefixes) == 0 || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// realIP applies nginx's realip module (set_real_ip_from = trusted_ips,
// real_ip_header, real_ip_recursive) to the connecting peer. It returns the
// client address as a string ("" when it equals peer).
func (t *trustedSet) realIP(peer netip.Addr, header string, recursive bool) string {
	if header == "" || !t.contains(peer) {
		return ""
	}
	if !recursive {
		// The last address in the header.
		v := header
		if i := strings.LastIndexByte(v, ','); i >= 0 {
			v = v[i+1:]
		}
		v = strings.TrimSpace(v)
		if a, err := netip.ParseAddr(v); err == nil {
			return a.String()
		}
		return ""
	}
	// Recursive: walk from the right, skipping trusted addresses.
	v := header
	last := ""
	for len(v) > 0 {
		var item string
		if i := strings.LastIndexByte(v, ','); i >= 0 {
			item, v = v[i+1:], v[:i]
		} else {
			item, v = v, ""
		}
		a, err := netip.ParseAddr(strings.TrimSpace(item))
		if err != nil {
			break
		}
		last = a.String()
		if !t.contains(a) {
			return last
		}
	}
	return last
}

// escapePath is Kong's uri.escape: bytes outside
// !#$&'()*+,/:;=?@[]A-Za-z0-9-_.~% are percent-encoded (upper-case hex).
func escapePath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if !pathSafe(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if pathSafe(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func pathSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '&', '\'', '(', ')', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']', '-', '_', '.', '~', '%':
		return true
	}
	return false
}

// protoVersion renders the request's HTTP version the way Kong's Via
// header does (ngx.req.http_version as a Lua number): "1", "1.1", "2", "3".
func protoVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 1:
		return "1.1"
	case major == 1 && minor == 0:
		return "1"
	case major == 2:
		return "2"
	case major == 3:
		return "3"
	}
	return fmt.Sprintf("%d.%d", major, minor)
}

// hostOnly is nginx's $host: the Host header without port, lower-cased.
func hostOnly(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
