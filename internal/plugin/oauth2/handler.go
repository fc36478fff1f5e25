package oauth2

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// bodyLimit is the most of a request body read for parameters: Kong's
// kong.request.get_body reads what nginx kept in memory,
// client_body_buffer_size.
func bodyLimit() int64 { return plugin.ClientBodyBufferSize() }

// OAuth2 is one configured instance.
type OAuth2 struct {
	scopes                                         []string
	mandatoryScope, hide, acceptHTTP, global       bool
	enableCode, enableImplicit, enableCC, enablePW bool
	reuseRefresh                                   bool
	provisionKey, authHeader, pkce, realm          string
	expiration, refreshTTL                         int64
	anonymousName                                  string
	anonymous                                      *model.Consumer
	pluginID                                       string
	ents                                           plugin.Entities
	log                                            *slog.Logger
	tab                                            *table
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	o := &OAuth2{ents: deps.Entities, log: deps.Logger, pluginID: deps.PluginID, tab: shared}
	if o.log == nil {
		o.log = slog.Default()
	}
	flag := func(k string) bool { b, _ := cfg[k].(bool); return b }
	str := func(k string) string { s, _ := cfg[k].(string); return s }
	num := func(k string) int64 {
		switch v := cfg[k].(type) {
		case float64:
			return int64(v)
		case int:
			return int64(v)
		case int64:
			return v
		case json.Number:
			f, _ := v.Float64()
			return int64(f)
		}
		return 0
	}
	if list, ok := cfg["scopes"].([]any); ok {
		o.scopes = []string{} // an empty list allows no scope at all
		for _, s := range list {
			if s, ok := s.(string); ok {
				o.scopes = append(o.scopes, s)
			}
		}
	}
	o.mandatoryScope, o.hide, o.acceptHTTP, o.global = flag("mandatory_scope"), flag("hide_credentials"),
		flag("accept_http_if_already_terminated"), flag("global_credentials")
	o.enableCode, o.enableImplicit = flag("enable_authorization_code"), flag("enable_implicit_grant")
	o.enableCC, o.enablePW, o.reuseRefresh = flag("enable_client_credentials"), flag("enable_password_grant"), flag("reuse_refresh_token")
	o.provisionKey, o.authHeader, o.pkce, o.realm = str("provision_key"), str("auth_header_name"), str("pkce"), str("realm")
	if o.authHeader == "" {
		o.authHeader = "authorization"
	}
	if o.pkce == "" {
		o.pkce = "lax"
	}
	o.expiration, o.refreshTTL = num("token_expiration"), num("refresh_token_ttl")
	if a := str("anonymous"); a != "" {
		o.anonymousName = a
		if o.ents != nil {
			o.anonymous = o.ents.Consumer(a)
		}
	}
	return o, nil
}

// Headers the plugin sets upstream besides the consumer's.
const (
	headerScope  = "X-Authenticated-Scope"
	headerUserID = "X-Authenticated-Userid"
)

// Access answers the plugin's endpoints and authenticates other requests.
func (o *OAuth2) Access(c *plugin.Ctx) {
	path := c.Request.URL.Path
	switch {
	case endpoint(path, "/oauth2/token"):
		if c.Request.Method != http.MethodPost {
			o.invalidMethod(c, "token")
			return
		}
		o.issueToken(c)
		return
	case endpoint(path, "/oauth2/authorize"):
		if c.Request.Method != http.MethodPost {
			o.invalidMethod(c, "authorization")
			return
		}
		o.authorize(c)
		return
	}
	if o.anonymousName != "" && c.Authenticated() {
		// Logical OR between auth plugins: another one authenticated.
		c.ClearRequestHeader(headerScope)
		c.ClearRequestHeader(headerUserID)
		return
	}
	exit, final := o.authenticate(c)
	if exit == nil {
		return
	}
	if o.anonymousName == "" || final {
		c.Terminate(exit)
		return
	}
	c.ClearRequestHeader(headerScope)
	c.ClearRequestHeader(headerUserID)
	c.FallBackToAnonymous(o.anonymousName, o.anonymous, o.log)
}

// endpoint reports whether path ends with suffix, or suffix and a slash.
func endpoint(path, suffix string) bool {
	return strings.HasSuffix(path, suffix) || strings.HasSuffix(path, suffix+"/")
}

