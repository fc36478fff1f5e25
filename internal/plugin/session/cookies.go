package session

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// expireFlags end a Set-Cookie that removes a cookie (the library's
// COOKIE_EXPIRE_FLAGS).
const expireFlags = "; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"

// cookieValue returns the value of the first cookie called name in the
// request's Cookie headers (nginx's $cookie_<name>: names compare without
// case).
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if len(part) > len(name) && part[len(name)] == '=' && strings.EqualFold(part[:len(name)], name) {
				return strings.TrimRight(part[len(name)+1:], " \t"), true
			}
		}
	}
	return "", false
}

// attributes returns the attributes of the plugin's cookies, as the
// library writes them: Domain (unless empty or localhost), Path, SameSite,
// Secure (always with SameSite=None), HttpOnly.
func attributes(domain, path, sameSite string, secure, httpOnly bool) string {
	var b strings.Builder
	if domain != "" && domain != "localhost" {
		b.WriteString("; Domain=")
		b.WriteString(domain)
	}
	b.WriteString("; Path=")
	b.WriteString(path)
	b.WriteString("; SameSite=")
	b.WriteString(sameSite)
	if secure || sameSite == "None" {
		b.WriteString("; Secure")
	}
	if httpOnly {
		b.WriteString("; HttpOnly")
	}
	return b.String()
}

// persistentFlags are the attributes a persistent cookie adds: it expires
// maxAge seconds after its creation.
func persistentFlags(created int64, maxAge int64) string {
	return "; Expires=" + time.Unix(created+maxAge, 0).UTC().Format(http.TimeFormat) +
		"; Max-Age=" + strconv.FormatInt(maxAge, 10)
}

// mergeSetCookie adds a Set-Cookie to h, replacing one for the same cookie
// name (the library's merge_cookies).
// The list is copied first: it may be shared (a proxy-cache hit's headers
// are the stored entry's).
func mergeSetCookie(h http.Header, name, cookie string) {
	vs := append([]string(nil), h["Set-Cookie"]...)
	for i, v := range vs {
		if len(v) > len(name) && v[len(name)] == '=' && v[:len(name)] == name {
			vs[i] = cookie
			h["Set-Cookie"] = vs
			return
		}
	}
	h["Set-Cookie"] = append(vs, cookie)
}

// encodeSID is the session id as Session-Id shows it.
func encodeSID(sid [sidSize]byte) string {
	return base64.RawURLEncoding.EncodeToString(sid[:])
}

// open returns the request's valid session; remembered is true when it
// comes from the persistent cookie (remember), read when the session
// cookie is missing or invalid. A session of another audience is no
// session, and the persistent cookie is then not read.
func (s *Session) open(h http.Header, now int64) (d *data, remembered bool) {
	if raw, ok := cookieValue(h, s.cookieName); ok {
		if d, ok := s.sealer.open(kindSession, raw); ok && s.session.valid(d, kindSession, now) {
			if d.audience != s.audience {
				return nil, false
			}
			return d, false
		}
	}
	if !s.remember {
		return nil, false
	}
	if raw, ok := cookieValue(h, s.rememberName); ok {
		if d, ok := s.sealer.open(kindRemember, raw); ok && s.persistent.valid(d, kindRemember, now) && d.audience == s.audience {
			return d, true
		}
	}
	return nil, false
}

// issue seals d into a cookie of kind k and adds it to rs; renew gives
// the session a new id (every save but a touch). A session too large for a
// cookie is not issued.
func (s *Session) issue(rs *reqState, k kind, d *data, renew bool) {
	if renew {
		_, _ = rand.Read(d.sid[:]) // never fails: crypto/rand panics instead
	}
	v, err := s.sealer.seal(k, d)
	name := s.cookieName
	if k == kindRemember {
		name = s.rememberName
	}
	if err == nil && len(name)+1+len(v) > maxCookieSize {
		err = errTooLarge
	}
	if err != nil {
		s.log.Warn("session: cannot save the session", "error", err, "consumer", d.consumerID)
		return
	}
	cookie := name + "=" + v + s.attrs
	if k == kindRemember {
		cookie += persistentFlags(d.created, s.rememberTTL)
	}
	rs.add(name, cookie)
}

// add keeps cookie for the response, replacing an earlier one of the same
// name.
func (rs *reqState) add(name, cookie string) {
	for i, n := range rs.names {
		if n == name {
			rs.cookies[i] = cookie
			return
		}
	}
	rs.names = append(rs.names, name)
	rs.cookies = append(rs.cookies, cookie)
}

// cookieNames are the cookies a logout removes.
func (s *Session) cookieNames() []string {
	if s.remember {
		return []string{s.cookieName, s.rememberName}
	}
	return []string{s.cookieName}
}
