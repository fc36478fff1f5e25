package basicauth

import (
	"crypto/subtle"
	"log/slog"
	"net/http"

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

// ParseBasic is plugin.ParseBasic, the parser of Kong's basic-auth.
var ParseBasic = plugin.ParseBasic

var _ plugin.Accessor = (*BasicAuth)(nil)
