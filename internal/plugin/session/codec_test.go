package session

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

func testSealer(t testing.TB, secret string) *sealer {
	t.Helper()
	s, err := newSealer(secret, map[kind]string{kindSession: "session", kindRemember: "remember"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sampleData() *data {
	d := &data{created: 1700000000, rolling: 120, idling: 30, audience: "default", subject: "alice",
		consumerID: "c1", credentialID: "k1", groups: []string{"admin", "ops"}}
	for i := range d.sid {
		d.sid[i] = byte(i)
	}
	return d
}

func TestSealRoundTrip(t *testing.T) {
	s := testSealer(t, "secret")
	for _, d := range []*data{sampleData(), {audience: "x"}, {groups: []string{}}} {
		v, err := s.seal(kindSession, d)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := s.open(kindSession, v)
		if !ok || !reflect.DeepEqual(got, d) {
			t.Errorf("open(seal(%+v)) = %+v, %v", d, got, ok)
		}
	}
}

// TestOpenRejects: a cookie is accepted only intact, for its kind, under
// its key.
func TestOpenRejects(t *testing.T) {
	s := testSealer(t, "secret")
	v, err := s.seal(kindSession, sampleData())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.open(kindRemember, v); ok {
		t.Error("session cookie opened as a persistent one")
	}
	if _, ok := testSealer(t, "other").open(kindSession, v); ok {
		t.Error("cookie opened under another secret")
	}
	other, _ := newSealer("secret", map[kind]string{kindSession: "sid"})
	if _, ok := other.open(kindSession, v); ok {
		t.Error("cookie opened under another cookie name")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		if _, ok := s.open(kindSession, base64.RawURLEncoding.EncodeToString(b)); ok {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	for _, bad := range []string{"", "x", v[:len(v)-1], v + "A", v + "=", strings.Repeat("A", maxCookieRead+4), "!" + v[1:]} {
		if _, ok := s.open(kindSession, bad); ok {
			t.Errorf("open(%.40q...) accepted", bad)
		}
	}
}

func TestSealTooLarge(t *testing.T) {
	s := testSealer(t, "secret")
	d := sampleData()
	d.groups = []string{strings.Repeat("g", maxCookieSize)}
	if _, err := s.seal(kindSession, d); err == nil {
		t.Error("huge group sealed")
	}
	d.groups = make([]string, maxGroups+1)
	if _, err := s.seal(kindSession, d); err == nil {
		t.Error("too many groups sealed")
	}
}

// FuzzOpen: any cookie value is refused or opens to data that seals and
// opens again to the same.
func FuzzOpen(f *testing.F) {
	s := testSealer(f, "fuzz")
	v, _ := s.seal(kindSession, sampleData())
	f.Add(v)
	f.Add(v[:20])
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := s.open(kindSession, v)
		if !ok {
			if d != nil {
				t.Fatal("refused with data")
			}
			return
		}
		again, err := s.seal(kindSession, d)
		if err != nil {
			t.Fatal(err)
		}
		if d2, ok := s.open(kindSession, again); !ok || !reflect.DeepEqual(d, d2) {
			t.Fatal("reopened data differs")
		}
	})
}

// FuzzParseData: the decoder of the sealed plaintext never panics and what
// it accepts encodes back to data it decodes the same.
func FuzzParseData(f *testing.F) {
	good, _ := appendData(nil, sampleData())
	f.Add(good)
	f.Add(good[:fixedSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := parseData(b)
		if !ok {
			return
		}
		enc, err := appendData(nil, d)
		if err != nil {
			if len(b) > maxCookieSize {
				return // valid but too large to issue
			}
			t.Fatalf("appendData: %v", err)
		}
		d2, ok := parseData(enc)
		if !ok || !reflect.DeepEqual(d, d2) {
			t.Fatal("re-encoded data differs")
		}
	})
}