// realmPart is ` realm="<realm>"` when the config sets one.
func (o *OAuth2) realmPart() string {
	if o.realm == "" {
		return ""
	}
	return ` realm="` + o.realm + `"`
}

func (o *OAuth2) invalidMethod(c *plugin.Ctx, name string) {
	desc := "The HTTP method " + c.Request.Method + " is invalid for the " + name + " endpoint"
	h := http.Header{"Www-Authenticate": {"Bearer" + o.realmPart() + ` error="invalid_method" error_description="` + desc + `"`}}
	c.Terminate(jsonExit(http.StatusMethodNotAllowed, map[string]any{"error": "invalid_method", "error_description": desc}, h))
}

// jsonExit is a response with a JSON body (Kong's kong.response.exit with
// a table).
func jsonExit(status int, body map[string]any, h http.Header) *plugin.Exit {
	b, _ := json.Marshal(body)
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &plugin.Exit{Status: status, Body: b, Header: h}
}

// endpointExit adds the no-cache headers of the token and authorize
// answers.
func endpointExit(status int, body map[string]any, h http.Header) *plugin.Exit {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return jsonExit(status, body, h)
}

func oauthErr(code, desc string) map[string]any {
	return map[string]any{"error": code, "error_description": desc}
}

// httpsError is "" when the request came over HTTPS, or, with
// accept_http_if_already_terminated, was forwarded from HTTPS by a trusted
// proxy (one X-Forwarded-Proto: https); else Kong's error description.
func (o *OAuth2) httpsError(c *plugin.Ctx) string {
	if c.Request.TLS != nil {
		return ""
	}
	if o.acceptHTTP && c.TrustedClient {
		vals := c.Request.Header.Values("X-Forwarded-Proto")
		switch {
		case len(vals) > 1 || len(vals) == 1 && strings.Contains(vals[0], ","):
			return "Only one X-Forwarded-Proto header allowed"
		case len(vals) == 1 && strings.EqualFold(strings.TrimSpace(vals[0]), "https"):
			return ""
		}
	}
	return "You must use HTTPS"
}

// params are the query's arguments overridden by the body's (form, JSON
// object or multipart form) for POST, PUT and PATCH.
func params(c *plugin.Ctx) map[string]any {
	out := map[string]any{}
	for k, v := range plugin.QueryTable(c.Request.URL.RawQuery) {
		out[k] = cloned(v)
	}
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		raw, complete := plugin.ReadBody(c.Request, bodyLimit())
		if !complete || len(raw) == 0 {
			break
		}
		if body, err := plugin.BodyArgs(c.Request.Header.Get("Content-Type"), raw); err == nil {
			if m, ok := body.(map[string]any); ok {
				for k, v := range m {
					out[k] = cloned(v)
				}
			}
		}
	}
	return out
}

// cloned copies a string argument out of the request's text (a form's
// values are slices of the whole body), so that a token or code keeping
// it does not keep the request.
func cloned(v any) any {
	if s, ok := v.(string); ok {
		return strings.Clone(s)
	}
	return v
}

// str returns a parameter when it is a string.
func str(p map[string]any, k string) (string, bool) {
	s, ok := p[k].(string)
	return s, ok
}

// scope checks the requested scope against the configured ones: the
// granted scope (nil for none) or an error.
func (o *OAuth2) scope(p map[string]any) (*string, map[string]any) {
	v, present := p["scope"]
	if o.scopes != nil && present {
		s, ok := v.(string)
		if !ok {
			return nil, oauthErr("invalid_scope", "scope must be a string")
		}
		items := strings.Fields(s)
		for _, it := range items {
			if !slices.Contains(o.scopes, it) {
				return nil, oauthErr("invalid_scope", `"`+it+`" is an invalid scope`)
			}
		}
		if len(items) == 0 {
			return nil, nil
		}
		joined := strings.Join(items, " ")
		return &joined, nil
	}
	if !present && o.mandatoryScope {
		return nil, oauthErr("invalid_scope", "You must specify a scope")
	}
	return nil, nil
}

// provisioned reports whether the request carries the plugin's
// provision_key.
func (o *OAuth2) provisioned(p map[string]any) bool {
	pk, _ := str(p, "provision_key")
	return pk != "" && subtle.ConstantTimeCompare([]byte(pk), []byte(o.provisionKey)) == 1
}

