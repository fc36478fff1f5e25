package model

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validators behind Kong's typedefs (kong/db/schema/typedefs.lua). Each
// returns "" when the value is valid.

// HostAddr is a parsed "host[:port]" as Kong's normalize_ip returns it.
type HostAddr struct {
	Host string
	Type string // "ipv4", "ipv6" or "name"
	Port int    // -1 when absent
}

// ParseHostPort parses a hostname, IPv4 or IPv6 address with an optional
// port (IPv6 with a port in brackets) the way Kong's normalize_ip does. The
// error strings are Kong's ("invalid hostname: x", "invalid port number").
func ParseHostPort(address string) (HostAddr, string) {
	colons := strings.Count(address, ":")
	rest := strings.ReplaceAll(address, ":", "")
	switch {
	case colons > 1:
		return parseIPv6(address)
	case isDigitsDots(rest) && rest != "":
		return parseIPv4(address)
	}
	return parseHostname(address)
}

func isDigitsDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			return false
		}
	}
	return true
}

func parsePort(s string) (int, string) {
	if s == "" {
		return -1, "invalid port number"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1, "invalid port number"
		}
	}
	if len(s) > 5 {
		return -1, "invalid port number"
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 {
		return -1, "invalid port number"
	}
	return n, ""
}

func parseIPv4(address string) (HostAddr, string) {
	host, port := address, -1
	if i := strings.IndexByte(address, ':'); i >= 0 {
		host = address[:i]
		p, err := parsePort(address[i+1:])
		if err != "" {
			return HostAddr{}, err
		}
		port = p
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return HostAddr{}, "invalid ipv4 address: " + address
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return HostAddr{}, "invalid ipv4 address: " + address
		}
		n, _ := strconv.Atoi(p)
		if n > 255 {
			return HostAddr{}, "invalid ipv4 address: " + address
		}
	}
	return HostAddr{Host: host, Type: "ipv4", Port: port}, ""
}

func parseIPv6(address string) (HostAddr, string) {
	host, port := address, -1
	if strings.HasPrefix(address, "[") {
		end := strings.IndexByte(address, ']')
		if end < 0 {
			return HostAddr{}, "invalid ipv6 address: " + address
		}
		host = address[1:end]
		rest := address[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return HostAddr{}, "invalid ipv6 address: " + address
			}
			p, err := parsePort(rest[1:])
			if err != "" {
				return HostAddr{}, err
			}
			port = p
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is6() || ip.Zone() != "" {
		return HostAddr{}, "invalid ipv6 address: " + address
	}
	return HostAddr{Host: host, Type: "ipv6", Port: port}, ""
}

func parseHostname(address string) (HostAddr, string) {
	name, port := address, -1
	if i := strings.LastIndexByte(address, ':'); i >= 0 {
		p, err := parsePort(address[i+1:])
		if err != "" {
			return HostAddr{}, err
		}
		name, port = address[:i], p
	}
	if name == "" {
		return HostAddr{}, "invalid hostname: " + address
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return HostAddr{}, "invalid hostname: " + address
		}
	}
	for _, seg := range strings.Split(name, ".") {
		if seg == "" || strings.HasSuffix(seg, "-") {
			return HostAddr{}, "invalid hostname: " + address
		}
	}
	return HostAddr{Host: name, Type: "name", Port: port}, ""
}

func validateHost(v any) string {
	host := v.(string)
	a, err := ParseHostPort(host)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + host
	}
	if err == "invalid port number" || a.Port >= 0 {
		return "must not have a port"
	}
	return ""
}

func validateHostWithOptionalPort(host string) string {
	_, err := ParseHostPort(host)
	return err
}

func validateSNI(v any) string {
	host := v.(string)
	a, err := ParseHostPort(host)
	if err != "" && err != "invalid port number" {
		return "invalid value: " + host
	}
	if err == "" && a.Type != "name" {
		return "must not be an IP"
	}
	if err == "invalid port number" || a.Port >= 0 {
		return "must not have a port"
	}
	return ""
}

func validateWildcardHost(v any) string {
	host := v.(string)
	if idx := strings.IndexByte(host, '*'); idx >= 0 {
		if idx != 0 && idx != len(host)-1 {
			return "wildcard must be leftmost or rightmost character"
		}
		if strings.Count(host, "*") > 1 {
			return "only one wildcard must be specified"
		}
		host = strings.Replace(host, "*", "wildcard", 1)
	}
	return validateSNI(host)
}

var (
	reName     = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	reUTF8Name = regexp.MustCompile(`^(?:[A-Za-z0-9._~-]|[^\x00-\x7f])+$`)
)

func validateName(v any) string {
	name := v.(string)
	if !reName.MatchString(name) {
		return "invalid value '" + name + "': it must only contain alphanumeric and '., -, _, ~' characters"
	}
	return ""
}

func validateUTF8(s string) string {
	if utf8.ValidString(s) {
		return ""
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return "invalid utf-8 character sequence detected at position " + strconv.Itoa(i+1)
		}
		i += size
	}
	return ""
}

func validateUTF8Name(v any) string {
	name := v.(string)
	if msg := validateUTF8(name); msg != "" {
		return msg
	}
	if !reUTF8Name.MatchString(name) {
		return "invalid value '" + name + "': the only accepted ascii characters are alphanumerics or ., -, _, and ~"
	}
	return ""
}

