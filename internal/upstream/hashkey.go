package upstream

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// hashValue returns the string to hash for r, following Kong's
// get_value_to_hash: hash_on, then hash_fallback when the primary input is
// missing, else "" (every such request lands on the same point). For cookie
// hashing without the cookie a new value is generated and returned as
// newCookie; a value generated on an earlier try of the same request (found
// in tried) is reused so retries hash identically.
func hashValue(c *config, r *http.Request, pc *PickContext, tried []*Peer) (key, newCookie string) {
	if c.hashOn.kind == "none" {
		return "", ""
	}
	if v, ok := inputValue(&c.hashOn, r, pc); ok {
		return v, ""
	}
	if c.hashOn.kind == "cookie" {
		for _, t := range tried {
			if t != nil && t.SetCookie != nil && t.SetCookie.Name == c.hashOn.name {
				return t.SetCookie.Value, t.SetCookie.Value
			}
		}
		id := newUUID()
		return id, id
	}
	if c.hashFall.kind != "none" {
		if v, ok := inputValue(&c.hashFall, r, pc); ok {
			return v, ""
		}
	}
	return "", ""
}

// inputValue reads one hash input. ok is false when the input is absent (an
// empty but present value counts as present, as in Kong).
func inputValue(in *hashInput, r *http.Request, pc *PickContext) (string, bool) {
	switch in.kind {
	case "consumer":
		if pc == nil {
			return "", false
		}
		if pc.ConsumerID != "" {
			return pc.ConsumerID, true
		}
		if pc.CredentialID != "" {
			return pc.CredentialID, true
		}
	case "ip":
		if pc != nil && pc.ClientIP != "" {
			return pc.ClientIP, true
		}
		if r != nil && r.RemoteAddr != "" {
			if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				return h, true
			}
			return r.RemoteAddr, true
		}
	case "header":
		if r == nil {
			return "", false
		}
		vals := r.Header[canonicalHeader(in.name)]
		switch len(vals) {
		case 0:
		case 1:
			return vals[0], true
		default:
			return strings.Join(vals, ", "), true
		}
	case "cookie":
		if r != nil {
			return cookieValue(r.Header["Cookie"], in.name)
		}
	case "path":
		if r != nil && r.URL != nil {
			if r.URL.Path == "" {
				return "/", true
			}
			return r.URL.Path, true
		}
	case "query_arg":
		if r != nil && r.URL != nil {
			return queryArg(r.URL.RawQuery, in.name)
		}
	case "uri_capture":
		if pc != nil && pc.Captures != nil {
			v, ok := pc.Captures[in.name]
			return v, ok
		}
	}
	return "", false
}

// canonicalHeader avoids the allocation of CanonicalMIMEHeaderKey when name
// is already canonical.
func canonicalHeader(name string) string {
	if isCanonical(name) {
		return name
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

func isCanonical(s string) bool {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && c >= 'a' && c <= 'z' || !upper && c >= 'A' && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// cookieValue finds cookie name in Cookie header lines without allocating.
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// queryArg returns query argument name the way Kong reads it: an argument
// without "=" is "true"; repeated arguments are sorted and joined with ",".
func queryArg(raw, name string) (string, bool) {
	var first string
	var more []string
	found := false
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, hasEq := strings.Cut(part, "=")
		if k != name {
			if strings.IndexByte(k, '%') < 0 && strings.IndexByte(k, '+') < 0 {
				continue
			}
			uk, err := url.QueryUnescape(k)
			if err != nil || uk != name {
				continue
			}
		}
		val := "true"
		if hasEq {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				uv = v
			}
			val = uv
		}
		if !found {
			first, found = val, true
		} else {
			if more == nil {
				more = []string{first}
			}
			more = append(more, val)
		}
	}
	if more != nil {
		slices.Sort(more)
		return strings.Join(more, ","), true
	}
	return first, found
}

// newUUID returns a random (version 4) UUID, the value Kong generates for a
// missing hash cookie. (github.com/google/uuid would pull database/sql/driver
// into the snapshot's dependencies.)
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