// client finds the oauth2 credential of a client id.
func (o *OAuth2) client(id string) *model.OAuth2Credential {
	if id == "" || o.ents == nil {
		return nil
	}
	return o.ents.OAuth2Credential(id)
}

// redirectURI is the redirect uri asked for (default: the first one the
// client registered) and whether the client registered it.
func redirectURI(p map[string]any, cl *model.OAuth2Credential) (string, bool) {
	v, present := p["redirect_uri"]
	if !present {
		return cl.RedirectURIs[0], true
	}
	ru, _ := v.(string) // an empty or non-string value matches nothing
	return ru, ru != "" && slices.Contains(cl.RedirectURIs, ru)
}

const msgBadRedirect = "Invalid redirect_uri that does not match with any redirect_uri created with the application"

// requiresPKCE: public clients unless pkce is none, confidential ones
// when it is strict.
func (o *OAuth2) requiresPKCE(cl *model.OAuth2Credential) bool {
	if cl.ClientType == "public" {
		return o.pkce != "none"
	}
	return o.pkce == "strict"
}

// serviceID is the service tokens and codes are bound to ("" with
// global_credentials).
func (o *OAuth2) serviceID(c *plugin.Ctx) string {
	if o.global || c.Service == nil {
		return ""
	}
	return c.Service.ID
}

// authorize is POST .../oauth2/authorize.
func (o *OAuth2) authorize(c *plugin.Ctx) {
	p := params(c)
	state, hasState := p["state"]
	reply := func(status int, body map[string]any) {
		if hasState {
			body["state"] = state
		}
		c.Terminate(endpointExit(status, body, nil))
	}
	if msg := o.httpsError(c); msg != "" {
		reply(http.StatusBadRequest, oauthErr("access_denied", msg))
		return
	}
	if !o.provisioned(p) {
		reply(http.StatusBadRequest, oauthErr("invalid_provision_key", "Invalid provision_key"))
		return
	}
	userID, _ := str(p, "authenticated_userid")
	if strings.TrimSpace(userID) == "" {
		reply(http.StatusBadRequest, oauthErr("invalid_authenticated_userid", "Missing authenticated_userid parameter"))
		return
	}
	var fail map[string]any
	rt, _ := str(p, "response_type")
	if !(rt == "code" && o.enableCode || rt == "token" && o.enableImplicit) {
		fail = oauthErr("unsupported_response_type", "Invalid response_type")
	}
	scope, err := o.scope(p)
	if err != nil {
		fail = err
	}
	clientID, _ := str(p, "client_id")
	cl := o.client(clientID)
	target := ""
	if cl == nil || len(cl.RedirectURIs) == 0 {
		fail = oauthErr("invalid_client", "Invalid client authentication")
	} else {
		ru, ok := redirectURI(p, cl)
		target = ru
		if !ok {
			fail = oauthErr("invalid_request", msgBadRedirect)
			target = cl.RedirectURIs[0]
		}
	}
	challenge, method, perr := o.codeChallenge(p, cl)
	if perr != nil {
		fail = perr
	}
	body, implicit := fail, false
	if fail == nil {
		if rt == "code" {
			code := &Code{Code: randomString(), Credential: cl.ID, Service: o.serviceID(c), Plugin: o.pluginID,
				UserID: &userID, Scope: scope, Challenge: challenge, ChallengeMethod: method,
				DeleteAt: now().Add(CodeTTL).Unix()}
			o.tab.codes.Put(code.Code, code)
			broadcast(event{Op: "code", Code: code})
			body = map[string]any{"code": code.Code}
		} else {
			tok := o.issue(c, cl, &userID, scope, false)
			body, implicit = tokenBody(tok), true
		}
	}
	if hasState {
		body["state"] = state
	}
	status := http.StatusOK
	if fail != nil {
		status = http.StatusBadRequest
	}
	if target != "" {
		c.Terminate(endpointExit(status, map[string]any{"redirect_uri": withParams(target, body, implicit)}, nil))
		return
	}
	c.Terminate(endpointExit(status, body, nil))
}

