package ldapauth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		value, scheme string
		user, pass    string
		ok            bool
	}{
		{"ldap " + b64("einstein:password"), "ldap", "einstein", "password", true},
		{"LDAP " + b64("einstein:password"), "ldap", "einstein", "password", true},
		{" \tldap  " + b64("einstein:password"), "ldap", "einstein", "password", true},
		{"basic " + b64("einstein:password"), "Basic", "einstein", "password", true},
		{"ldap " + b64("a:b:c"), "ldap", "a", "b:c", true},
		{"ldap " + b64("a:b\n"), "ldap", "a", "b", true}, // PCRE's $ before a final newline
		{"ldap " + base64.RawStdEncoding.EncodeToString([]byte("ab:cd")), "ldap", "ab", "cd", true},
		{"ldap " + b64("ab:cd") + "=junk", "ldap", "ab", "cd", true},
		{"ldap " + b64("einstein:"), "ldap", "", "", false},
		{"ldap " + b64(":password"), "ldap", "", "", false}, // Kong binds "uid=,..." and fails
		{"ldap " + b64("einstein"), "ldap", "", "", false},
		{"ldap " + b64("a\nb:c"), "ldap", "", "", false},
		{"ldap " + b64("a:b\n\n"), "ldap", "", "", false},
		{"ldap" + b64("einstein:password"), "ldap", "", "", false},
		{"invalidldap " + b64("einstein:password"), "ldap", "", "", false},
		{"Bearer " + b64("einstein:password"), "ldap", "", "", false},
		{"ldap !!!!", "ldap", "", "", false},
		{"ldap ", "ldap", "", "", false},
		{"abcd", "ldap", "", "", false},
		{"", "ldap", "", "", false},
		{"ldap YWI6Y2Q\r\n", "ldap", "", "", false},
	}
	for _, tt := range tests {
		cred, colon, ok := parseCredentials(nil, tt.value, tt.scheme)
		var user, pass string
		if ok {
			user, pass = string(cred[:colon]), string(cred[colon+1:])
		}
		if ok != tt.ok || user != tt.user || pass != tt.pass {
			t.Errorf("parseCredentials(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.value, tt.scheme, user, pass, ok,
				tt.user, tt.pass, tt.ok)
		}
	}
}

// FuzzParseCredentials: any header value parses without panicking; what
// is accepted has a non-empty username and password without newlines, and
// encoding it again parses back to the same.
func FuzzParseCredentials(f *testing.F) {
	f.Add("ldap "+b64("einstein:password"), "ldap")
	f.Add("  LDAP\t"+b64(":x"), "ldap")
	f.Add("basic YTpi=", "Basic")
	f.Add("ldap YQ", "ldap")
	f.Fuzz(func(t *testing.T, value, scheme string) {
		var buf [16]byte
		cred, colon, ok := parseCredentials(buf[:0], value, scheme)
		if !ok {
			return
		}
		if colon <= 0 || colon >= len(cred)-1 || cred[colon] != ':' || bytes.IndexByte(cred[:colon], ':') >= 0 ||
			bytes.IndexByte(cred, '\n') >= 0 {
			t.Fatalf("parseCredentials(%q, %q) = %q, colon %d", value, scheme, cred, colon)
		}
		if strings.ContainsFunc(scheme, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) || scheme == "" {
			return // such schemes do not round-trip
		}
		again, colon2, ok2 := parseCredentials(nil, scheme+" "+base64.StdEncoding.EncodeToString(cred), scheme)
		if !ok2 || colon2 != colon || !bytes.Equal(again, cred) {
			t.Fatalf("round trip of %q: %q, %d, %v", cred, again, colon2, ok2)
		}
	})
}

func TestEscapeDNValue(t *testing.T) {
	for in, want := range map[string]string{
		"einstein":           "einstein",
		"Smith, John":        `Smith\, John`,
		"a+b=c;d<e>f\"g\\h":  `a\+b=c\;d\<e\>f\"g\\h`,
		" lead":              `\ lead`,
		"trail ":             `trail\ `,
		"#hash#":             `\#hash#`,
		"nul\x00":            `nul\00`,
		"einstein,ou=admins": `einstein\,ou=admins`,
		"mid space":          "mid space",
	} {
		if got := escapeDNValue(in); got != want {
			t.Errorf("escapeDNValue(%q) = %q; want %q", in, got, want)
		}
	}
}
