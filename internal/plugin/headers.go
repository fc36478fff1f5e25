package plugin

import (
	"net/http"
	"strings"
)

// SplitHeaderPair splits a "name:value" config entry as Kong's pattern
// ^([^:]+):*(.-)$ does: the name runs to the first colon, further colons
// are skipped. ok is false for an empty entry or an empty name.
func SplitHeaderPair(s string) (name, value string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i == 0 || s == "" {
		return "", "", false
	}
	if i < 0 {
		return s, "", true
	}
	return s[:i], strings.TrimLeft(s[i:], ":"), true
}

// ValidateHeaderPair is Kong's validate_headers for "name:value" entries: a
// valid header name and, when checkValue is not nil, a value it accepts.
// It returns Kong's message, or "" when the entry is valid.
func ValidateHeaderPair(s string, checkValue func(string) bool) string {
	name, value, _ := SplitHeaderPair(s)
	if !ValidHeaderName(name) {
		return "'" + name + "' is not a valid header"
	}
	if checkValue != nil && !checkValue(value) {
		return "'" + value + "' is not a valid header"
	}
	return ""
}

// ValidHeaderName is Kong's validate_header_name: ^[a-zA-Z0-9-_]+$.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidHeaderValue is Kong's validate_header_value: no control characters
// other than tab.
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}

// AnswerHeaders copies the headers of an answer a plugin got from another
// server (a function it called) into the headers of its own response,
// leaving out the ones that described that connection and body (hop by
// hop, Content-Length, Date): the proxy sets its own.
func AnswerHeaders(src http.Header) http.Header {
	h := make(http.Header, len(src))
	for k, vs := range src {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Transfer-Encoding", "Date":
			continue
		}
		h[k] = vs
	}
	return h
}

// forwardSkipped are the request headers a plugin's own call to a
// service or an LLM does not copy from the client: hop-by-hop, the body's
// length, the encodings the client accepts (the plugin reads the answer
// itself) and Host.
var forwardSkipped = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", "Accept-Encoding", "Host"}

// CopyRequestHeaders copies the client's request headers into dst for a
// plugin's own HTTP call (ai-proxy, ai-response-transformer), leaving out
// forwardSkipped.
func CopyRequestHeaders(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, k := range forwardSkipped {
		dst.Del(k)
	}
}