// codeChallenge reads PKCE's code_challenge and method at authorize.
// cl may be nil (an unknown client): only the parameters are checked then.
func (o *OAuth2) codeChallenge(p map[string]any, cl *model.OAuth2Credential) (challenge, method string, fail map[string]any) {
	chv, hasCh := p["code_challenge"]
	ch, _ := chv.(string)
	mv, hasM := p["code_challenge_method"]
	m, mIsStr := mv.(string)
	if hasM && !mIsStr {
		m = "\x00" // not a method name: refused below
	}
	if hasM && !hasCh {
		return "", "", oauthErr("invalid_request", "code_challenge is required when code_method is present")
	}
	if !hasCh {
		if cl != nil && o.requiresPKCE(cl) {
			return "", "", oauthErr("invalid_request", "code_challenge is required for "+cl.ClientType+" clients")
		}
		return "", "", nil
	}
	switch {
	case !hasM || m == "S256" || m == "s256":
		m = "S256"
	default:
		return "", "", oauthErr("invalid_request", "code_challenge_method is not supported, must be S256")
	}
	return normalizeChallenge(ch), m, nil
}

// normalizeChallenge makes the standard and URL base64 forms of a
// challenge equal: decoded (padding optional) and encoded again as
// unpadded base64url; a value that does not decode is kept as it is.
func normalizeChallenge(ch string) string {
	s := strings.NewReplacer("-", "+", "_", "/").Replace(strings.TrimRight(ch, "="))
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return ch
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// withParams adds params to uri: in its query (the existing arguments
// kept unless params names them), or, for an implicit grant's token, as
// its fragment. Keys are sorted and escaped as Kong's encode_args does.
func withParams(uri string, params map[string]any, fragment bool) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if fragment {
		u.Fragment, u.RawFragment = "", ""
		return u.String() + "#" + encodeArgs(params)
	}
	// the existing arguments as ngx.decode_args reads them: a key without
	// "=" is true (encoded back as "key=true"), the last of a repeated key
	// wins
	args := map[string]any{}
	for _, pair := range strings.Split(u.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, hasValue := strings.Cut(pair, "=")
		k = unescapeArg(k)
		if !hasValue {
			args[k] = "true"
			continue
		}
		args[k] = unescapeArg(v)
	}
	for k, v := range params {
		args[k] = v
	}
	u.RawQuery = encodeArgs(args)
	return u.String()
}

func unescapeArg(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func encodeArgs(args map[string]any) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(escape(k))
		b.WriteByte('=')
		b.WriteString(escape(argString(args[k])))
	}
	return b.String()
}

func argString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return strings.Trim(string(b), `"`)
	}
}

// escape is LuaSocket's url.escape: every byte but [A-Za-z0-9_] as %xx.
func escape(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

// clientCredentials finds the client id and secret: both parameters, or a
// Basic value in the auth header (fromHeader), or a client_id parameter
// alone (public clients).
func (o *OAuth2) clientCredentials(c *plugin.Ctx, p map[string]any) (id, secret string, fromHeader bool) {
	id, hasID := str(p, "client_id")
	secret, hasSecret := str(p, "client_secret")
	if hasID && hasSecret {
		return id, secret, false
	}
	if h, ok := o.header(c); ok {
		id, secret = parseBasicClient(h)
		return id, secret, true
	}
	if hasID {
		return id, "", false
	}
	return "", "", false
}

// parseBasicClient reads a client id and secret from a Basic value as
// Kong's oauth2 does: "Basic" (or "basic") anywhere, optional spaces, then
// base64 of "id:secret"; without a colon the whole text is the id and the
// secret is empty, and text after a second colon is dropped.
func parseBasicClient(v string) (id, secret string) {
	i := strings.Index(v, "asic")
	for i > 0 && v[i-1] != 'B' && v[i-1] != 'b' {
		j := strings.Index(v[i+4:], "asic")
		if j < 0 {
			return "", ""
		}
		i += 4 + j
	}
	if i <= 0 {
		return "", ""
	}
	enc := strings.TrimLeft(v[i+4:], " \t\r\n\f\v")
	enc = strings.TrimRight(enc, "=")
	dec, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", ""
	}
	parts := strings.SplitN(string(dec), ":", 3)
	if len(parts) == 1 {
		return parts[0], ""
	}
	return parts[0], parts[1]
}

