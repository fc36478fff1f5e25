package hmacauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // hmac-sha1 is one of Kong's algorithms
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong 3.x's answers; every failure is a 401 with WWW-Authenticate.
const (
	msgUnauthorized = "Unauthorized"
	msgDate         = "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication"
	msgNotValid     = "HMAC signature cannot be verified"
	msgNotSame      = "HMAC signature does not match"
	msgUnexpected   = "An unexpected error occurred"
)

// MaxBody is the largest body validate_request_body hashes; a larger one
// fails the check, as in Kong a body nginx buffered to a file does.
const MaxBody = 8 << 20

// authRE is Kong's pattern for the credentials: unanchored, "hmac" or
// "Hmac", the four fields in this order, each quoted, greedy.
var authRE = regexp.MustCompile(`\s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"`)

// HMACAuth is one configured instance.
type HMACAuth struct {
	conf            Config
	anonymous       *model.Consumer // resolved at build time
	wwwAuthenticate http.Header
	ents            plugin.Entities
	log             *slog.Logger
	now             func() time.Time
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	h := &HMACAuth{conf: c, ents: deps.Entities, log: deps.Logger, now: time.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	www := "hmac"
	if c.Realm != nil {
		www = `hmac realm="` + *c.Realm + `"`
	}
	h.wwwAuthenticate = http.Header{"Www-Authenticate": {www}}
	if c.Anonymous != nil && *c.Anonymous != "" && h.ents != nil {
		h.anonymous = h.ents.Consumer(*c.Anonymous)
	}
	return h, nil
}

// Access authenticates the request.
func (h *HMACAuth) Access(c *plugin.Ctx) {
	anonymous := h.conf.Anonymous != nil && *h.conf.Anonymous != ""
	if anonymous && c.Authenticated() {
		return // logical OR between auth plugins: already authenticated
	}
	msg := h.authenticate(c)
	if msg == "" {
		return
	}
	if !anonymous {
		c.Error(http.StatusUnauthorized, msg, h.wwwAuthenticate)
		return
	}
	if h.anonymous == nil {
		h.log.Error("hmac-auth: anonymous consumer " + *h.conf.Anonymous + " is configured but doesn't exist")
		c.Error(http.StatusInternalServerError, msgUnexpected, nil)
		return
	}
	c.AuthenticateAnonymous(h.anonymous)
}

// params are the fields of a parsed credentials header.
type params struct {
	username, algorithm, signature string
	headers                        []string
}

// parse matches a credentials header with Kong's pattern. A value with
// exactly eight quotes, the well-formed case, is matched by parseQuoted,
// a tenth of the regexp engine's cost.
func parse(v string) (params, bool) {
	if strings.Count(v, `"`) == 8 {
		return parseQuoted(v)
	}
	return parseRE(v)
}

// reSpace is RE2's \s.
const reSpace = " \t\n\f\r"

// parseQuoted is authRE's match of a value with exactly eight quotes. All
// eight are the pattern's, so no group can hold one and the greedy groups
// end at the next quote; the match starts at the first "hmac" or "Hmac"
// from which the rest matches, as the unanchored pattern's does.
func parseQuoted(v string) (params, bool) {
	for i := 0; ; {
		k := strings.Index(v[i:], "mac")
		if k < 0 {
			return params{}, false
		}
		k += i
		i = k + 1
		if k == 0 || (v[k-1] != 'h' && v[k-1] != 'H') {
			continue
		}
		rest := strings.TrimLeft(v[k+3:], reSpace)
		var got [4]string
		ok := true
		for f, name := range [4]string{"username", "algorithm", "headers", "signature"} {
			if f > 0 {
				if !strings.HasPrefix(rest, ",") {
					ok = false
					break
				}
				rest = strings.TrimLeft(rest[1:], reSpace)
			}
			if !strings.HasPrefix(rest, name) || !strings.HasPrefix(rest[len(name):], `="`) {
				ok = false
				break
			}
			rest = rest[len(name)+2:]
			end := strings.IndexByte(rest, '"')
			if end < 1 || strings.IndexByte(rest[:end], '\n') >= 0 {
				ok = false
				break
			}
			got[f], rest = rest[:end], rest[end+1:]
		}
		if ok {
			return params{username: got[0], algorithm: got[1], headers: strings.Split(got[2], " "), signature: got[3]}, true
		}
	}
}

func parseRE(v string) (params, bool) {
	m := authRE.FindStringSubmatch(v)
	if m == nil {
		return params{}, false
	}
	return params{username: m[1], algorithm: m[2], headers: strings.Split(m[3], " "), signature: m[4]}, true
}

// authenticate returns "" when the request is authenticated, else the
// message of Kong's 401.
func (h *HMACAuth) authenticate(c *plugin.Ctx) string {
	r := c.Request
	auth, hasAuth := plugin.GetHeader(r, "authorization")
	proxyAuth, hasProxyAuth := plugin.GetHeader(r, "proxy-authorization")
	if !hasAuth && !hasProxyAuth {
		return msgUnauthorized
	}
	if !h.dateWithinSkew(r, "x-date") && !h.dateWithinSkew(r, "date") {
		return msgDate
	}
	var p params
	ok := false
	if hasProxyAuth {
		p, ok = parse(proxyAuth)
	}
	if !ok {
		if hasAuth {
			p, ok = parse(auth)
		}
		if h.conf.HideCredentials {
			c.ClearRequestHeader("Authorization")
		}
	} else if h.conf.HideCredentials {
		c.ClearRequestHeader("Proxy-Authorization")
	}
	if !ok || p.username == "" || p.signature == "" {
		return msgNotValid
	}
	for _, e := range h.conf.EnforceHeaders {
		if !slices.Contains(p.headers, e) {
			return msgNotValid
		}
	}
	if !slices.Contains(h.conf.Algorithms, p.algorithm) {
		return msgNotValid
	}
	var cred *model.HMACAuthCredential
	if h.ents != nil {
		cred = h.ents.HMACAuthCredential(p.username)
	}
	if cred == nil || cred.Consumer == nil {
		return msgNotValid
	}
	mac := sign(p.algorithm, cred.Secret, signingString(r, p.headers))
	got, err := base64.StdEncoding.DecodeString(padded(p.signature))
	if err != nil || !hmac.Equal(mac, got) {
		return msgNotSame
	}
	if h.conf.ValidateRequestBody && !validDigest(r) {
		return msgNotSame
	}
	consumer := h.ents.Consumer(cred.Consumer.ID)
	if consumer == nil {
		return msgNotValid
	}
	c.Authenticate(consumer, cred.Username)
	return ""
}

// dateWithinSkew reports whether the header holds an HTTP date within
// clock_skew seconds of now (whole seconds, as ngx.time).
func (h *HMACAuth) dateWithinSkew(r *http.Request, name string) bool {
	v, ok := plugin.GetHeader(r, name)
	if !ok {
		return false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return false
	}
	skew := math.Abs(float64(h.now().Unix() - t.Unix()))
	return skew <= h.conf.ClockSkew
}

// signingString is what the client signed: for each listed header, in
// order, "name: value" when the request has it, the request line or the
// request target for those pseudo-headers, else "name:"; joined by
// newlines.
func signingString(r *http.Request, names []string) []byte {
	var b bytes.Buffer
	for i, name := range names {
		if i > 0 {
			b.WriteByte('\n')
		}
		if v, ok := plugin.GetHeader(r, name); ok {
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(v)
			continue
		}
		switch name {
		case "@request-target":
			b.WriteString("@request-target: ")
			b.WriteString(strings.ToLower(r.Method))
			b.WriteByte(' ')
			b.WriteString(plugin.RequestURI(r))
		case "request-line":
			b.WriteString(r.Method)
			b.WriteByte(' ')
			b.WriteString(plugin.RequestURI(r))
			b.WriteString(" HTTP/")
			b.WriteString(strconv.Itoa(r.ProtoMajor))
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(r.ProtoMinor))
		default:
			b.WriteString(name)
			b.WriteByte(':')
		}
	}
	return b.Bytes()
}

