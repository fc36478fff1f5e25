package sqlstore

import (
	"errors"
	"testing"

	"sluice/internal/store"
)

func TestOffsetRoundTrip(t *testing.T) {
	tests := []struct {
		entity string
		seq    int64
	}{{"services", 0}, {"routes", 1}, {"keyauth_credentials", 1<<62 + 5}}
	for _, tt := range tests {
		tok := encodeOffset(tt.entity, tt.seq)
		got, err := decodeOffset(tt.entity, tok)
		if err != nil || got != tt.seq {
			t.Fatalf("decode(encode(%s, %d)) = %d, %v", tt.entity, tt.seq, got, err)
		}
		if _, err := decodeOffset("consumers", tok); !errors.Is(err, store.ErrInvalidOffset) {
			t.Fatalf("token of %s accepted for consumers: %v", tt.entity, err)
		}
	}
}

// FuzzDecodeOffset: any token either fails with ErrInvalidOffset or is
// exactly the token this store would issue for that position.
func FuzzDecodeOffset(f *testing.F) {
	for _, s := range []string{"", "abc", encodeOffset("services", 42), encodeOffset("routes", 7), "c2x1aWNlMTpzZXJ2aWNlczotMQ", "c2x1aWNlMTpzZXJ2aWNlczowMQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		seq, err := decodeOffset("services", tok)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidOffset) {
				t.Fatalf("decode(%q): %v; want ErrInvalidOffset", tok, err)
			}
			return
		}
		if seq < 0 {
			t.Fatalf("decode(%q) = %d", tok, seq)
		}
		if again := encodeOffset("services", seq); again != tok {
			t.Fatalf("decode(%q) = %d, which encodes as %q", tok, seq, again)
		}
	})
}
