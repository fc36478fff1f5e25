package ldapauth

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong 3.9's answers.
const (
	msgUnauthorized = "Unauthorized"
	msgUnexpected   = "An unexpected error occurred"
)

// LDAPAuth is one configured instance.
type LDAPAuth struct {
	cl              *client
	cache           *bindCache
	ttl             time.Duration // of cached answers; 0: no expiry
	noCache         bool          // cache_ttl < 0
	attribute       string
	baseDN          string
	scheme          string // header_type
	hide            bool
	anonymousName   string
	anonymous       *model.Consumer // resolved at build time
	wwwAuthenticate http.Header
	log             *slog.Logger
	now             func() time.Time
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	l := &LDAPAuth{attribute: c.Attribute, baseDN: c.BaseDN, scheme: c.HeaderType, hide: c.HideCredentials,
		log: deps.Logger, now: time.Now}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.scheme == "" {
		l.scheme = "ldap"
	}
	l.wwwAuthenticate = http.Header{"Www-Authenticate": {wwwAuthenticate(l.scheme, c.Realm)}}
	switch {
	case c.CacheTTL < 0:
		l.noCache = true
	case c.CacheTTL > 0:
		l.ttl = millis(c.CacheTTL * 1000)
	}
	if c.Anonymous != nil && *c.Anonymous != "" {
		l.anonymousName = *c.Anonymous
		if deps.Entities != nil {
			l.anonymous = deps.Entities.Consumer(l.anonymousName)
		}
	}
	l.cl = newClient(&c)
	l.cache = cacheFor(deps, fingerprint(&c))
	return l, nil
}

// wwwAuthenticate is the challenge of 401 answers: the header type
// ("ldap" is sent as "LDAP", for compatibility, as Kong does), with the
// realm when one is set.
func wwwAuthenticate(scheme string, realm *string) string {
	if scheme == "ldap" {
		scheme = "LDAP"
	}
	if realm == nil {
		return scheme
	}
	return scheme + ` realm="` + *realm + `"`
}

// newClient sets up the LDAP client of a config.
func newClient(c *Config) *client {
	cl := &client{addr: net.JoinHostPort(c.LDAPHost, strconv.Itoa(c.LDAPPort)), timeout: 60 * time.Second,
		pool: &connPool{max: maxIdle, ttl: 60 * time.Second}, binds: make(chan struct{}, MaxBinds)}
	// nginx's cosocket timeouts: 0 (or none) means its 60 s default.
	if c.Timeout != nil && *c.Timeout > 0 {
		cl.timeout = millis(*c.Timeout)
	}
	// setkeepalive: 0 keeps idle connections without a time limit; a
	// negative value (which Kong would reject at run time) keeps none.
	if k := c.Keepalive; k != nil {
		switch {
		case *k < 0:
			cl.pool.max = 0
		case *k == 0:
			cl.pool.ttl = 0
		default:
			cl.pool.ttl = millis(*k)
		}
	}
	switch {
	case c.LDAPS:
		cl.mode = modeLDAPS
	case c.StartTLS:
		cl.mode = modeStartTLS
	}
	cl.tls = &tls.Config{
		ServerName:         c.LDAPHost,
		InsecureSkipVerify: !c.VerifyLDAPHost, // Kong verifies only with verify_ldap_host
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(8),
	}
	return cl
}

// millis converts milliseconds to a duration, capped at a day.
func millis(ms float64) time.Duration {
	return time.Duration(math.Min(ms, 24*3600*1000) * float64(time.Millisecond))
}

// fingerprint names the settings a cached answer depends on.
func fingerprint(c *Config) string {
	return strings.Join([]string{strings.ToLower(c.LDAPHost), strconv.Itoa(c.LDAPPort),
		strconv.FormatBool(c.LDAPS), strconv.FormatBool(c.StartTLS), strconv.FormatBool(c.VerifyLDAPHost),
		c.BaseDN, c.Attribute, strconv.FormatFloat(c.CacheTTL, 'g', -1, 64)}, "\x00")
}

// verdict is the result of checking a request's credentials.
type verdict int

const (
	denied verdict = iota
	accepted
	failed // the LDAP server could not be asked: 500
)

