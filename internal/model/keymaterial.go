package model

import (
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"sort"
	"strings"
)

// This file checks the key material of the keys entity (its jwk string and
// its pem record) the way Kong 3.x does. Every message returned here is
// Kong's own text, so that clients see the same errors as with Kong.

// jwkMembers lists the members Kong's jwk record allows. The value is true
// for the two members that are arrays of strings; all others are strings.
var jwkMembers = map[string]bool{
	"issuer": false, "kty": false, "use": false, "key_ops": true, "alg": false,
	"kid": false, "x5u": false, "x5c": true, "x5t": false, "x5t#S256": false,
	"k": false, "x": false, "y": false, "crv": false, "n": false, "e": false,
	"d": false, "p": false, "q": false, "dp": false, "dq": false, "qi": false,
	"oth": false, "r": false, "t": false,
}

// checkJWK validates a keys entity's jwk (a JSON string) against its kid.
// It returns "" when valid, else Kong's message.
func checkJWK(jwk, kid string) string {
	if IsVaultReference(jwk) {
		return ""
	}
	var v any
	if json.Unmarshal([]byte(jwk), &v) != nil {
		return "could not json decode jwk string"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "could not json decode jwk string"
	}
	if s, ok := m["kid"].(string); !ok || s != kid {
		return "kid in jwk.kid must be equal to keys.kid"
	}

	// Load the key as OpenSSL's JWK loader would. b64 decodes a member as
	// unpadded base64url the way nginx does: anything from the first "=" on
	// is ignored, and line breaks are not allowed.
	b64 := func(name string) ([]byte, bool) {
		s, ok := m[name].(string)
		if !ok || strings.ContainsAny(s, "\r\n") {
			return nil, false
		}
		s, _, _ = strings.Cut(s, "=")
		b, err := base64.RawURLEncoding.DecodeString(s)
		return b, err == nil
	}
	// optional reports whether each named member is absent or decodes.
	optional := func(names ...string) bool {
		for _, name := range names {
			if _, present := m[name]; present {
				if _, ok := b64(name); !ok {
					return false
				}
			}
		}
		return true
	}
	loaded := false
	switch m["kty"] {
	case "RSA":
		// The modulus must be a plausible one: odd and at least 512 bits.
		n, ok1 := b64("n")
		e, ok2 := b64("e")
		mod := new(big.Int).SetBytes(n)
		loaded = ok1 && ok2 && mod.Bit(0) == 1 && mod.BitLen() >= 512 &&
			new(big.Int).SetBytes(e).Sign() > 0 && optional("d", "p", "q", "dp", "dq", "qi")
	case "EC":
		// The point (x, y) must lie on the named curve.
		var curve ecdh.Curve
		size := 0
		switch m["crv"] {
		case "P-256":
			curve, size = ecdh.P256(), 32
		case "P-384":
			curve, size = ecdh.P384(), 48
		case "P-521":
			curve, size = ecdh.P521(), 66
		}
		x, ok1 := b64("x")
		y, ok2 := b64("y")
		px, py := new(big.Int).SetBytes(x), new(big.Int).SetBytes(y)
		if curve != nil && ok1 && ok2 && px.BitLen() <= 8*size && py.BitLen() <= 8*size {
			point := make([]byte, 1+2*size)
			point[0] = 4 // uncompressed
			px.FillBytes(point[1 : 1+size])
			py.FillBytes(point[1+size:])
			_, err := curve.NewPublicKey(point)
			loaded = err == nil && optional("d")
		}
	case "OKP":
		// Ed25519 and X25519 keys are 32 raw bytes.
		x, ok := b64("x")
		d, okd := b64("d")
		_, hasD := m["d"]
		loaded = (m["crv"] == "Ed25519" || m["crv"] == "X25519") && ok && len(x) == 32 &&
			(!hasD || okd && len(d) == 32)
	}
	if !loaded {
		return "could not load JWK, likely not a valid key"
	}

	// Then check the members against Kong's jwk record, reporting the first
	// bad member in sorted order. JSON null counts as absent, and Kong
	// refuses empty strings.
	str := func(v any) string {
		switch s, ok := v.(string); {
		case v == nil:
			return "required field missing" // only reached for array elements
		case !ok:
			return "expected a string"
		case s == "":
			return "length must be at least 1"
		}
		return ""
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		isArray, known := jwkMembers[name]
		v, msg := m[name], ""
		switch {
		case !known:
			msg = "unknown field"
		case v == nil:
		case !isArray:
			msg = str(v)
		default:
			// An empty JSON object is an empty Lua table, which Kong takes
			// for an empty array.
			list, ok := v.([]any)
			if obj, isObj := v.(map[string]any); isObj && len(obj) == 0 {
				ok = true
			}
			if !ok {
				msg = "expected an array"
				break
			}
			// Kong nests element errors in a second "Validation error:"
			// and, as it walks them with ipairs, lists only those of the
			// leading run of bad elements.
			var lead []string
			bad, inRun := false, true
			for _, el := range list {
				e := str(el)
				bad, inRun = bad || e != "", inRun && e != ""
				if inRun {
					lead = append(lead, e)
				}
			}
			if bad {
				msg = "Validation error: " + strings.Join(lead, "; ")
			}
		}
		if msg != "" {
			return "Validation error: " + name + ": " + msg
		}
	}
	return ""
}

// checkPEM validates a keys entity's pem record (either may be "" = absent).
// It returns "" when valid, else Kong's message.
func checkPEM(privateKey, publicKey string) string {
	if IsVaultReference(privateKey) || IsVaultReference(publicKey) {
		return ""
	}
	if privateKey == "" && publicKey == "" {
		return "need to supply a PEM formatted public and/or private key."
	}
	// block returns the first PEM block of one of the given types, skipping
	// others as OpenSSL's PEM reader does.
	block := func(s string, types ...string) *pem.Block {
		rest := []byte(s)
		for {
			b, r := pem.Decode(rest)
			if b == nil || slices.Contains(types, b.Type) {
				return b
			}
			rest = r
		}
	}

	var pub crypto.PublicKey
	if publicKey != "" {
		b := block(publicKey, "PUBLIC KEY", "RSA PUBLIC KEY")
		var err error
		switch {
		case b == nil:
			return "could not load public key"
		case b.Type == "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		default:
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		}
		if err != nil {
			return "could not load public key"
		}
	}

	// Encrypted keys (PKCS#8 "ENCRYPTED PRIVATE KEY", or a legacy block with
	// a Proc-Type header) need a passphrase, so they cannot be loaded.
	var priv interface{ Public() crypto.PublicKey }
	if privateKey != "" {
		b := block(privateKey, "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY")
		if b != nil && b.Headers["Proc-Type"] == "" {
			switch b.Type {
			case "PRIVATE KEY":
				k, _ := x509.ParsePKCS8PrivateKey(b.Bytes)
				priv, _ = k.(interface{ Public() crypto.PublicKey })
			case "RSA PRIVATE KEY":
				if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
					priv = k
				}
			case "EC PRIVATE KEY":
				if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
					priv = k
				}
			}
		}
		if priv == nil {
			return "could not load private key"
		}
	}

	if pub != nil && priv != nil {
		p, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !p.Equal(pub) {
			return "public key does not match private key"
		}
	}
	return ""
}
