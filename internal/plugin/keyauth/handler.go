package keyauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong 3.9's messages (kong/plugins/key-auth/handler.lua: ERR_NO_API_KEY,
// ERR_DUPLICATE_API_KEY, ERR_INVALID_AUTH_CRED), all with status 401 and
// WWW-Authenticate.
const (
	msgNoKey     = "No API key found in request"
	msgDuplicate = "Duplicate API key found"
	msgInvalid   = "Unauthorized"
)

// maxBody is the largest body read when key_in_body is set.
const maxBody = 1 << 20

// KeyAuth is one configured instance.
type KeyAuth struct {
	names           []string // as configured
	canon           []string // canonical header keys
	hide            bool
	inHeader        bool
	inQuery         bool
	inBody          bool
	runOnPreflight  bool
	anonymousName   string
	anonymous       *model.Consumer // resolved at build time
	wwwAuthenticate http.Header
	ents            plugin.Entities
	log             *slog.Logger
	now             func() time.Time
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	k := &KeyAuth{ents: deps.Entities, log: deps.Logger, now: time.Now}
	if k.log == nil {
		k.log = slog.Default()
	}
	names, _ := cfg["key_names"].([]any)
	for _, n := range names {
		s, _ := n.(string)
		if s == "" {
			return nil, fmt.Errorf("key-auth: invalid key name %v", n)
		}
		k.names = append(k.names, s)
		k.canon = append(k.canon, http.CanonicalHeaderKey(s))
	}
	if len(k.names) == 0 {
		return nil, fmt.Errorf("key-auth: no key_names")
	}
	k.hide, _ = cfg["hide_credentials"].(bool)
	k.inHeader = boolOr(cfg["key_in_header"], true)
	k.inQuery = boolOr(cfg["key_in_query"], true)
	k.inBody, _ = cfg["key_in_body"].(bool)
	k.runOnPreflight = boolOr(cfg["run_on_preflight"], true)
	// Kong 3.7+ (kong/plugins/key-auth/handler.lua): 'Key realm="<realm>"'
	// when realm is set, else the bare scheme "Key", on every 401.
	www := "Key"
	if r, ok := cfg["realm"].(string); ok {
		www = `Key realm="` + r + `"`
	}
	k.wwwAuthenticate = http.Header{"Www-Authenticate": {www}}
	if a, ok := cfg["anonymous"].(string); ok && a != "" {
		k.anonymousName = a
		if k.ents != nil {
			k.anonymous = k.ents.Consumer(a)
		}
	}
	return k, nil
}

func boolOr(v any, def bool) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return def
}

// Access authenticates the request.
func (k *KeyAuth) Access(c *plugin.Ctx) {
	if !k.runOnPreflight && c.Request.Method == http.MethodOptions {
		return
	}
	if k.anonymousName != "" && c.Authenticated() {
		// Logical OR between auth plugins: already authenticated.
		return
	}
	status, msg := k.authenticate(c)
	if status == 0 {
		return
	}
	if k.anonymousName == "" {
		var h http.Header
		if status == http.StatusUnauthorized {
			h = k.wwwAuthenticate
		}
		c.Error(status, msg, h)
		return
	}
	c.FallBackToAnonymous(k.anonymousName, k.anonymous, k.log)
}

// authenticate returns 0 on success, else the status and message.
func (k *KeyAuth) authenticate(c *plugin.Ctx) (int, string) {
	r := c.Request
	var key string
	found := false
	var body *reqBody
	for i, name := range k.names {
		var vals []string
		if k.inHeader {
			vals = r.Header[k.canon[i]]
		}
		if len(vals) == 0 && k.inQuery && r.URL.RawQuery != "" {
			vals = c.Query()[name]
		}
		if len(vals) == 0 && k.inBody {
			if body == nil {
				body = readBody(r)
			}
			vals = body.get(name)
		}
		if len(vals) > 1 {
			return http.StatusUnauthorized, msgDuplicate
		}
		if len(vals) == 1 {
			key, found = vals[0], true
			if k.hide {
				c.ClearQueryArg(name)
				c.ClearRequestHeader(name)
				if k.inBody {
					if body == nil {
						body = readBody(r)
					}
					body.remove(r, name)
				}
			}
			break
		}
	}
	if !found || key == "" {
		return http.StatusUnauthorized, msgNoKey
	}
	var cred *model.KeyAuthCredential
	if k.ents != nil {
		cred = k.ents.KeyAuthCredential(key)
	}
	if cred == nil || k.expired(cred) {
		return http.StatusUnauthorized, msgInvalid
	}
	var consumer *model.Consumer
	if cred.Consumer != nil {
		consumer = k.ents.Consumer(cred.Consumer.ID)
	}
	c.Authenticate(consumer, cred.ID)
	return 0, ""
}

func (k *KeyAuth) expired(cred *model.KeyAuthCredential) bool {
	return cred.Expired(k.now())
}

// reqBody is a request body decoded for key lookup: form or JSON object.
type reqBody struct {
	form url.Values
	json map[string]any
	raw  []byte
}

func readBody(r *http.Request) *reqBody {
	b := &reqBody{}
	if r.Body == nil || r.Body == http.NoBody {
		return b
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil || len(raw) > maxBody {
		return b
	}
	b.raw = raw
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		b.form, _ = url.ParseQuery(string(raw))
	case "application/json":
		_ = json.Unmarshal(raw, &b.json)
	}
	return b
}

func (b *reqBody) get(name string) []string {
	if b.form != nil {
		return b.form[name]
	}
	switch v := b.json[name].(type) {
	case string:
		return []string{v}
	case []any:
		if len(v) > 1 {
			return []string{"", ""} // an array: duplicate
		}
	}
	return nil
}

func (b *reqBody) remove(r *http.Request, name string) {
	var raw []byte
	switch {
	case b.form != nil:
		if _, ok := b.form[name]; !ok {
			return
		}
		delete(b.form, name)
		raw = []byte(b.form.Encode())
	case b.json != nil:
		if _, ok := b.json[name]; !ok {
			return
		}
		delete(b.json, name)
		raw, _ = json.Marshal(b.json)
	default:
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.Header.Set("Content-Length", fmt.Sprint(len(raw)))
}

var _ plugin.Accessor = (*KeyAuth)(nil)
