package jwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Token is a decoded compact JWS. Header and Claims are the decoded JSON
// objects; Signed is the signing input ("<header64>.<claims64>").
type Token struct {
	Raw       string
	Header    map[string]any
	Claims    map[string]any
	Signature []byte
	Signed    string
	Alg       string
}

// The reasons Kong gives after "Bad token; ".
var (
	errJSON      = errors.New("invalid JSON")
	errAlg       = errors.New("invalid alg")
	errClaims    = errors.New("invalid claims")
	errSignature = errors.New("invalid signature")
)

// Parse decodes a compact JWS the way Kong's jwt_parser does: the token is
// cut at its first two dots (the signature part keeps any further dots),
// each part is base64url or standard base64 with optional padding
// (anything from the first '=' is ignored), the header and claims are JSON.
// The header's alg must be a supported algorithm.
func Parse(tok string) (*Token, error) {
	h64, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errJSON
	}
	c64, s64, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, errJSON
	}
	hb, err1 := decodeSegment(h64)
	cb, err2 := decodeSegment(c64)
	if err1 != nil || err2 != nil {
		return nil, errJSON
	}
	var header, claims any
	if decodeJSON(hb, &header) != nil || decodeJSON(cb, &claims) != nil {
		return nil, errJSON
	}
	hm, _ := header.(map[string]any)
	alg, _ := hm["alg"].(string)
	if _, ok := verifiers[alg]; !ok {
		return nil, errAlg
	}
	cm, ok := claims.(map[string]any)
	if !ok {
		return nil, errClaims
	}
	sig, err := decodeSegment(s64)
	if err != nil {
		return nil, errSignature
	}
	return &Token{Raw: tok, Header: hm, Claims: cm, Signature: sig, Signed: tok[:len(h64)+1+len(c64)], Alg: alg}, nil
}

// decodeJSON decodes one JSON value (numbers as float64) with nothing
// after it but whitespace.
func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// decodeSegment is Kong's base64_decode: url-safe or standard alphabet
// (mixed too), padding optional, decoding stops at the first '='.
func decodeSegment(s string) ([]byte, error) {
	if i := strings.IndexByte(s, '='); i >= 0 {
		s = s[:i]
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errJSON // Go's decoder skips them, nginx does not
	}
	if strings.ContainsAny(s, "+/") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '+':
				return '-'
			case '/':
				return '_'
			}
			return r
		}, s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}
