package router

import "strings"

// reservedByte reports whether c is one of the RFC 3986 reserved characters
// (plus '%') whose percent-encoded form Kong keeps encoded when it
// normalises a request path: !*'();:@&=+$,/?%#[]
func reservedByte(c byte) bool {
	switch c {
	case '!', '*', '\'', '(', ')', ';', ':', '@', '&', '=', '+', '$', ',', '/', '?', '%', '#', '[', ']':
		return true
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// NormalizePath applies Kong's request path normalisation (kong/tools/uri.lua
// normalize with merge_slashes): every percent-encoded triplet is decoded
// unless it encodes a reserved character, in which case its hex digits are
// upper-cased; dot segments are removed; runs of slashes are merged. raw must
// not carry the query string. The result always starts with "/". When raw is
// already normal it is returned as is, without allocating.
func NormalizePath(raw string) string {
	if raw == "" || raw == "/" {
		return "/"
	}
	if raw[0] != '/' {
		raw = "/" + raw
	}
	s := raw
	if strings.IndexByte(s, '%') >= 0 {
		s = decodeTriplets(s)
	}
	if strings.IndexByte(s, '.') < 0 && !strings.Contains(s, "//") {
		return s
	}
	return removeDotSegments(s)
}

// decodeTriplets decodes percent-encoded non-reserved bytes and upper-cases
// the hex digits of the reserved ones. Incomplete or non-hex triplets are
// left untouched.
func decodeTriplets(s string) string {
	changed := false
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			continue
		}
		if !reservedByte(h<<4|l) || s[i+1] != upperHex(s[i+1]) || s[i+2] != upperHex(s[i+2]) {
			changed = true
			break
		}
		i += 2
	}
	if !changed {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				v := h<<4 | l
				if reservedByte(v) {
					b.WriteByte('%')
					b.WriteByte(upperHex(s[i+1]))
					b.WriteByte(upperHex(s[i+2]))
				} else {
					b.WriteByte(v)
				}
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// removeDotSegments follows the segment loop of Kong's normalize: segments
// carry their leading slash, "/./" and "/../" are consumed (the latter
// dropping the previous output segment), "//" is merged.
func removeDotSegments(uri string) string {
	var stack [32]string
	out := stack[:0]
	for len(uri) > 0 {
		switch {
		case uri == "/.":
			uri = "/"
		case uri == "/..":
			uri = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case uri == "." || uri == "..":
			uri = ""
		case strings.HasPrefix(uri, "../"):
			uri = uri[3:]
		case strings.HasPrefix(uri, "./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/./"):
			uri = uri[2:]
		case strings.HasPrefix(uri, "/../"):
			uri = uri[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case strings.HasPrefix(uri, "//"):
			uri = uri[1:]
		default:
			i := strings.IndexByte(uri[1:], '/')
			if i >= 0 {
				out = append(out, uri[:i+1])
				uri = uri[i+1:]
			} else {
				out = append(out, uri)
				uri = ""
			}
		}
	}
	switch len(out) {
	case 0:
		return "/"
	case 1:
		if out[0] == "" || out[0][0] != '/' {
			return "/" + out[0]
		}
		return out[0]
	}
	n := 0
	for _, seg := range out {
		n += len(seg)
	}
	var b strings.Builder
	b.Grow(n + 1)
	if out[0][0] != '/' {
		b.WriteByte('/')
	}
	for _, seg := range out {
		b.WriteString(seg)
	}
	return b.String()
}

// escapeKeep reports whether Kong's uri escape leaves c as is when it
// forwards a path upstream.
func escapeKeep(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '&', '\'', '(', ')', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']', '-', '_', '.', '~', '%':
		return true
	}
	return false
}

// EscapePath percent-encodes the bytes of a normalised path that are not
// safe to send upstream (Kong's kong/tools/uri.lua escape, applied to the
// upstream URI): everything except RFC 3986 reserved and unreserved
// characters and '%'. It returns p itself when nothing needs escaping.
func EscapePath(p string) string {
	i := 0
	for i < len(p) && escapeKeep(p[i]) {
		i++
	}
	if i == len(p) {
		return p
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p) + 8)
	b.WriteString(p[:i])
	for ; i < len(p); i++ {
		c := p[i]
		if escapeKeep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
