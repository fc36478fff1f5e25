package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

type ents struct {
	consumers map[string]*model.Consumer
	secrets   map[string]*model.JWTSecret
}

func (e ents) Consumer(id string) *model.Consumer                  { return e.consumers[id] }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential     { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential   { return nil }
func (e ents) JWTSecret(k string) *model.JWTSecret                 { return e.secrets[k] }
func (e ents) OAuth2Credential(string) *model.OAuth2Credential     { return nil }
func (e ents) OAuth2CredentialByID(string) *model.OAuth2Credential { return nil }
func (ents) ConsumerGroups(string) []string                        { return nil }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func segment(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

// testKeys are generated once for all tests.
var testKeys = sync.OnceValue(func() (k struct {
	rsa                                         *rsa.PrivateKey
	ec256, ec384                                *ecdsa.PrivateKey
	ec521                                       *ecdsa.PrivateKey
	ed                                          ed25519.PrivateKey
	rsaPEM, ec256PEM, ec384PEM, ec521PEM, edPEM string
}) {
	k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.ec256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.ec384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.ec521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	p := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	k.rsaPEM, k.ec256PEM, k.ec384PEM, k.ec521PEM = p(&k.rsa.PublicKey), p(&k.ec256.PublicKey), p(&k.ec384.PublicKey), p(&k.ec521.PublicKey)
	k.edPEM = p(k.ed.Public())
	return k
})

// sign builds a compact JWS with an independent implementation of each
// algorithm's signing side.
func sign(t testing.TB, alg string, header, claims map[string]any, secret string) string {
	t.Helper()
	h := map[string]any{"typ": "JWT", "alg": alg}
	for k, v := range header {
		h[k] = v
	}
	in := segment(h) + "." + segment(claims)
	k := testKeys()
	var sig []byte
	hashOf := func(hf crypto.Hash) []byte { d := hf.New(); d.Write([]byte(in)); return d.Sum(nil) }
	mac := func(f func() hash.Hash) []byte {
		m := hmac.New(f, []byte(secret))
		m.Write([]byte(in))
		return m.Sum(nil)
	}
	ec := func(key *ecdsa.PrivateKey, hf crypto.Hash, size int) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, key, hashOf(hf))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	var err error
	switch alg {
	case "HS256":
		sig = mac(sha256.New)
	case "HS384":
		sig = mac(sha512.New384)
	case "HS512":
		sig = mac(sha512.New)
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, hashOf(crypto.SHA256))
	case "RS384":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA384, hashOf(crypto.SHA384))
	case "RS512":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA512, hashOf(crypto.SHA512))
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, hashOf(crypto.SHA256), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		sig = ec(k.ec256, crypto.SHA256, 32)
	case "ES384":
		sig = ec(k.ec384, crypto.SHA384, 48)
	case "ES512":
		sig = ec(k.ec521, crypto.SHA512, 66)
	case "EdDSA":
		sig = ed25519.Sign(k.ed, []byte(in))
	default:
		sig = []byte("x")
	}
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

func TestParse(t *testing.T) {
	good := sign(t, "HS256", nil, map[string]any{"iss": "k"}, "s")
	parts := strings.Split(good, ".")
	std := strings.NewReplacer("-", "+", "_", "/")
	tests := []struct {
		tok, err string
	}{
		{good, ""},
		{std.Replace(good) + "==", ""},
		{"abc", "invalid JSON"},
		{parts[0] + "." + parts[1], "invalid JSON"},
		{"!!." + parts[1] + "." + parts[2], "invalid JSON"},
		{b64([]byte("{")) + "." + parts[1] + "." + parts[2], "invalid JSON"},
		{segment(map[string]any{"alg": "none"}) + "." + parts[1] + "." + parts[2], "invalid alg"},
		{segment(map[string]any{"alg": 5}) + "." + parts[1] + "." + parts[2], "invalid alg"},
		{segment([]any{1}) + "." + parts[1] + "." + parts[2], "invalid alg"},
		{parts[0] + "." + segment(false) + "." + parts[2], "invalid claims"},
		{parts[0] + "." + parts[1] + ".a", "invalid signature"},
	}
	for _, tt := range tests {
		tok, err := Parse(tt.tok)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("Parse(%q) error = %q; want %q", tt.tok, got, tt.err)
			continue
		}
		if err == nil && (tok.Alg != "HS256" || tok.Claims["iss"] != "k") {
			t.Errorf("Parse(%q) = alg %q claims %v; want HS256, iss k", tt.tok, tok.Alg, tok.Claims)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sign(f, "HS256", nil, map[string]any{"iss": "k", "exp": 1e10}, "s"))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("a.b.c.d")
	f.Add("..")
	f.Add("eyJhbGciOiJIUzI1NiJ9.bnVsbA.x=y")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			if tok != nil {
				t.Fatal("token with an error")
			}
			return
		}
		if tok.Header == nil || tok.Claims == nil || !strings.HasPrefix(s, tok.Signed+".") {
			t.Fatalf("Parse(%q) = %+v", s, tok)
		}
		if _, ok := verifiers[tok.Alg]; !ok {
			t.Fatalf("unsupported alg %q accepted", tok.Alg)
		}
	})
}

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":        "abc",
		"bearer  abc def":   "abc def",
		"x Bearer\tabc":     "abc",
		"Bearerabc":         "",
		"BEARER abc":        "",
		"Bearer":            "",
		"Bearer   ":         " ",
		"Basic x, Bearer y": "y",
	} {
		if got := bearer(in); got != want {
			t.Errorf("bearer(%q) = %q; want %q", in, got, want)
		}
	}
}

