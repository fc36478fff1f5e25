package ldapauth

import (
	"encoding/base64"
	"strings"
)

// parseCredentials reads an authorization header value the way Kong 3.9's
// ldap-auth does: optional leading whitespace, the scheme (header_type,
// compared case-insensitively), at least one whitespace, then the base64
// of "username:password". The base64 may lack its padding and is read up
// to the first '='. The decoded text is split at its first colon; the
// password must not be empty and neither part may hold a newline (one
// final newline is dropped, as PCRE's "$" allows).
//
// The decoded "username:password" is written to dst (grown when too
// small) and returned with the colon's position. Unlike Kong, an empty
// username is refused here (its bind DN "attr=,base" cannot succeed).
func parseCredentials(dst []byte, value, scheme string) (cred []byte, colon int, ok bool) {
	i := 0
	for i < len(value) && isSpace(value[i]) {
		i++
	}
	if len(value)-i < len(scheme) || !equalFoldASCII(value[i:i+len(scheme)], scheme) {
		return nil, 0, false
	}
	i += len(scheme)
	j := i
	for j < len(value) && isSpace(value[j]) {
		j++
	}
	if j == i {
		return nil, 0, false // the scheme must be followed by whitespace
	}
	enc := value[j:]
	if k := strings.IndexByte(enc, '='); k >= 0 {
		enc = enc[:k]
	}
	if strings.ContainsAny(enc, "\r\n") { // Go's decoder skips them, nginx's does not
		return nil, 0, false
	}
	n := base64.RawStdEncoding.DecodedLen(len(enc))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	n, err := base64.RawStdEncoding.Decode(dst, []byte(enc))
	if err != nil {
		return nil, 0, false
	}
	cred = dst[:n]
	if l := len(cred); l > 0 && cred[l-1] == '\n' {
		cred = cred[:l-1]
	}
	colon = -1
	for k, c := range cred {
		if c == '\n' {
			return nil, 0, false
		}
		if c == ':' && colon < 0 {
			colon = k
		}
	}
	if colon <= 0 || colon == len(cred)-1 {
		return nil, 0, false
	}
	return cred, colon, true
}

// isSpace is PCRE's \s: space, \t, \n, \v, \f and \r.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// equalFoldASCII compares ASCII case-insensitively (Lua's string.lower
// folds ASCII letters only).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// escapeDNValue escapes a username for use as an attribute value in a DN
// (RFC 4514 section 2.4), so that it cannot add RDNs of its own: Kong
// inserts it as is.
func escapeDNValue(s string) string {
	needs := false
	for i := 0; i < len(s); i++ {
		if dnSpecial(s, i) {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
		case dnSpecial(s, i):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// dnSpecial reports whether s[i] must be escaped in a DN attribute value.
func dnSpecial(s string, i int) bool {
	switch c := s[i]; c {
	case '"', '+', ',', ';', '<', '>', '\\', 0:
		return true
	case ' ':
		return i == 0 || i == len(s)-1
	case '#':
		return i == 0
	}
	return false
}