func sign(algorithm, secret string, msg []byte) []byte {
	var h func() hash.Hash
	switch algorithm {
	case "hmac-sha1":
		h = sha1.New
	case "hmac-sha256":
		h = sha256.New
	case "hmac-sha384":
		h = sha512.New384
	default:
		h = sha512.New
	}
	m := hmac.New(h, []byte(secret))
	m.Write(msg)
	return m.Sum(nil)
}

// padded adds the padding ngx.decode_base64 does not require.
func padded(s string) string {
	if n := len(s) % 4; n != 0 {
		return s + strings.Repeat("=", 4-n)
	}
	return s
}

// validDigest is Kong's body check: without a Digest header the body must
// be empty; with one it must be exactly "SHA-256=" and the padded base64
// of the body's SHA-256. The body is read (up to MaxBody) and put back
// for the upstream.
func validDigest(r *http.Request) bool {
	body, complete := plugin.ReadBody(r, MaxBody)
	if !complete {
		return false
	}
	d, ok := plugin.GetHeader(r, "digest")
	if !ok {
		return len(body) == 0
	}
	sum := sha256.Sum256(body)
	return d == "SHA-256="+base64.StdEncoding.EncodeToString(sum[:])
}

var _ plugin.Accessor = (*HMACAuth)(nil)
