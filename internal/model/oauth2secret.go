package model

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
)

// OAuth2 client secrets stored with hash_secret are PHC strings of
// PBKDF2 as Kong's oauth2 plugin writes them (kong/plugins/oauth2/
// secret.lua, the one algorithm it enables):
// $pbkdf2-sha512$i=10000,l=32$<salt>$<hash>, salt 16 random bytes, both
// in unpadded standard base64.
const (
	oauth2SecretIter    = 10000
	oauth2SecretHashLen = 32
	oauth2SecretSaltLen = 16
)

// HashOAuth2Secret returns the PHC string of secret with a fresh salt.
func HashOAuth2Secret(secret string) string {
	salt := make([]byte, oauth2SecretSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("model: crypto/rand failed: " + err.Error())
	}
	sum, err := pbkdf2.Key(sha512.New, secret, salt, oauth2SecretIter, oauth2SecretHashLen)
	if err != nil {
		panic("model: pbkdf2: " + err.Error())
	}
	return "$pbkdf2-sha512$i=" + strconv.Itoa(oauth2SecretIter) + ",l=" + strconv.Itoa(oauth2SecretHashLen) +
		"$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(sum)
}

// IsOAuth2SecretHash reports whether s is a hash VerifyOAuth2Secret reads.
func IsOAuth2SecretHash(s string) bool { return strings.HasPrefix(s, "$pbkdf2") }

// Bounds of what a stored hash may ask for (Kong writes 10 000 iterations,
// 16 bytes of salt, 32 of hash): a corrupt or hostile one must not cost a
// token request seconds of CPU.
const (
	maxOAuth2SecretIter = 200000
	maxOAuth2SecretLen  = 64
)

// VerifyOAuth2Secret reports whether secret matches the PHC string phc
// (PBKDF2 with SHA-1, SHA-256, SHA-384 or SHA-512); false for anything it
// cannot read.
func VerifyOAuth2Secret(secret, phc string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 5 || parts[0] != "" {
		return false
	}
	digest, ok := strings.CutPrefix(parts[1], "pbkdf2-")
	if !ok {
		return false
	}
	var h func() hash.Hash
	switch digest {
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		return false
	}
	iter, outLen := 0, 0
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return false
		}
		switch k {
		case "i":
			iter = n
		case "l":
			outLen = n
		}
	}
	salt, err := decodeB64(parts[3])
	if err != nil {
		return false
	}
	want, err := decodeB64(parts[4])
	if err != nil || len(want) == 0 {
		return false
	}
	if outLen == 0 {
		outLen = len(want)
	}
	if iter <= 0 || iter > maxOAuth2SecretIter || outLen != len(want) || outLen > maxOAuth2SecretLen || len(salt) > maxOAuth2SecretLen {
		return false
	}
	got, err := pbkdf2.Key(h, secret, salt, iter, outLen)
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.StdEncoding.DecodeString(s)
}
