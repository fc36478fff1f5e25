package model

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"
)

// parseCertPEM returns the certificates of a PEM chain.
func parseCertPEM(s string) ([]*x509.Certificate, string) {
	rest := []byte(s)
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err.Error()
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, "no PEM certificate found"
	}
	return certs, ""
}

// parseKeyPEM parses a PEM private key (PKCS#1, PKCS#8 or SEC 1).
func parseKeyPEM(s string) (crypto.Signer, string) {
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, "no PEM private key found"
		}
		if !strings.Contains(b.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return k, ""
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return k, ""
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, err.Error()
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, "unsupported private key type"
		}
		return signer, ""
	}
}

func validateCertificate(v any) string {
	if _, err := parseCertPEM(v.(string)); err != "" {
		return "invalid certificate: " + err
	}
	return ""
}

func validateKey(v any) string {
	if _, err := parseKeyPEM(v.(string)); err != "" {
		return "invalid key: " + err
	}
	return ""
}

type publicKeyEqualer interface {
	Equal(crypto.PublicKey) bool
}

func checkCertKey(certField, keyField, msg string) func(map[string]any) ([]string, map[string]any) {
	return func(rec map[string]any) ([]string, map[string]any) {
		c, ok1 := rec[certField].(string)
		k, ok2 := rec[keyField].(string)
		if !ok1 || !ok2 || IsVaultReference(c) || IsVaultReference(k) {
			return nil, nil
		}
		certs, err := parseCertPEM(c)
		if err != "" {
			return nil, nil
		}
		key, err := parseKeyPEM(k)
		if err != "" {
			return nil, nil
		}
		pub, ok := key.Public().(publicKeyEqualer)
		if !ok || !pub.Equal(certs[0].PublicKey) {
			return []string{msg}, nil
		}
		return nil, nil
	}
}

func keyType(c *x509.Certificate) string {
	switch c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case *ecdsa.PublicKey:
		return "ecdsa"
	case ed25519.PublicKey:
		return "ed25519"
	}
	return "other"
}

func checkAltType(rec map[string]any) ([]string, map[string]any) {
	c, ok1 := rec["cert"].(string)
	a, ok2 := rec["cert_alt"].(string)
	if !ok1 || !ok2 || IsVaultReference(c) || IsVaultReference(a) {
		return nil, nil
	}
	cc, e1 := parseCertPEM(c)
	ac, e2 := parseCertPEM(a)
	if e1 != "" || e2 != "" {
		return nil, nil
	}
	if keyType(cc[0]) == keyType(ac[0]) {
		return []string{"certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type"}, nil
	}
	return nil, nil
}

// now is replaced by tests.
var now = time.Now

func checkCACert(rec map[string]any) ([]string, map[string]any) {
	c, ok := rec["cert"].(string)
	if !ok {
		return nil, nil
	}
	certs, err := parseCertPEM(c)
	if err != "" {
		return nil, nil
	}
	if len(certs) > 1 {
		return []string{"please submit only one certificate at a time"}, nil
	}
	cert := certs[0]
	if now().After(cert.NotAfter) {
		return []string{`certificate expired, "Not After" time is in the past`}, nil
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return []string{`certificate does not appear to be a CA because it is missing the "CA" basic constraint`}, nil
	}
	sum := sha256.Sum256(cert.Raw)
	rec["cert_digest"] = hex.EncodeToString(sum[:])
	return nil, nil
}

// validateJWTPublicKey accepts a PEM public key (PKIX or PKCS#1) or a
// certificate, as Kong's jwt_secrets check on rsa_public_key.
func validateJWTPublicKey(v any) string {
	k, _ := v.(string)
	b, _ := pem.Decode([]byte(k))
	if b == nil {
		return "invalid key"
	}
	if _, err := x509.ParsePKIXPublicKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParsePKCS1PublicKey(b.Bytes); err == nil {
		return ""
	}
	if _, err := x509.ParseCertificate(b.Bytes); err == nil {
		return ""
	}
	return "invalid key"
}

// NewUUID returns a random UUID v4 in its dashed form (an entity id).
func NewUUID() string {
	h := RandomKey()
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// RandomKey returns 32 random hex characters, Kong's generated credential
// key (a UUID v4 without dashes).
func RandomKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("model: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// HashBasicAuthPassword is the stored form of a basic-auth password: the
// hex SHA-1 of the password followed by the consumer id, as Kong's
// basic-auth crypto does.
func HashBasicAuthPassword(password, consumerID string) string {
	sum := sha1.Sum([]byte(password + consumerID))
	return hex.EncodeToString(sum[:])
}