// Access authenticates the request.
func (l *LDAPAuth) Access(c *plugin.Ctx) {
	if l.anonymousName != "" && c.Authenticated() {
		// Logical OR between auth plugins: already authenticated.
		return
	}
	switch l.authenticate(c) {
	case accepted:
		return
	case failed:
		c.Error(http.StatusInternalServerError, msgUnexpected, nil)
		return
	}
	if l.anonymousName == "" {
		c.Error(http.StatusUnauthorized, msgUnauthorized, l.wwwAuthenticate)
		return
	}
	c.FallBackToAnonymous(l.anonymousName, l.anonymous, l.log)
}

// authenticate checks Proxy-Authorization, then Authorization when the
// first did not authenticate. On success the request continues with no
// consumer and the username as credential (X-Credential-Identifier).
func (l *LDAPAuth) authenticate(c *plugin.Ctx) verdict {
	h := c.Request.Header
	proxyAuth, auth := h["Proxy-Authorization"], h["Authorization"]
	if len(proxyAuth) == 0 && len(auth) == 0 {
		return denied
	}
	var buf [256]byte
	user, v := "", denied
	if len(proxyAuth) > 0 {
		user, v = l.check(buf[:0], proxyAuth[0])
	}
	if v == denied && len(auth) > 0 {
		user, v = l.check(buf[:0], auth[0])
	}
	if v != accepted {
		return v
	}
	if l.hide {
		c.ClearRequestHeader("Authorization")
		c.ClearRequestHeader("Proxy-Authorization")
	}
	c.Authenticate(nil, user)
	return accepted
}

// check verifies one header value: from the cache, else with a bind.
func (l *LDAPAuth) check(buf []byte, value string) (string, verdict) {
	cred, colon, ok := parseCredentials(buf, value, l.scheme)
	if !ok {
		return "", denied
	}
	key := cacheKey(sha256.Sum256(cred))
	if !l.noCache {
		if good, found := l.cache.lookup(key, l.now()); found {
			cacheHits.Inc()
			if good {
				return string(cred[:colon]), accepted
			}
			return "", denied
		}
		cacheMisses.Inc()
	}
	user, password := string(cred[:colon]), string(cred[colon+1:])
	res, _ := l.cache.do(key, func() bindResult { return l.bind(key, user, password) })
	switch res.out {
	case bindSucceeded:
		return user, accepted
	case bindFailed:
		return "", failed
	}
	return "", denied
}

// bind asks the LDAP server, logs and counts the answer and caches it
// when it is a definite yes or no.
func (l *LDAPAuth) bind(key cacheKey, user, password string) bindResult {
	dn := l.attribute + "=" + escapeDNValue(user) + "," + l.baseDN
	out, err := l.cl.bind(dn, password)
	bindsBy[out].Inc()
	switch out {
	case bindSucceeded, bindRejected:
		if !l.noCache && (out == bindSucceeded || definiteRefusal(err)) {
			l.cache.remember(key, out == bindSucceeded, l.ttl, l.now())
		}
		if err != nil {
			l.log.Info("ldap-auth: bind refused", "dn", dn, "error", err)
		}
	case bindBroken:
		l.log.Error("ldap-auth: bind failed", "dn", dn, "error", err)
	case bindFailed:
		l.log.Error("ldap-auth: LDAP server unavailable", "dn", dn, "error", err)
	}
	return bindResult{out: out, err: err}
}

// Close closes the idle LDAP connections.
func (l *LDAPAuth) Close() { l.cl.pool.close() }

var (
	_ plugin.Accessor = (*LDAPAuth)(nil)
	_ plugin.Closer   = (*LDAPAuth)(nil)
)

// definiteRefusal reports whether a rejected bind said the credentials are
// wrong or refused for good (invalidCredentials 49,
// inappropriateAuthentication 48, noSuchObject 32, invalidDNSyntax 34,
// unwillingToPerform 53, a disabled or locked account): only those are
// cached. Others
// (busy 51, unavailable 52, operationsError 1, ...) are the directory's
// trouble, and the next request asks again.
func definiteRefusal(err error) bool {
	var re *resultError
	if !errors.As(err, &re) {
		return false
	}
	switch re.code {
	case 32, 34, 48, 49, 53:
		return true
	}
	return false
}
