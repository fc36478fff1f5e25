package model

import (
	"strings"
	"testing"
)

// Vectors computed independently (Python's hashlib.pbkdf2_hmac), in the
// PHC form Kong's oauth2 plugin stores.
func TestVerifyOAuth2SecretVectors(t *testing.T) {
	for _, c := range []struct {
		phc  string
		want bool
	}{
		{"$pbkdf2-sha512$i=10000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$5CfohNJ4H9Iy9k/ItWFTPoy6zDM+jAl+XdeePPACtDg", true},
		{"$pbkdf2-sha256$i=1000,l=20$MDEyMzQ1Njc4OWFiY2RlZg$1OJwliWkObv3LZnrzNj7bkQkS7U", true},
		{"$pbkdf2-sha512$i=10001,l=32$MDEyMzQ1Njc4OWFiY2RlZg$5CfohNJ4H9Iy9k/ItWFTPoy6zDM+jAl+XdeePPACtDg", false},
		{"$pbkdf2-md5$i=1000,l=20$MDEyMzQ1Njc4OWFiY2RlZg$1OJwliWkObv3LZnrzNj7bkQkS7U", false},
		{"$argon2id$v=19$m=4096,t=1,p=1$c2FsdA$aGFzaA", false},
		{"kong-secret", false},
		{"$pbkdf2-sha512$i=99999999,l=32$MDEy$5Cfo", false},
	} {
		if got := VerifyOAuth2Secret("kong-secret", c.phc); got != c.want {
			t.Errorf("VerifyOAuth2Secret(%q) = %v; want %v", c.phc, got, c.want)
		}
	}
}

func TestHashOAuth2SecretRoundTrip(t *testing.T) {
	h := HashOAuth2Secret("s3cret")
	if !strings.HasPrefix(h, "$pbkdf2-sha512$i=10000,l=32$") || !IsOAuth2SecretHash(h) {
		t.Fatalf("hash %q: not Kong's PBKDF2 PHC form", h)
	}
	if !VerifyOAuth2Secret("s3cret", h) || VerifyOAuth2Secret("s3cret!", h) {
		t.Fatalf("hash %q does not verify its secret alone", h)
	}
	if h2 := HashOAuth2Secret("s3cret"); h2 == h {
		t.Fatal("two hashes of one secret are equal: no fresh salt")
	}
}

func FuzzVerifyOAuth2Secret(f *testing.F) {
	f.Add("kong-secret", "$pbkdf2-sha256$i=1000,l=20$MDEyMzQ1Njc4OWFiY2RlZg$1OJwliWkObv3LZnrzNj7bkQkS7U")
	f.Add("x", "$pbkdf2-sha1$i=1,l=0$$")
	f.Fuzz(func(t *testing.T, secret, phc string) {
		VerifyOAuth2Secret(secret, phc) // must not panic or hang
	})
}

func TestOAuth2CredentialRedirectURIs(t *testing.T) {
	s := mustLookup(t, "oauth2_credentials")
	for uri, want := range map[string]string{
		"https://example.com/cb":   "",
		"http://localhost:8000/cb": "",
		"example.com/cb":           "cannot parse 'example.com/cb'",
		"https://example.com/#top": "fragment not allowed in 'https://example.com/#top'",
	} {
		_, err := s.Process(map[string]any{"name": "app", "consumer": map[string]any{"id": "6ca3a8e4-9c1d-4a4e-8a36-4b1a0e0f5c11"},
			"redirect_uris": []any{uri}}, nil)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("redirect_uris [%q]: error %q; want %q", uri, got, want)
		}
	}
}
