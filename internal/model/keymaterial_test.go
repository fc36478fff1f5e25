package model

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
)

// kmKeys holds the keys the tests encode; they are generated once.
type kmKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	x25519    *ecdh.PrivateKey
}

var kmKeysOnce = sync.OnceValue(func() kmKeys {
	var k kmKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	if k.x25519, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

var kmB64 = base64.RawURLEncoding.EncodeToString

// kmJSON encodes a JWK built from members.
func kmJSON(t testing.TB, members map[string]any) string {
	b, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kmWith returns a copy of base with the given members set (nil deletes).
func kmWith(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// kmJWKs returns the public RSA, private RSA, EC P-256, Ed25519 and X25519
// JWKs of the test keys, all with kid "k1".
func kmJWKs(t testing.TB) (rsaPub, rsaPriv, ec, ed, x map[string]any) {
	k := kmKeysOnce()
	rsaPub = map[string]any{"kty": "RSA", "kid": "k1", "n": kmB64(k.rsa.N.Bytes()),
		"e": kmB64(big.NewInt(int64(k.rsa.E)).Bytes())}
	rsaPriv = kmWith(rsaPub, "d", kmB64(k.rsa.D.Bytes()), "p", kmB64(k.rsa.Primes[0].Bytes()),
		"q", kmB64(k.rsa.Primes[1].Bytes()), "use", "sig", "alg", "RS256", "key_ops", []any{"sign", "verify"})
	pt, err := k.ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ec = map[string]any{"kty": "EC", "kid": "k1", "crv": "P-256", "x": kmB64(pt[1:33]), "y": kmB64(pt[33:]), "d": kmB64(d)}
	ed = map[string]any{"kty": "OKP", "kid": "k1", "crv": "Ed25519",
		"x": kmB64(k.ed.Public().(ed25519.PublicKey)), "d": kmB64(k.ed.Seed())}
	x = map[string]any{"kty": "OKP", "kid": "k1", "crv": "X25519", "x": kmB64(k.x25519.PublicKey().Bytes())}
	return
}

const (
	kmJSONErr  = "could not json decode jwk string"
	kmKidErr   = "kid in jwk.kid must be equal to keys.kid"
	kmLoadErr  = "could not load JWK, likely not a valid key"
	kmNeedErr  = "need to supply a PEM formatted public and/or private key."
	kmPubErr   = "could not load public key"
	kmPrivErr  = "could not load private key"
	kmMatchErr = "public key does not match private key"
)

func TestCheckJWK(t *testing.T) {
	rsaPub, rsaPriv, ec, ed, x := kmJWKs(t)

	// An EC point off the curve: nudge y.
	y, _ := base64.RawURLEncoding.DecodeString(ec["y"].(string))
	y[len(y)-1] ^= 1
	offCurve := kmWith(ec, "y", kmB64(y))
	// A modulus that is odd but only 256 bits, one that is even, and zero.
	small := new(big.Int).Lsh(big.NewInt(1), 255)
	small.SetBit(small, 0, 1)
	even := new(big.Int).SetBit(kmKeysOnce().rsa.N, 0, 0)

	cases := []struct {
		name string
		jwk  string
		kid  string
		want string
	}{
		{"rsa public", kmJSON(t, rsaPub), "k1", ""},
		{"rsa private", kmJSON(t, rsaPriv), "k1", ""},
		{"rsa private d only", kmJSON(t, kmWith(rsaPub, "d", rsaPriv["d"])), "k1", ""},
		{"ec p-256", kmJSON(t, ec), "k1", ""},
		{"ec public", kmJSON(t, kmWith(ec, "d", nil)), "k1", ""},
		{"ed25519", kmJSON(t, ed), "k1", ""},
		{"x25519", kmJSON(t, x), "k1", ""},
		{"padded base64url", kmJSON(t, kmWith(rsaPub, "e", "AQAB=")), "k1", ""},
		{"null member", kmJSON(t, kmWith(rsaPub, "use", json.RawMessage("null"))), "k1", ""},
		{"empty key_ops object", `{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"` + ed["x"].(string) + `","key_ops":{}}`, "k1", ""},
		{"vault reference", "{vault://env/jwk}", "k1", ""},

		{"kid bare word", `{"kid":test}`, "test", kmJSONErr},
		{"not json", "nope", "k1", kmJSONErr},
		{"json array", "[]", "k1", kmJSONErr},
		{"json null", "null", "k1", kmJSONErr},
		{"json string", `"k1"`, "k1", kmJSONErr},
		{"trailing data", kmJSON(t, rsaPub) + "x", "k1", kmJSONErr},

		{"kid mismatch before load", `{"kid":"other","kty":"RSA","n":"!!","e":1}`, "k1", kmKidErr},
		{"kid missing", kmJSON(t, kmWith(rsaPub, "kid", nil)), "k1", kmKidErr},
		{"kid number", `{"kid":36}`, "36", kmKidErr},
		{"kid null", `{"kid":null}`, "k1", kmKidErr},

		{"kid only (Kong spec)", `{"kid": "36"}`, "36", kmLoadErr},
		{"kty oct", `{"kid":"k1","kty":"oct","k":"c2VjcmV0"}`, "k1", kmLoadErr},
		{"kty missing", kmJSON(t, kmWith(rsaPub, "kty", nil)), "k1", kmLoadErr},
		{"kty lower case", kmJSON(t, kmWith(rsaPub, "kty", "rsa")), "k1", kmLoadErr},
		{"rsa bad base64url", kmJSON(t, kmWith(rsaPub, "n", "a+b/")), "k1", kmLoadErr},
		{"rsa n missing", kmJSON(t, kmWith(rsaPub, "n", nil)), "k1", kmLoadErr},
		{"rsa e not a string", kmJSON(t, kmWith(rsaPub, "e", 65537)), "k1", kmLoadErr},
		{"rsa bad d", kmJSON(t, kmWith(rsaPriv, "d", "*")), "k1", kmLoadErr},
		{"rsa bad qi", kmJSON(t, kmWith(rsaPriv, "qi", "a")), "k1", kmLoadErr},
		{"rsa zero modulus", kmJSON(t, kmWith(rsaPub, "n", "AA")), "k1", kmLoadErr},
		{"rsa even modulus", kmJSON(t, kmWith(rsaPub, "n", kmB64(even.Bytes()))), "k1", kmLoadErr},
		{"rsa small modulus", kmJSON(t, kmWith(rsaPub, "n", kmB64(small.Bytes()))), "k1", kmLoadErr},
		{"ec off curve", kmJSON(t, offCurve), "k1", kmLoadErr},
		{"ec unknown curve", kmJSON(t, kmWith(ec, "crv", "P-192")), "k1", kmLoadErr},
		{"ec y missing", kmJSON(t, kmWith(ec, "y", nil)), "k1", kmLoadErr},
		{"ec bad d", kmJSON(t, kmWith(ec, "d", "%")), "k1", kmLoadErr},
		{"okp short x", kmJSON(t, kmWith(ed, "x", kmB64(make([]byte, 31)))), "k1", kmLoadErr},
		{"okp short d", kmJSON(t, kmWith(ed, "d", kmB64(make([]byte, 31)))), "k1", kmLoadErr},
		{"okp unknown curve", kmJSON(t, kmWith(ed, "crv", "Ed448")), "k1", kmLoadErr},
		{"okp x missing", kmJSON(t, kmWith(x, "x", nil)), "k1", kmLoadErr},

		{"unknown member", kmJSON(t, kmWith(rsaPub, "foo", "bar")), "k1", "Validation error: foo: unknown field"},
		{"unknown null member", kmJSON(t, kmWith(rsaPub, "foo", json.RawMessage("null"))), "k1", "Validation error: foo: unknown field"},
		{"use not a string", kmJSON(t, kmWith(rsaPub, "use", 5)), "k1", "Validation error: use: expected a string"},
		{"use empty", kmJSON(t, kmWith(rsaPub, "use", "")), "k1", "Validation error: use: length must be at least 1"},
		{"key_ops not an array", kmJSON(t, kmWith(rsaPub, "key_ops", "sign")), "k1", "Validation error: key_ops: expected an array"},
		{"x5c object", kmJSON(t, kmWith(rsaPub, "x5c", map[string]any{"a": "b"})), "k1", "Validation error: x5c: expected an array"},
		{"key_ops bad elements", kmJSON(t, kmWith(rsaPub, "key_ops", []any{1, json.RawMessage("null"), "ok", 2})), "k1",
			"Validation error: key_ops: Validation error: expected a string; required field missing"},
		{"key_ops late bad element", kmJSON(t, kmWith(rsaPub, "key_ops", []any{"sign", 1})), "k1", "Validation error: key_ops: Validation error: "},
		{"first in sorted order", kmJSON(t, kmWith(rsaPub, "foo", 1, "alg", 1, "zz", 1)), "k1", "Validation error: alg: expected a string"},
	}
	for _, c := range cases {
		if got := checkJWK(c.jwk, c.kid); got != c.want {
			t.Errorf("%s: checkJWK(%s, %q) = %q, want %q", c.name, c.jwk, c.kid, got, c.want)
		}
	}
}

// kmPEM encodes der as a PEM block of the given type.
func kmPEM(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func kmPKIX(t testing.TB, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kmPEM("PUBLIC KEY", der)
}

func kmPKCS8(t testing.TB, priv any) string {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return kmPEM("PRIVATE KEY", der)
}

func TestCheckPEM(t *testing.T) {
	k := kmKeysOnce()
	rsaPriv := kmPEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	rsaPub := kmPKIX(t, &k.rsa.PublicKey)
	ecDER, err := x509.MarshalECPrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, ecPub := kmPEM("EC PRIVATE KEY", ecDER), kmPKIX(t, &k.ec.PublicKey)
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   x509.MarshalPKCS1PrivateKey(k.rsa)}))

	cases := []struct {
		name, priv, pub, want string
	}{
		{"rsa pair", rsaPriv, rsaPub, ""},
		{"rsa pkcs8 and pkcs1 public", kmPKCS8(t, k.rsa), kmPEM("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), ""},
		{"ec pair", ecPriv, ecPub, ""},
		{"ec pkcs8 pair", kmPKCS8(t, k.ec), ecPub, ""},
		{"ed25519 pair", kmPKCS8(t, k.ed), kmPKIX(t, k.ed.Public()), ""},
		{"x25519 pair", kmPKCS8(t, k.x25519), kmPKIX(t, k.x25519.PublicKey()), ""},
		{"public only", "", rsaPub, ""},
		{"private only", ecPriv, "", ""},
		{"other blocks skipped", "junk\n" + kmPEM("CERTIFICATE", []byte("x")) + rsaPriv, rsaPub, ""},
		{"vault private", "{vault://env/priv}", "garbage", ""},
		{"vault public", "garbage", "{vault://env/pub}", ""},

		{"both empty", "", "", kmNeedErr},
		{"garbage public", rsaPriv, "garbage", kmPubErr},
		{"garbage public and private", "garbage", "garbage", kmPubErr},
		{"bad public der", "", kmPEM("PUBLIC KEY", []byte("nope")), kmPubErr},
		{"private key as public", "", rsaPriv, kmPubErr},
		{"garbage private", "garbage", rsaPub, kmPrivErr},
		{"bad private der", kmPEM("EC PRIVATE KEY", []byte("nope")), "", kmPrivErr},
		{"public key as private", rsaPub, "", kmPrivErr},
		{"legacy encrypted private", encrypted, "", kmPrivErr},
		{"pkcs8 encrypted private", kmPEM("ENCRYPTED PRIVATE KEY", []byte("opaque")) + rsaPriv, "", kmPrivErr},

		{"mismatched rsa pair", rsaPriv, kmPKIX(t, &k.rsa2.PublicKey), kmMatchErr},
		{"mismatched key types", rsaPriv, ecPub, kmMatchErr},
	}
	for _, c := range cases {
		if got := checkPEM(c.priv, c.pub); got != c.want {
			t.Errorf("%s: checkPEM = %q, want %q", c.name, got, c.want)
		}
	}
}

// kmCheckMessage fails unless msg is "" or starts with one of prefixes.
func kmCheckMessage(t *testing.T, msg string, prefixes ...string) {
	if msg == "" {
		return
	}
	for _, p := range prefixes {
		if strings.HasPrefix(msg, p) {
			return
		}
	}
	t.Fatalf("unexpected message %q", msg)
}

func FuzzCheckJWK(f *testing.F) {
	rsaPub, rsaPriv, ec, ed, x := kmJWKs(f)
	for _, m := range []map[string]any{rsaPub, rsaPriv, ec, ed, x, kmWith(ec, "foo", 1)} {
		f.Add(kmJSON(f, m), "k1")
	}
	f.Add(`{"kid": "36"}`, "36")
	f.Add(`{"kid":test}`, "test")
	f.Add(`{"kid":"k1","key_ops":["a",1,null],"x5c":{}}`, "k1")
	f.Add("{vault://env/jwk}", "")
	f.Fuzz(func(t *testing.T, jwk, kid string) {
		kmCheckMessage(t, checkJWK(jwk, kid), kmJSONErr, kmKidErr, kmLoadErr, "Validation error: ")
	})
}

func FuzzCheckPEM(f *testing.F) {
	k := kmKeysOnce()
	rsaPriv := kmPEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	f.Add(rsaPriv, kmPKIX(f, &k.rsa.PublicKey))
	f.Add(kmPKCS8(f, k.ec), kmPKIX(f, &k.ec.PublicKey))
	f.Add(kmPKCS8(f, k.ed), "")
	f.Add("", kmPKIX(f, k.x25519.PublicKey()))
	f.Add(rsaPriv, kmPKIX(f, &k.ec.PublicKey))
	f.Add("garbage", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, priv, pub string) {
		kmCheckMessage(t, checkPEM(priv, pub), kmNeedErr, kmPubErr, kmPrivErr, kmMatchErr)
	})
}
