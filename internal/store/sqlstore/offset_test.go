package sqlstore

import (
	"errors"
	"testing"

	"sluice/internal/store"
)

// Kong's PostgreSQL token: base64 (no padding) of the JSON array of the
// last primary key (kong/db/strategies/postgres/init.lua).
func TestOffsetKongFormat(t *testing.T) {
	const id = "a1c1d4a3-23e6-4a62-9b3c-2d7a3c0e9f10"
	tok := encodeOffset(id)
	if want := "WyJhMWMxZDRhMy0yM2U2LTRhNjItOWIzYy0yZDdhM2MwZTlmMTAiXQ"; tok != want {
		t.Fatalf("encodeOffset = %q; want %q", tok, want)
	}
	for _, in := range []string{tok, tok + "=="} {
		got, err := decodeOffset(in)
		if err != nil || got != id {
			t.Fatalf("decodeOffset(%q) = %q, %v; want %q", in, got, err, id)
		}
	}
	tests := []struct{ tok, reason string }{
		{"!!!", "bad base64 encoding"},
		{"", "bad base64 encoding"},
		{"Zm9vYmFy", "bad json encoding"},     // foobar
		{"MTAw", "bad json encoding"},         // 100
		{"WyJhIiwiYiJd", "bad json encoding"}, // ["a","b"]
	}
	for _, tt := range tests {
		_, err := decodeOffset(tt.tok)
		var oe *store.OffsetError
		if !errors.As(err, &oe) || oe.Reason != tt.reason || !errors.Is(err, store.ErrInvalidOffset) {
			t.Errorf("decodeOffset(%q) = %v; want an OffsetError %q", tt.tok, err, tt.reason)
		}
	}
}

// FuzzDecodeOffset: any token either fails with ErrInvalidOffset or names
// an id that encodes back to the same token (padding aside).
func FuzzDecodeOffset(f *testing.F) {
	for _, s := range []string{"", "abc", encodeOffset("b7a1"), encodeOffset("0fe1-x"), "WyJhIl0=", "MTAw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := decodeOffset(tok)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidOffset) {
				t.Fatalf("decode(%q): %v; want ErrInvalidOffset", tok, err)
			}
			return
		}
		again, err := decodeOffset(encodeOffset(id))
		if err != nil || again != id {
			t.Fatalf("decode(%q) = %q, which round-trips as %q, %v", tok, id, again, err)
		}
	})
}