const now = 1_700_000_000

func testSetup(t testing.TB) ents {
	k := testKeys()
	alice := "alice"
	pemOf := func(s string) *string { return &s }
	e := ents{consumers: map[string]*model.Consumer{"c1": {ID: "c1", Username: &alice}, "anon": {ID: "c9"}},
		secrets: map[string]*model.JWTSecret{}}
	add := func(key, alg, secret string, pub *string) {
		e.secrets[key] = &model.JWTSecret{ID: "j-" + key, Consumer: &model.ForeignKey{ID: "c1"}, Key: key, Secret: secret,
			Algorithm: alg, RSAPublicKey: pub}
	}
	add("hs256", "HS256", "s3cret", nil)
	add("hs384", "HS384", "s3cret", nil)
	add("hs512", "HS512", "s3cret", nil)
	add("b64", "HS256", base64.StdEncoding.EncodeToString([]byte("raw-secret")), nil)
	add("rs256", "RS256", "", pemOf(k.rsaPEM))
	add("rs384", "RS384", "", pemOf(k.rsaPEM))
	add("rs512", "RS512", "", pemOf(k.rsaPEM))
	add("ps256", "PS256", "", pemOf(k.rsaPEM))
	add("es256", "ES256", "", pemOf(k.ec256PEM))
	add("es384", "ES384", "", pemOf(k.ec384PEM))
	add("es512", "ES512", "", pemOf(k.ec521PEM))
	add("eddsa", "EdDSA", "", pemOf(k.edPEM))
	add("nokey", "RS256", "", nil)
	add("default", "", "s3cret", nil)
	e.secrets["orphan"] = &model.JWTSecret{ID: "j-o", Consumer: &model.ForeignKey{ID: "gone"}, Key: "orphan", Secret: "s", Algorithm: "HS256"}
	return e
}