// header is the first value of the auth_header_name header, named with
// dashes or, as sent, with underscores.
func (o *OAuth2) header(c *plugin.Ctx) (string, bool) {
	if v, ok := plugin.GetHeader(c.Request, o.authHeader); ok {
		return v, true
	}
	if vs := c.Request.Header[textproto.CanonicalMIMEHeaderKey(o.authHeader)]; len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

// clearHeader removes the auth_header_name header in both spellings.
func (o *OAuth2) clearHeader(c *plugin.Ctx) {
	c.ClearRequestHeader(strings.ReplaceAll(o.authHeader, "_", "-"))
	delete(c.Request.Header, textproto.CanonicalMIMEHeaderKey(o.authHeader))
}

func secretMatches(cl *model.OAuth2Credential, secret string) bool {
	if cl.HashSecret {
		// a hash this build cannot read (argon2, bcrypt) matches nothing
		return model.VerifyOAuth2Secret(secret, cl.ClientSecret)
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(cl.ClientSecret)) == 1
}

// issueToken is POST .../oauth2/token.
func (o *OAuth2) issueToken(c *plugin.Ctx) {
	p := params(c)
	state, hasState := p["state"]
	reply := func(status int, body map[string]any, h http.Header) {
		if hasState {
			body["state"] = state
		}
		c.Terminate(endpointExit(status, body, h))
	}
	if msg := o.httpsError(c); msg != "" {
		reply(http.StatusBadRequest, oauthErr("access_denied", msg), nil)
		return
	}
	var fail map[string]any
	unauthorized := false
	gt, _ := str(p, "grant_type")
	switch {
	case gt == "authorization_code", gt == "refresh_token":
	case gt == "client_credentials" && o.enableCC, gt == "password" && o.enablePW:
	default:
		fail = oauthErr("unsupported_grant_type", "Invalid grant_type")
	}
	clientID, secret, fromHeader := o.clientCredentials(c, p)
	cl := o.client(clientID)
	if gt != "client_credentials" {
		if cl != nil && len(cl.RedirectURIs) > 0 {
			if _, ok := redirectURI(p, cl); !ok {
				fail = oauthErr("invalid_request", msgBadRedirect)
			}
		} else {
			fail, unauthorized = oauthErr("invalid_client", "Invalid client authentication"), fromHeader
		}
	}
	if cl != nil {
		if cl.ClientType == "public" {
			if strings.TrimSpace(secret) != "" {
				fail, unauthorized = oauthErr("invalid_request", "client_secret is disallowed for public clients"), false
			}
		} else if !secretMatches(cl, secret) {
			fail, unauthorized = oauthErr("invalid_client", "Invalid client authentication"), fromHeader
		}
	}
	var body map[string]any
	if fail == nil {
		body, fail = o.grant(c, p, gt, cl)
	}
	if fail != nil {
		status, h := http.StatusBadRequest, http.Header(nil)
		if unauthorized {
			status, h = http.StatusUnauthorized, http.Header{"Www-Authenticate": {`Basic realm="OAuth2.0"`}}
		}
		reply(status, fail, h)
		return
	}
	reply(http.StatusOK, body, nil)
}

// grant runs one grant type for an authenticated client.
func (o *OAuth2) grant(c *plugin.Ctx, p map[string]any, gt string, cl *model.OAuth2Credential) (map[string]any, map[string]any) {
	switch gt {
	case "authorization_code":
		codeStr, _ := str(p, "code")
		code := o.tab.code(codeStr)
		svc := o.serviceID(c)
		if code == nil || svc != "" && code.Service != svc || code.Credential != cl.ID {
			return nil, oauthErr("invalid_request", "Invalid code")
		}
		if code.ChallengeMethod != "" || o.requiresPKCE(cl) {
			v, present := p["code_verifier"]
			verifier, isStr := v.(string)
			switch {
			case !present:
				return nil, oauthErr("invalid_request", "code_verifier is required for PKCE authorization requests")
			case !isStr:
				return nil, oauthErr("invalid_request", "code_verifier is not a string")
			case len(verifier) < 43 || len(verifier) > 128:
				return nil, oauthErr("invalid_request", "code_verifier must be between 43 and 128 characters")
			}
			sum := sha256.Sum256([]byte(verifier))
			if code.Challenge == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != code.Challenge {
				return nil, oauthErr("invalid_grant", "Invalid code")
			}
		}
		if o.global && code.Plugin != "" && code.Plugin != o.pluginID {
			return nil, oauthErr("invalid_request", "Invalid code")
		}
		if _, ok := o.tab.codes.Take(code.Code); !ok {
			return nil, oauthErr("invalid_request", "Invalid code") // used meanwhile
		}
		broadcast(event{Op: "uncode", Code: &Code{Code: code.Code}})
		return tokenBody(o.issue(c, cl, code.UserID, code.Scope, true)), nil
	case "client_credentials":
		if _, has := p["authenticated_userid"]; has {
			if !o.provisioned(p) {
				return nil, oauthErr("invalid_provision_key", "Invalid provision_key")
			}
		}
		if cl == nil {
			return nil, oauthErr("invalid_client", "Invalid client authentication")
		}
		scope, err := o.scope(p)
		if err != nil {
			return nil, err
		}
		var user *string
		if u, ok := str(p, "authenticated_userid"); ok {
			user = &u
		}
		return tokenBody(o.issue(c, cl, user, scope, false)), nil
	case "password":
		if !o.provisioned(p) {
			return nil, oauthErr("invalid_provision_key", "Invalid provision_key")
		}
		u, _ := str(p, "authenticated_userid")
		if strings.TrimSpace(u) == "" {
			return nil, oauthErr("invalid_authenticated_userid", "Missing authenticated_userid parameter")
		}
		scope, err := o.scope(p)
		if err != nil {
			return nil, err
		}
		return tokenBody(o.issue(c, cl, &u, scope, true)), nil
	case "refresh_token":
		rt, _ := str(p, "refresh_token")
		var old *Token
		if rt != "" {
			old = o.tab.refreshed(rt)
		}
		svc := o.serviceID(c)
		if old == nil || old.Service != svc && (svc != "" || !o.global) {
			return nil, oauthErr("invalid_request", "Invalid refresh_token")
		}
		if old.Credential != cl.ID {
			return nil, oauthErr("invalid_client", "Invalid client authentication")
		}
		// claim the refresh token: of concurrent refreshes, one wins
		if _, ok := o.tab.byRefresh.Take(old.Refresh); !ok {
			return nil, oauthErr("invalid_request", "Invalid refresh_token")
		}
		if o.reuseRefresh {
			tok := *old
			tok.Access, tok.ExpiresIn, tok.CreatedAt = randomString(), o.expiration, unixNow()
			tok.DeleteAt = o.deleteAt()
			o.tab.deleteToken(old)
			o.tab.putToken(&tok)
			broadcast(event{Op: "untoken", Token: &Token{Access: old.Access}})
			broadcast(event{Op: "token", Token: &tok})
			return tokenBody(&tok), nil
		}
		tok := o.issue(c, cl, old.UserID, old.Scope, true)
		o.tab.deleteToken(old)
		broadcast(event{Op: "untoken", Token: &Token{Access: old.Access, Refresh: old.Refresh}})
		return tokenBody(tok), nil
	}
	return nil, oauthErr("unsupported_grant_type", "Invalid grant_type")
}

func unixNow() float64 { return float64(now().UnixMilli()) / 1000 }

// deleteAt is when a token issued now is dropped: refresh_token_ttl
// after, when tokens expire and the TTL is set; else never.
func (o *OAuth2) deleteAt() int64 {
	if o.expiration > 0 && o.refreshTTL > 0 {
		return now().Unix() + o.refreshTTL
	}
	return 0
}

// issue makes, keeps and shares a token.
func (o *OAuth2) issue(c *plugin.Ctx, cl *model.OAuth2Credential, user, scope *string, refresh bool) *Token {
	tok := &Token{ID: model.NewUUID(), Access: randomString(), Credential: cl.ID, ClientID: cl.ClientID, Service: o.serviceID(c),
		UserID: user, Scope: scope, ExpiresIn: o.expiration, CreatedAt: unixNow(), DeleteAt: o.deleteAt()}
	if refresh && o.expiration > 0 {
		tok.Refresh = randomString()
	}
	o.tab.putToken(tok)
	broadcast(event{Op: "token", Token: tok})
	return tok
}

// tokenBody is a token as the token endpoint answers it.
func tokenBody(t *Token) map[string]any {
	b := map[string]any{"access_token": t.Access, "token_type": "bearer"}
	if t.ExpiresIn > 0 {
		b["expires_in"] = t.ExpiresIn
	}
	if t.Refresh != "" {
		b["refresh_token"] = t.Refresh
	}
	return b
}

// accessToken finds the request's token: in the auth header ("Bearer x",
// "Token x", or the whole value), else the access_token query or body
// argument. With hide_credentials it is removed from where it was found.
func (o *OAuth2) accessToken(c *plugin.Ctx) string {
	if h, ok := o.header(c); ok {
		parts := strings.Fields(h)
		if len(parts) == 2 && (strings.EqualFold(parts[0], "bearer") || strings.EqualFold(parts[0], "token")) {
			if o.hide {
				o.clearHeader(c)
			}
			return parts[1]
		}
		if o.hide {
			o.hideArgument(c)
		}
		return h
	}
	tok, _ := params(c)["access_token"].(string) // the body's wins over the query's
	if o.hide {
		o.hideArgument(c)
	}
	return tok
}

// hideArgument removes access_token from the query and from a form body.
func (o *OAuth2) hideArgument(c *plugin.Ctx) {
	c.ClearQueryArg("access_token")
	r := c.Request
	if r.Method == http.MethodGet || !strings.Contains(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return
	}
	raw, complete := plugin.ReadBody(r, bodyLimit())
	if !complete {
		return
	}
	if enc, found := withoutArg(raw, "access_token"); found {
		plugin.SetRequestBody(r, enc)
	}
}

// withoutArg returns a urlencoded body without the pairs whose decoded
// key is name (the other pairs kept byte for byte), and whether there
// were any.
func withoutArg(raw []byte, name string) ([]byte, bool) {
	out := make([]byte, 0, len(raw))
	found := false
	for _, pair := range bytes.Split(raw, []byte("&")) {
		key, _, _ := bytes.Cut(pair, []byte("="))
		k, err := url.QueryUnescape(string(key))
		if err != nil {
			k = string(key)
		}
		if k == name {
			found = true
			continue
		}
		if len(out) > 0 {
			out = append(out, '&')
		}
		out = append(out, pair...)
	}
	return out, found
}

const msgInvalidToken = "The access token is invalid or has expired"

// authenticate checks the request's token. It returns the answer to a
// failure, and final when that answer stands even with anonymous set.
func (o *OAuth2) authenticate(c *plugin.Ctx) (*plugin.Exit, bool) {
	bearer := "Bearer" + o.realmPart()
	invalid := http.Header{"Www-Authenticate": {bearer + ` error="invalid_token" error_description="` + msgInvalidToken + `"`}}
	access := o.accessToken(c)
	if access == "" {
		return jsonExit(http.StatusUnauthorized, oauthErr("invalid_request", "The access token is missing"),
			http.Header{"Www-Authenticate": {bearer}}), false
	}
	tok := o.tab.token(access)
	if tok != nil && !o.global && tok.Service == "" {
		return jsonExit(http.StatusUnauthorized, oauthErr("invalid_token",
			"The access token is global, but the current plugin is configured without 'global_credentials'"), invalid), true
	}
	svc := ""
	if c.Service != nil {
		svc = c.Service.ID
	}
	if tok != nil && tok.Service != "" && tok.Service != svc {
		tok = nil
	}
	if tok != nil && tok.ExpiresIn > 0 && unixNow()-tok.CreatedAt > float64(tok.ExpiresIn) {
		tok = nil
	}
	var cl *model.OAuth2Credential
	if tok != nil && o.ents != nil {
		cl = o.ents.OAuth2CredentialByID(tok.Credential)
	}
	if cl == nil || cl.Consumer == nil {
		return jsonExit(http.StatusUnauthorized, oauthErr("invalid_token", msgInvalidToken), invalid), false
	}
	consumer := o.ents.Consumer(cl.Consumer.ID)
	if consumer == nil {
		return jsonExit(http.StatusUnauthorized, oauthErr("invalid_token", msgInvalidToken), invalid), false
	}
	c.Authenticate(consumer, cl.ClientID)
	if tok.Scope != nil {
		c.SetRequestHeader(headerScope, *tok.Scope)
	} else {
		c.ClearRequestHeader(headerScope)
	}
	if tok.UserID != nil {
		c.SetRequestHeader(headerUserID, *tok.UserID)
	} else {
		c.ClearRequestHeader(headerUserID)
	}
	return nil, false
}

var _ plugin.Accessor = (*OAuth2)(nil)