// ValidateTag is Kong's typedefs.tag check of one tag: "" when valid,
// else Kong's message (an invalid UTF-8 position or the tag's charset).
func ValidateTag(tag string) string { return validateTag(tag) }

func validateTag(v any) string {
	tag := v.(string)
	if msg := validateUTF8(tag); msg != "" {
		return msg
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := c == ' ' || (c >= 33 && c <= 126 && c != ',' && c != '/') || (c >= 128 && c <= 244)
		if !ok {
			return "invalid tag '" + tag + "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"
		}
	}
	return ""
}

// validatePath is Kong's typedefs.path custom validator; code is "rfc3986"
// or "percent" on failure, like Kong's third return value.
func validatePath(path string) (msg, code string) {
	ok := strings.HasPrefix(path, "/")
	for i := 0; ok && i < len(path); i++ {
		c := path[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("._-~/%:@!$&'()*+,;=", c) >= 0) {
			ok = false
		}
	}
	if !ok {
		return "invalid path: '" + path + "' (characters outside of the reserved list of RFC 3986 found)", "rfc3986"
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
			i += 2
			continue
		}
		end := i + 3
		if end > len(path) {
			end = len(path)
		}
		return "invalid url-encoded value: '" + path[i:end] + "'", "percent"
	}
	return "", ""
}

func validatePathField(v any) string {
	msg, _ := validatePath(v.(string))
	return msg
}

// validateRouterPath is the custom validator of a route path.
func validateRouterPath(v any) string {
	path := v.(string)
	msg, code := validatePath(path)
	if code == "percent" {
		return msg
	}
	if !strings.HasPrefix(path, "~") {
		if n := NormalizePath(path); n != path {
			return "non-normalized path, consider use '" + n + "' instead"
		}
		return ""
	}
	expr := path[1:]
	if _, err := CompileRouteRegex(expr); err != nil {
		return "invalid regex: '" + expr + "' (PCRE returned: " + err.Error() + ")"
	}
	return ""
}

// CompileRouteRegex compiles a route's regex path (without its "~") for
// Go's regexp engine, anchored at the start as Kong's router does. PCRE
// named groups (?<name>...) and (?P<name>...) are accepted; constructs RE2
// cannot run (lookaround, backreferences) are errors.
func CompileRouteRegex(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)`)
}

func validateHostsElement(v any) string {
	host := v.(string)
	return validateHostWithOptionalPort(strings.ReplaceAll(host, "*", "abc"))
}

func validateIPOrCIDR(v any) string {
	s := v.(string)
	if net.ParseIP(s) != nil {
		return ""
	}
	if _, _, err := net.ParseCIDR(s); err == nil {
		return ""
	}
	return "invalid ip or cidr range: '" + s + "'"
}

var reHeaderName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func validateHeaderName(v any) string {
	name := v.(string)
	if !reHeaderName.MatchString(name) {
		return "bad header name '" + name + "', allowed characters are A-Z, a-z, 0-9, '_', and '-'"
	}
	return ""
}

var reCookieName = regexp.MustCompile("^[a-zA-Z0-9!#$%&'*+.^_`|~-]+$")

func validateCookieName(v any) string {
	name := v.(string)
	if !reCookieName.MatchString(name) {
		return "bad cookie name '" + name + "', allowed characters are A-Z, a-z, 0-9, '!', '#', '$', '%', '&', ''', '*', '+', '-', '.', '^', '_', '`', '|' and '~'"
	}
	return ""
}

// NormalizePath is Kong's URI normalisation of a plain route path (and of
// request paths): percent-encoded triplets are decoded except for reserved
// characters (which keep an upper-case encoding), dot segments are removed
// and consecutive slashes merged.
func NormalizePath(p string) string {
	if p == "" || p == "/" {
		return p
	}
	if strings.IndexByte(p, '%') >= 0 {
		var b strings.Builder
		b.Grow(len(p))
		for i := 0; i < len(p); i++ {
			if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
				n, _ := strconv.ParseUint(p[i+1:i+3], 16, 8)
				if isReservedByte(byte(n)) {
					b.WriteByte('%')
					b.WriteString(strings.ToUpper(p[i+1 : i+3]))
				} else {
					b.WriteByte(byte(n))
				}
				i += 2
				continue
			}
			b.WriteByte(p[i])
		}
		p = b.String()
	}
	if !strings.Contains(p, ".") && !strings.Contains(p, "//") {
		return p
	}
	// Merge slashes, then remove dot segments (RFC 3986 5.2.4).
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return removeDotSegments(p)
}

func isReservedByte(c byte) bool {
	return strings.IndexByte("!#$%&'()*+,/:;=?@[]", c) >= 0
}

func removeDotSegments(in string) string {
	var out []string
	lead := strings.HasPrefix(in, "/")
	segs := strings.Split(strings.TrimPrefix(in, "/"), "/")
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		default:
			out = append(out, s)
			trailing = false
		}
	}
	res := strings.Join(out, "/")
	if trailing && res != "" {
		res += "/"
	}
	if lead {
		res = "/" + res
	}
	return res
}
