package model

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

type testCert struct {
	certPEM, keyPEM string
	der             []byte
}

func makeCert(t *testing.T, key crypto.Signer, isCA bool, notAfter time.Time) testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "example.com"},
		NotBefore:             time.Now().Add(-2 * time.Hour),
		NotAfter:              notAfter,
		DNSNames:              []string{"example.com"},
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})),
		der:     der,
	}
}

func TestCertificates(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	year := time.Now().Add(365 * 24 * time.Hour)
	rsaCert := makeCert(t, rsaKey, false, year)
	ecCert := makeCert(t, ecKey, false, year)
	ecCert2 := makeCert(t, ecKey2, false, year)
	s := mustLookup(t, "certificates")

	run := func(name string, in map[string]any, wantFields map[string]any) {
		t.Helper()
		out, err := s.Process(in, nil)
		switch {
		case wantFields == nil && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case wantFields != nil && err == nil:
			t.Errorf("%s: accepted; want %v", name, wantFields)
		case wantFields != nil:
			jsonEqual(t, name, err.Fields, toJSON(wantFields))
		default:
			if out["cert"] != in["cert"] {
				t.Errorf("%s: cert changed", name)
			}
		}
	}
	run("rsa pair", map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM, "snis": []any{"a.com", "*.b.com"}}, nil)
	run("rsa with ecdsa alt", map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM,
		"cert_alt": ecCert.certPEM, "key_alt": ecCert.keyPEM}, nil)
	run("key mismatch", map[string]any{"cert": rsaCert.certPEM, "key": ecCert.keyPEM},
		map[string]any{"@entity": []string{"certificate does not match key"}})
	run("alt mismatch", map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM,
		"cert_alt": ecCert.certPEM, "key_alt": ecCert2.keyPEM},
		map[string]any{"@entity": []string{"alternative certificate does not match key"}})
	run("alt same type", map[string]any{"cert": ecCert.certPEM, "key": ecCert.keyPEM,
		"cert_alt": ecCert2.certPEM, "key_alt": ecCert2.keyPEM},
		map[string]any{"@entity": []string{"certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type"}})
	run("alt pair incomplete", map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM, "cert_alt": ecCert.certPEM},
		map[string]any{"@entity": []string{"all or none of these fields must be set: 'cert_alt', 'key_alt'"}})
	run("not pem", map[string]any{"cert": "hello", "key": rsaCert.keyPEM},
		map[string]any{"cert": "invalid certificate: no PEM certificate found"})
	run("key not pem", map[string]any{"cert": rsaCert.certPEM, "key": "hello"},
		map[string]any{"key": "invalid key: no PEM private key found"})
	run("bad sni", map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM, "snis": []any{"a.*.b"}},
		map[string]any{"snis": []any{"wildcard must be leftmost or rightmost character"}})

	out, perr := s.Process(map[string]any{"cert": rsaCert.certPEM, "key": rsaCert.keyPEM, "snis": []any{"a.com"}}, nil)
	if perr != nil {
		t.Fatal(perr)
	}
	var c Certificate
	if err := Decode(out, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.SNIs) != 1 || c.SNIs[0] != "a.com" || c.CertAlt != nil {
		t.Errorf("decoded certificate snis=%v cert_alt=%v", c.SNIs, c.CertAlt)
	}
}

func TestCACertificates(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := makeCert(t, key, true, time.Now().Add(24*time.Hour))
	leaf := makeCert(t, key, false, time.Now().Add(24*time.Hour))
	expired := makeCert(t, key, true, time.Now().Add(-time.Hour))
	s := mustLookup(t, "ca_certificates")

	out, perr := s.Process(map[string]any{"cert": ca.certPEM}, nil)
	if perr != nil {
		t.Fatal(perr)
	}
	sum := sha256.Sum256(ca.der)
	if want := hex.EncodeToString(sum[:]); out["cert_digest"] != want {
		t.Errorf("cert_digest = %v; want %s", out["cert_digest"], want)
	}
	for name, tc := range map[string]struct{ cert, want string }{
		"not a CA": {leaf.certPEM, `certificate does not appear to be a CA because it is missing the "CA" basic constraint`},
		"expired":  {expired.certPEM, `certificate expired, "Not After" time is in the past`},
		"two":      {ca.certPEM + ca.certPEM, "please submit only one certificate at a time"},
	} {
		_, perr := s.Process(map[string]any{"cert": tc.cert}, nil)
		if perr == nil || perr.Error() != "schema violation ("+tc.want+")" {
			t.Errorf("%s: got %v; want entity error %s", name, perr, tc.want)
		}
	}
}

func TestSNIs(t *testing.T) {
	cert := `,"certificate":{"id":"` + uuid1 + `"}`
	runSchemaCases(t, []schemaCase{
		{name: "exact", entity: "snis", in: `{"name":"a.example.com"` + cert + `}`},
		{name: "prefix wildcard", entity: "snis", in: `{"name":"*.example.com"` + cert + `}`},
		{name: "suffix wildcard", entity: "snis", in: `{"name":"example.*"` + cert + `}`},
		{name: "catch all", entity: "snis", in: `{"name":"*"` + cert + `}`},
		{name: "middle wildcard", entity: "snis", in: `{"name":"a.*.com"` + cert + `}`,
			fields: `{"name":"wildcard must be leftmost or rightmost character"}`},
		{name: "two wildcards", entity: "snis", in: `{"name":"*.a.*"` + cert + `}`,
			fields: `{"name":"only one wildcard must be specified"}`},
		{name: "ip", entity: "snis", in: `{"name":"10.0.0.1"` + cert + `}`,
			fields: `{"name":"must not be an IP"}`},
		{name: "port", entity: "snis", in: `{"name":"a.com:443"` + cert + `}`,
			fields: `{"name":"must not have a port"}`},
		{name: "certificate required", entity: "snis", in: `{"name":"a.com"}`,
			fields: `{"certificate":"required field missing"}`},
	}, nil)
	if strings.Contains(validateSNI("a.com"), "IP") {
		t.Error("hostname rejected as IP")
	}
}

func TestJWTPublicKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	out, perr := mustLookup(t, "jwt_secrets").Process(map[string]any{
		"consumer": map[string]any{"id": uuid1}, "algorithm": "RS256", "rsa_public_key": pub}, nil)
	if perr != nil {
		t.Fatalf("valid RS256 secret rejected: %v", perr)
	}
	if out["rsa_public_key"] != pub || out["algorithm"] != "RS256" {
		t.Errorf("record = %v", out)
	}
}
