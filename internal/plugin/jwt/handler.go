package jwt

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// SharedTokenKey is the Ctx.Set key holding the accepted token (Kong's
// kong.ctx.shared.authenticated_jwt_token).
const SharedTokenKey = "authenticated_jwt_token"

var jsonHeader = []string{"application/json; charset=utf-8"}

// JWT is one configured instance.
type JWT struct {
	uriParams      []string
	cookies        []string
	headers        []string // canonical header keys
	keyClaim       string
	secretIsBase64 bool
	claims         []string // claims_to_verify, in configured order
	runOnPreflight bool
	maxExpiration  float64
	anonymousName  string
	anonymous      *model.Consumer

	// Prebuilt answers (read-only, shared by requests).
	noToken, multiple, noKeyClaim, emptyKeyClaim, noCredential,
	badAlg, badKey, badSignature *plugin.Exit
	wwwError http.Header // WWW-Authenticate with error="invalid_token"

	keys sync.Map // *model.JWTSecret -> keyEntry
	ents plugin.Entities
	log  *slog.Logger
	now  func() time.Time
}

type keyEntry struct {
	key any
	err error
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	j := &JWT{ents: deps.Entities, log: deps.Logger, now: time.Now}
	if j.log == nil {
		j.log = slog.Default()
	}
	j.uriParams = stringList(cfg["uri_param_names"])
	j.cookies = stringList(cfg["cookie_names"])
	for _, h := range stringList(cfg["header_names"]) {
		j.headers = append(j.headers, http.CanonicalHeaderKey(h))
	}
	j.keyClaim = "iss"
	if k, ok := cfg["key_claim_name"].(string); ok {
		j.keyClaim = k
	}
	j.secretIsBase64, _ = cfg["secret_is_base64"].(bool)
	j.claims = stringList(cfg["claims_to_verify"])
	for _, c := range j.claims {
		if c != "exp" && c != "nbf" {
			return nil, fmt.Errorf("jwt: cannot verify claim %q", c)
		}
	}
	j.runOnPreflight = true
	if b, ok := cfg["run_on_preflight"].(bool); ok {
		j.runOnPreflight = b
	}
	j.maxExpiration, _ = cfg["maximum_expiration"].(float64)
	if a, ok := cfg["anonymous"].(string); ok && a != "" {
		j.anonymousName = a
		if j.ents != nil {
			j.anonymous = j.ents.Consumer(a)
		}
	}
	base := "Bearer"
	if r, ok := cfg["realm"].(string); ok {
		base = `Bearer realm="` + r + `"`
	}
	wwwBase := http.Header{"Www-Authenticate": {base}, "Content-Type": jsonHeader}
	j.wwwError = http.Header{"Www-Authenticate": {base + ` error="invalid_token"`}, "Content-Type": jsonHeader}
	j.noToken = unauthorized("Unauthorized", wwwBase)
	j.multiple = j.fail("Multiple tokens provided")
	j.noKeyClaim = j.fail("No mandatory '" + j.keyClaim + "' in claims")
	j.emptyKeyClaim = j.fail("Invalid '" + j.keyClaim + "' in claims")
	j.noCredential = j.fail("No credentials found for given '" + j.keyClaim + "'")
	j.badAlg = j.fail("Invalid algorithm")
	j.badKey = j.fail("Invalid key/secret")
	j.badSignature = j.fail("Invalid signature")
	return j, nil
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func unauthorized(msg string, h http.Header) *plugin.Exit {
	return &plugin.Exit{Status: http.StatusUnauthorized, Body: plugin.JSONMessage(msg), Header: h}
}

func (j *JWT) fail(msg string) *plugin.Exit { return unauthorized(msg, j.wwwError) }

// Access authenticates the request.
func (j *JWT) Access(c *plugin.Ctx) {
	if !j.runOnPreflight && c.Request.Method == http.MethodOptions {
		return
	}
	if j.anonymousName == "" {
		if ex := j.authenticate(c); ex != nil {
			c.Terminate(ex)
		}
		return
	}
	if c.Authenticated() {
		return // logical OR between auth plugins: already authenticated
	}
	if ex := j.authenticate(c); ex == nil || ex.Status == http.StatusInternalServerError {
		if ex != nil {
			c.Terminate(ex)
		}
		return
	}
	c.FallBackToAnonymous(j.anonymousName, j.anonymous, j.log)
}

// authenticate returns nil when the request carries a valid token, else
// the answer Kong gives.
func (j *JWT) authenticate(c *plugin.Ctx) *plugin.Exit {
	tok, n := j.token(c)
	switch {
	case n == 0:
		return j.noToken
	case n > 1:
		return j.multiple
	}
	t, err := Parse(tok)
	if err != nil {
		return j.fail("Bad token; " + err.Error())
	}
	kv, ok := t.Claims[j.keyClaim]
	if !ok || kv == false {
		kv, ok = t.Header[j.keyClaim]
	}
	if !ok || kv == false {
		return j.noKeyClaim
	}
	key, isString := kv.(string)
	if isString && key == "" {
		return j.emptyKeyClaim
	}
	var secret *model.JWTSecret
	if isString && j.ents != nil {
		secret = j.ents.JWTSecret(key)
	}
	if secret == nil {
		return j.noCredential
	}
	alg := secret.Algorithm
	if alg == "" {
		alg = "HS256"
	}
	if t.Alg != alg {
		return j.badAlg
	}
	k, ok := j.key(secret, alg)
	if !ok {
		return j.badKey
	}
	if k.err != nil {
		j.log.Error("jwt secret has an unusable key", "jwt_secret_id", secret.ID, "error", k.err)
		return &plugin.Exit{Status: http.StatusInternalServerError, Message: "An unexpected error occurred"}
	}
	if !verifiers[alg](t.Signed, t.Signature, k.key) {
		return j.badSignature
	}
	if ex := j.verifyClaims(t); ex != nil {
		return ex
	}
	var consumer *model.Consumer
	if secret.Consumer != nil {
		consumer = j.ents.Consumer(secret.Consumer.ID)
	}
	if consumer == nil {
		return &plugin.Exit{Status: http.StatusUnauthorized, Header: http.Header{"Content-Type": jsonHeader},
			Body: plugin.JSONMessage("Could not find consumer for '" + j.keyClaim + "=" + key + "'")}
	}
	c.Authenticate(consumer, secret.Key)
	c.Set(SharedTokenKey, tok)
	return nil
}

// key returns the prepared key of a secret; ok is false when the secret
// has no usable material (Kong's "Invalid key/secret").
func (j *JWT) key(s *model.JWTSecret, alg string) (keyEntry, bool) {
	if v, ok := j.keys.Load(s); ok {
		e := v.(keyEntry)
		return e, e.key != nil || e.err != nil
	}
	var material []byte
	switch {
	case alg[:2] == "HS":
		material = []byte(s.Secret)
	case s.RSAPublicKey != nil:
		material = []byte(*s.RSAPublicKey)
	}
	var e keyEntry
	if material != nil && j.secretIsBase64 {
		material, _ = decodeSegment(string(material))
	}
	if material != nil {
		e.key, e.err = parseKey(alg, material)
	}
	j.keys.Store(s, e)
	return e, e.key != nil || e.err != nil
}

// verifyClaims checks claims_to_verify and maximum_expiration; the answer
// body lists the failures by claim, e.g. {"exp":"token expired"}.
func (j *JWT) verifyClaims(t *Token) *plugin.Exit {
	if len(j.claims) == 0 && j.maxExpiration <= 0 {
		return nil
	}
	now := float64(j.now().Unix())
	var errs [][2]string
	for _, name := range j.claims {
		v, ok := t.Claims[name].(float64)
		switch {
		case !ok:
			errs = append(errs, [2]string{name, "must be a number"})
		case name == "nbf" && v > now:
			errs = append(errs, [2]string{name, "token not valid yet"})
		case name == "exp" && v <= now:
			errs = append(errs, [2]string{name, "token expired"})
		}
	}
	if len(errs) == 0 && j.maxExpiration > 0 {
		exp, ok := t.Claims["exp"].(float64)
		if !ok || exp-now > j.maxExpiration {
			errs = append(errs, [2]string{"exp", "exceeds maximum allowed expiration"})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	b := []byte{'{'}
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(e[0])
		v, _ := json.Marshal(e[1])
		b = append(append(append(b, k...), ':'), v...)
	}
	b = append(b, '}')
	return &plugin.Exit{Status: http.StatusUnauthorized, Body: b, Header: j.wwwError}
}

// token collects the distinct non-empty tokens of the query arguments,
// cookies and headers (Bearer) and returns one of them and their count.
func (j *JWT) token(c *plugin.Ctx) (string, int) {
	var set [4]string
	n := 0
	add := func(t string) {
		if t == "" {
			return
		}
		for i := 0; i < n && i < len(set); i++ {
			if set[i] == t {
				return
			}
		}
		if n < len(set) {
			set[n] = t
		}
		n++
	}
	r := c.Request
	if r.URL.RawQuery != "" {
		q := c.Query()
		for _, name := range j.uriParams {
			for _, v := range q[name] {
				add(v)
			}
		}
	}
	for _, name := range j.cookies {
		if ck, err := r.Cookie(name); err == nil {
			add(ck.Value)
		}
	}
	for _, h := range j.headers {
		if vals := r.Header[h]; len(vals) > 0 {
			add(bearer(vals[0]))
		}
	}
	return set[0], n
}

// bearer finds the token of an authorization value like Kong's
// \s*[Bb]earer\s+(.+): the first "Bearer"/"bearer" followed by whitespace
// and at least one more character; "" when none.
func bearer(v string) string {
	for i := 0; i+6 < len(v); i++ {
		if (v[i] != 'B' && v[i] != 'b') || v[i+1:i+6] != "earer" {
			continue
		}
		rest := v[i+6:]
		w := 0
		for w < len(rest) && isSpace(rest[w]) {
			w++
		}
		switch {
		case w == 0:
			continue
		case w < len(rest):
			return cutLine(rest[w:])
		case w >= 2:
			return rest[w-1:] // \s+ gives one character back to (.+)
		}
	}
	return ""
}

// cutLine stops at a newline, which '.' does not match.
func cutLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

var _ plugin.Accessor = (*JWT)(nil)
