package basicauth

import (
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong 3.9 answers every authentication failure with this message.
const msgUnauthorized = "Unauthorized"

// BasicAuth is one configured instance.
type BasicAuth struct {
	hide            bool
	anonymousName   string
	anonymous       *model.Consumer // resolved at build time
	wwwAuthenticate http.Header
	ents            plugin.Entities
	log             *slog.Logger
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	b := &BasicAuth{ents: deps.Entities, log: deps.Logger}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.hide, _ = cfg["hide_credentials"].(bool)
	realm, ok := cfg["realm"].(string)
	if !ok {
		realm = "service"
	}
	b.wwwAuthenticate = http.Header{"Www-Authenticate": {`Basic realm="` + realm + `"`}}
	if a, ok := cfg["anonymous"].(string); ok && a != "" {
		b.anonymousName = a
		if b.ents != nil {
			b.anonymous = b.ents.Consumer(a)
		}
	}
	return b, nil
}

// Access authenticates the request.
func (b *BasicAuth) Access(c *plugin.Ctx) {
	if b.anonymousName != "" && c.Authenticated() {
		// Logical OR between auth plugins: already authenticated.
		return
	}
	if b.authenticate(c) {
		return
	}
	if b.anonymousName == "" {
		c.Error(http.StatusUnauthorized, msgUnauthorized, b.wwwAuthenticate)
		return
	}
	c.FallBackToAnonymous(b.anonymousName, b.anonymous, b.log)
}

// authenticate looks for credentials in Proxy-Authorization, then in
// Authorization when the first gave no known username, as Kong does.
func (b *BasicAuth) authenticate(c *plugin.Ctx) bool {
	r := c.Request
	if len(r.Header["Authorization"]) == 0 && len(r.Header["Proxy-Authorization"]) == 0 {
		return false
	}
	var cred *model.BasicAuthCredential
	user, pass, ok := b.credentials(c, "Proxy-Authorization")
	if ok {
		cred = b.lookup(user)
	}
	if cred == nil {
		user, pass, ok = b.credentials(c, "Authorization")
		if !ok {
			return false
		}
		cred = b.lookup(user)
	}
	if cred == nil || cred.Consumer == nil {
		return false
	}
	hash := model.HashBasicAuthPassword(pass, cred.Consumer.ID)
	if subtle.ConstantTimeCompare([]byte(hash), []byte(cred.Password)) != 1 {
		return false
	}
	c.Authenticate(b.ents.Consumer(cred.Consumer.ID), cred.Username)
	return true
}

func (b *BasicAuth) lookup(user string) *model.BasicAuthCredential {
	if b.ents == nil {
		return nil
	}
	return b.ents.BasicAuthCredential(user)
}

// credentials reads one header and, with hide_credentials, removes it
// from the request sent upstream.
func (b *BasicAuth) credentials(c *plugin.Ctx, name string) (user, pass string, ok bool) {
	vals := c.Request.Header[name]
	if len(vals) > 0 {
		user, pass, ok = ParseBasic(vals[0])
	}
	if b.hide {
		c.ClearRequestHeader(name)
	}
	return user, pass, ok
}

// ParseBasic extracts the username and password of a Basic authorization
// header value the way Kong does: the first "Basic"/"basic" followed by at
// least one character, optional whitespace, then base64 (padding optional,
// anything from the first '=' ignored) of "user:password". Leading colons
// of the decoded text are skipped and the username runs to the next colon;
// the password is the rest and may be empty.
func ParseBasic(v string) (user, pass string, ok bool) {
	rest := ""
	for i := 0; i+5 < len(v); i++ {
		if (v[i] == 'B' || v[i] == 'b') && v[i+1:i+5] == "asic" {
			rest = v[i+5:]
			break
		}
	}
	if rest == "" {
		return "", "", false
	}
	// \s* is greedy but must leave one character to (.+).
	j := 0
	for j < len(rest)-1 && isSpace(rest[j]) {
		j++
	}
	enc := rest[j:]
	if k := strings.IndexByte(enc, '='); k >= 0 {
		enc = enc[:k]
	}
	dec, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	s := strings.TrimLeft(string(dec), ":")
	user, pass, found := strings.Cut(s, ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, pass, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

var _ plugin.Accessor = (*BasicAuth)(nil)
