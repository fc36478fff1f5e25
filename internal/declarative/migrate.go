package declarative

import "strings"

// migrateRegexPath converts a route path of a 1.1/2.1 file to 3.0: a path
// made only of [a-zA-Z0-9.-_~/%] is kept; anything else is a regex and gets
// the "~" prefix, with percent-encoded triplets normalised the way Kong's
// migrate_regex_280_300 does (reserved characters stay encoded in upper
// case, regex metacharacters are decoded and escaped, the rest decoded).
func migrateRegexPath(p string) string {
	if isPlainPath(p) {
		return p
	}
	return "~" + normalizeRegexPath(p)
}

func isPlainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == '_', c == '~', c == '/', c == '%':
		default:
			return false
		}
	}
	return true
}

const (
	reservedChars  = "!#$%&'()*+,/:;=?@[]"
	regexMetaChars = ".^-{}\\|"
)

func normalizeRegexPath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			c := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case strings.IndexByte(reservedChars, c) >= 0:
				b.WriteString(strings.ToUpper(p[i : i+3]))
			case strings.IndexByte(regexMetaChars, c) >= 0:
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
			i += 2
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