func newInstance(t testing.TB, cfg map[string]any, e plugin.Entities) *JWT {
	t.Helper()
	rec, serr := Schema.Process(cfg, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := New(rec, plugin.Deps{Entities: e})
	if err != nil {
		t.Fatal(err)
	}
	j := impl.(*JWT)
	j.now = func() time.Time { return time.Unix(now, 0) }
	return j
}

func TestAccess(t *testing.T) {
	e := testSetup(t)
	hs := func(claims map[string]any) string { return sign(t, "HS256", nil, claims, "s3cret") }
	iss := func(k string) map[string]any { return map[string]any{"iss": k} }
	const www = `Bearer error="invalid_token"`
	type tc struct {
		name   string
		cfg    map[string]any
		method string
		url    string
		hdr    map[string]string
		status int    // 0: authenticated
		body   string // exact body
		www    string
	}
	tests := []tc{
		{name: "no token", status: 401, body: `{"message":"Unauthorized"}`, www: "Bearer"},
		{name: "realm", cfg: map[string]any{"realm": "api"}, status: 401, body: `{"message":"Unauthorized"}`, www: `Bearer realm="api"`},
		{name: "query", url: "/?jwt=" + hs(iss("hs256"))},
		{name: "header", hdr: map[string]string{"Authorization": "Bearer " + hs(iss("hs256"))}},
		{name: "same token twice", url: "/?jwt=" + hs(iss("hs256")), hdr: map[string]string{"Authorization": "Bearer " + hs(iss("hs256"))}},
		{name: "two tokens", url: "/?jwt=" + hs(iss("hs256")), hdr: map[string]string{"Authorization": "Bearer " + hs(iss("hs384"))},
			status: 401, body: `{"message":"Multiple tokens provided"}`, www: www},
		{name: "cookie", cfg: map[string]any{"cookie_names": []any{"tok"}}, hdr: map[string]string{"Cookie": "a=b; tok=" + hs(iss("hs256"))}},
		{name: "bad token", url: "/?jwt=abc", status: 401, body: `{"message":"Bad token; invalid JSON"}`, www: www},
		{name: "no iss", url: "/?jwt=" + hs(map[string]any{"sub": "x"}), status: 401, body: `{"message":"No mandatory 'iss' in claims"}`, www: www},
		{name: "empty iss", url: "/?jwt=" + hs(iss("")), status: 401, body: `{"message":"Invalid 'iss' in claims"}`, www: www},
		{name: "unknown iss", url: "/?jwt=" + hs(iss("nobody")), status: 401, body: `{"message":"No credentials found for given 'iss'"}`, www: www},
		{name: "key in header", url: "/?jwt=" + sign(t, "HS256", map[string]any{"kid": "hs256"}, map[string]any{}, "s3cret"),
			cfg: map[string]any{"key_claim_name": "kid"}},
		{name: "alg mismatch", url: "/?jwt=" + hs(iss("hs384")), status: 401, body: `{"message":"Invalid algorithm"}`, www: www},
		{name: "bad signature", url: "/?jwt=" + sign(t, "HS256", nil, iss("hs256"), "wrong"), status: 401,
			body: `{"message":"Invalid signature"}`, www: www},
		{name: "no public key", url: "/?jwt=" + sign(t, "RS256", nil, iss("nokey"), ""), status: 401,
			body: `{"message":"Invalid key/secret"}`, www: www},
		{name: "default algorithm", url: "/?jwt=" + hs(iss("default"))},
		{name: "base64 secret", cfg: map[string]any{"secret_is_base64": true}, url: "/?jwt=" + sign(t, "HS256", nil, iss("b64"), "raw-secret")},
		{name: "exp ok", cfg: map[string]any{"claims_to_verify": []any{"exp"}}, url: "/?jwt=" + hs(map[string]any{"iss": "hs256", "exp": now + 10})},
		{name: "expired", cfg: map[string]any{"claims_to_verify": []any{"exp"}}, url: "/?jwt=" + hs(map[string]any{"iss": "hs256", "exp": now}),
			status: 401, body: `{"exp":"token expired"}`, www: www},
		{name: "exp and nbf", cfg: map[string]any{"claims_to_verify": []any{"exp", "nbf"}},
			url:    "/?jwt=" + hs(map[string]any{"iss": "hs256", "exp": "soon", "nbf": now + 1}),
			status: 401, body: `{"exp":"must be a number","nbf":"token not valid yet"}`, www: www},
		{name: "maximum expiration", cfg: map[string]any{"claims_to_verify": []any{"exp"}, "maximum_expiration": 60},
			url:    "/?jwt=" + hs(map[string]any{"iss": "hs256", "exp": now + 61}),
			status: 401, body: `{"exp":"exceeds maximum allowed expiration"}`, www: www},
		{name: "within maximum expiration", cfg: map[string]any{"claims_to_verify": []any{"exp"}, "maximum_expiration": 60},
			url: "/?jwt=" + hs(map[string]any{"iss": "hs256", "exp": now + 60})},
		{name: "orphan secret", url: "/?jwt=" + sign(t, "HS256", nil, iss("orphan"), "s"), status: 401,
			body: `{"message":"Could not find consumer for 'iss=orphan'"}`},
		{name: "preflight skipped", cfg: map[string]any{"run_on_preflight": false}, method: "OPTIONS", status: -1},
		{name: "preflight checked", method: "OPTIONS", status: 401, body: `{"message":"Unauthorized"}`, www: "Bearer"},
	}
	for _, alg := range []string{"HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA"} {
		key := strings.ToLower(alg)
		tests = append(tests, tc{name: alg, url: "/?jwt=" + sign(t, alg, nil, iss(key), "s3cret")})
		if alg[:2] != "HS" { // a token signed with another key of the family
			bad := sign(t, alg, nil, iss(key), "")
			p := strings.Split(bad, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(p[2])
			sig[len(sig)/2] ^= 1
			tests = append(tests, tc{name: alg + " tampered", url: "/?jwt=" + p[0] + "." + p[1] + "." + b64(sig),
				status: 401, body: `{"message":"Invalid signature"}`, www: www})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == nil {
				cfg = map[string]any{}
			}
			j := newInstance(t, cfg, e)
			method, url := tt.method, tt.url
			if method == "" {
				method = "GET"
			}
			r, _ := http.NewRequest(method, "http://x"+url, nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			c := &plugin.Ctx{Request: r}
			j.Access(c)
			ex := c.Exited()
			if tt.status > 0 {
				if ex == nil {
					t.Fatalf("authenticated; want %d %s", tt.status, tt.body)
				}
				if ex.Status != tt.status || string(ex.Body) != tt.body || ex.Header.Get("WWW-Authenticate") != tt.www {
					t.Fatalf("exit = %d %s %q; want %d %s %q", ex.Status, ex.Body, ex.Header.Get("WWW-Authenticate"), tt.status, tt.body, tt.www)
				}
				if ct := ex.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q; want application/json; charset=utf-8", ct)
				}
				return
			}
			if ex != nil {
				t.Fatalf("exit %d %s; want authenticated", ex.Status, ex.Body)
			}
			if tt.status == -1 {
				if c.Consumer != nil {
					t.Errorf("preflight authenticated %v; want skipped", c.Consumer)
				}
				return
			}
			if c.Consumer == nil || c.Consumer.ID != "c1" || r.Header.Get(plugin.HeaderCredentialIdentifier) == "" {
				t.Fatalf("consumer %v, credential header %q; want c1 and the secret key", c.Consumer, r.Header.Get(plugin.HeaderCredentialIdentifier))
			}
			if tok, _ := c.Get(SharedTokenKey); tok == nil || tok == "" {
				t.Error("authenticated_jwt_token not shared")
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	e := testSetup(t)
	for _, tt := range []struct {
		anon   string
		status int
		id     string
	}{{"anon", 0, "c9"}, {"ghost", 500, ""}} {
		j := newInstance(t, map[string]any{"anonymous": tt.anon}, e)
		r, _ := http.NewRequest("GET", "http://x/?jwt=bad", nil)
		c := &plugin.Ctx{Request: r}
		j.Access(c)
		st := 0
		if ex := c.Exited(); ex != nil {
			st = ex.Status
		}
		id := ""
		if c.Consumer != nil {
			id = c.Consumer.ID
		}
		if st != tt.status || id != tt.id || (st == 0 && r.Header.Get(plugin.HeaderAnonymousConsumer) != "true") {
			t.Errorf("anonymous %s: status %d consumer %q; want %d %q", tt.anon, st, id, tt.status, tt.id)
		}
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec["key_claim_name"] != "iss" || rec["maximum_expiration"] != float64(0) || rec["run_on_preflight"] != true {
		t.Errorf("defaults = %v", rec)
	}
	for _, bad := range []map[string]any{
		{"maximum_expiration": 60},
		{"maximum_expiration": 31536001, "claims_to_verify": []any{"exp"}},
		{"claims_to_verify": []any{"iat"}},
	} {
		if _, err := Schema.Process(bad, nil); err == nil {
			t.Errorf("Process(%v) valid; want an error", bad)
		}
	}
}

func BenchmarkAccessHS256(b *testing.B) {
	e := testSetup(b)
	j := newInstance(b, map[string]any{"claims_to_verify": []any{"exp"}}, e)
	tok := sign(b, "HS256", nil, map[string]any{"iss": "hs256", "exp": now + 100}, "s3cret")
	r, _ := http.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("Authorization", "Bearer "+tok)
		c := plugin.Ctx{Request: r}
		j.Access(&c)
		if c.Exited() != nil {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkAccessES256(b *testing.B) {
	e := testSetup(b)
	j := newInstance(b, map[string]any{}, e)
	tok := sign(b, "ES256", nil, map[string]any{"iss": "es256"}, "")
	r, _ := http.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("Authorization", "Bearer "+tok)
		c := plugin.Ctx{Request: r}
		j.Access(&c)
		if c.Exited() != nil {
			b.Fatal("rejected")
		}
	}
}
