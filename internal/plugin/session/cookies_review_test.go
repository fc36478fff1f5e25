package session

import (
	"net/http"
	"testing"
)

// mergeSetCookie never writes into the list it was given (a proxy-cache
// hit's headers share the stored entry's lists).
func TestMergeSetCookieCopies(t *testing.T) {
	shared := []string{"session=old; Path=/", "other=1"}
	h := http.Header{"Set-Cookie": shared}
	mergeSetCookie(h, "session", "session=new; Path=/")
	if shared[0] != "session=old; Path=/" {
		t.Errorf("the shared list was changed: %q", shared)
	}
	if got := h["Set-Cookie"]; len(got) != 2 || got[0] != "session=new; Path=/" || got[1] != "other=1" {
		t.Errorf("Set-Cookie = %q", got)
	}
}

// Instances configured without a secret share the process's, so a
// rebuild on a configuration change keeps their sessions: a cookie one
// sealed, the other opens.
func TestProcessSecretStable(t *testing.T) {
	a, _ := newTest(t, `{"secret": null}`)
	b, _ := newTest(t, `{"secret": null}`)
	d := &data{created: 1e9, consumerID: "c1", audience: "default"}
	v, err := a.sealer.seal(kindSession, d)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := b.sealer.open(kindSession, v); !ok || got.consumerID != "c1" {
		t.Errorf("a rebuilt instance without a secret refused the cookie (%v, %v)", got, ok)
	}
}
