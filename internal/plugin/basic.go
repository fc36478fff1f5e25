package plugin

import (
	"encoding/base64"
	"strings"
)

// ParseBasic extracts the username and password of a Basic authorization
// header value the way Kong does: the first "Basic"/"basic" followed by at
// least one character, optional whitespace, then base64 (padding optional,
// anything from the first '=' ignored) of "user:password". Leading colons
// of the decoded text are skipped and the username runs to the next colon;
// the password is the rest and may be empty.
func ParseBasic(v string) (user, pass string, ok bool) {
	rest := ""
	for i := 0; i+5 < len(v); i++ {
		if (v[i] == 'B' || v[i] == 'b') && v[i+1:i+5] == "asic" {
			rest = v[i+5:]
			break
		}
	}
	if rest == "" {
		return "", "", false
	}
	// \s* is greedy but must leave one character to (.+).
	j := 0
	for j < len(rest)-1 && isSpaceByte(rest[j]) {
		j++
	}
	enc := rest[j:]
	if k := strings.IndexByte(enc, '='); k >= 0 {
		enc = enc[:k]
	}
	dec, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	s := strings.TrimLeft(string(dec), ":")
	user, pass, found := strings.Cut(s, ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, pass, true
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
