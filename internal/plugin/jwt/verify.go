package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"hash"
	"math/big"
)

// verifier checks a signature over signed with a key prepared by
// parseKey for its algorithm family.
type verifier func(signed string, sig []byte, key any) bool

var verifiers = map[string]verifier{
	"HS256": hmacVerifier(sha256.New),
	"HS384": hmacVerifier(sha512.New384),
	"HS512": hmacVerifier(sha512.New),
	"RS256": rsaVerifier(crypto.SHA256, false),
	"RS384": rsaVerifier(crypto.SHA384, false),
	"RS512": rsaVerifier(crypto.SHA512, false),
	"PS256": rsaVerifier(crypto.SHA256, true),
	"PS384": rsaVerifier(crypto.SHA384, true),
	"PS512": rsaVerifier(crypto.SHA512, true),
	"ES256": ecdsaVerifier(crypto.SHA256, 32),
	"ES384": ecdsaVerifier(crypto.SHA384, 48),
	"ES512": ecdsaVerifier(crypto.SHA512, 66),
	"EdDSA": func(signed string, sig []byte, key any) bool {
		k, ok := key.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, []byte(signed), sig)
	},
}

func hmacVerifier(h func() hash.Hash) verifier {
	return func(signed string, sig []byte, key any) bool {
		k, ok := key.([]byte)
		if !ok {
			return false
		}
		m := hmac.New(h, k)
		m.Write([]byte(signed))
		return hmac.Equal(m.Sum(nil), sig)
	}
}

func digest(h crypto.Hash, signed string) []byte {
	d := h.New()
	d.Write([]byte(signed))
	return d.Sum(nil)
}

func rsaVerifier(h crypto.Hash, pss bool) verifier {
	return func(signed string, sig []byte, key any) bool {
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return false
		}
		if pss {
			return rsa.VerifyPSS(k, h, digest(h, signed), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, h, digest(h, signed), sig) == nil
	}
}

// ecdsaVerifier checks a JOSE signature: r and s as big-endian integers of
// size bytes each, concatenated.
func ecdsaVerifier(h crypto.Hash, size int) verifier {
	return func(signed string, sig []byte, key any) bool {
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig) != 2*size || (k.Curve.Params().BitSize+7)/8 != size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest(h, signed), r, s)
	}
}

var errKey = errors.New("invalid key")

// parseKey prepares a credential's key material for alg: the secret bytes
// for HS*, else the public key of a PEM block (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY" or a certificate).
func parseKey(alg string, material []byte) (any, error) {
	if alg[:2] == "HS" {
		return material, nil
	}
	block, _ := pem.Decode(material)
	if block == nil {
		return nil, errKey
	}
	var pub any
	var err error
	switch block.Type {
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	switch alg[:2] {
	case "RS", "PS":
		_, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errKey
		}
	case "ES":
		_, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, errKey
		}
	case "Ed":
		_, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, errKey
		}
	}
	return pub, nil
}
