package admin

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/store"
)

// TestKeyAuthTTL checks Kong's ttl write option of keyauth_credentials
// (kong/api/endpoints.lua extract_options, kong/db/dao validate_options,
// the postgres strategy's expiry): the answer shows the seconds left, an
// expired credential is gone from reads, PATCH keeps or resets the
// expiry, PUT without ttl clears it, and bad values are invalid options.
func TestKeyAuthTTL(t *testing.T) {
	var clock atomic.Int64 // milliseconds
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	advance := func(d time.Duration) { clock.Add(d.Milliseconds()) }
	c := newServer(t, func(o *Options) { o.Now = now })
	c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})

	// created_at is whole seconds; half a second later 9.5 s are left.
	advance(500 * time.Millisecond)
	cred := c.must(201, "POST", "/consumers/bob/key-auth", map[string]any{"key": "k1", "ttl": 10})
	if cred["ttl"] != 9.0 {
		t.Errorf("POST ttl=10: answer ttl = %v; want 9", cred["ttl"])
	}
	id := cred["id"].(string)
	advance(3 * time.Second)
	if got := c.must(200, "GET", "/key-auths/"+id, nil); got["ttl"] != 6.0 {
		t.Errorf("GET after 3 s: ttl = %v; want 6", got["ttl"])
	}
	// Form bodies carry it as text.
	c.must(201, "POST", "/consumers/bob/key-auth", "key=k2&ttl=100", "application/x-www-form-urlencoded")
	// A credential without ttl shows null.
	if got := c.must(201, "POST", "/consumers/bob/key-auth", map[string]any{"key": "k3"}); got["ttl"] != nil {
		t.Errorf("no ttl: answer ttl = %v; want null", got["ttl"])
	}

	// PATCH without ttl keeps the expiry; with one counts from now.
	if got := c.must(200, "PATCH", "/key-auths/"+id, map[string]any{"tags": []any{"t"}}); got["ttl"] != 6.0 {
		t.Errorf("PATCH without ttl: ttl = %v; want 6 (kept)", got["ttl"])
	}
	if got := c.must(200, "PATCH", "/key-auths/"+id, map[string]any{"ttl": 20}); got["ttl"] != 19.0 && got["ttl"] != 20.0 {
		t.Errorf("PATCH ttl=20: ttl = %v; want 19 or 20", got["ttl"])
	}

	// Past its expiry the credential is gone from every read.
	advance(21 * time.Second)
	if r := c.do("GET", "/key-auths/"+id, nil); r.status != 404 {
		t.Errorf("GET expired: %d %s; want 404", r.status, r.raw)
	}
	if r := c.do("PATCH", "/key-auths/"+id, map[string]any{"tags": nil}); r.status != 404 {
		t.Errorf("PATCH expired: %d %s; want 404", r.status, r.raw)
	}
	list := c.must(200, "GET", "/consumers/bob/key-auth", nil)
	keys := []string{}
	for _, d := range list["data"].([]any) {
		keys = append(keys, d.(map[string]any)["key"].(string))
	}
	if strings.Join(keys, ",") != "k2,k3" && strings.Join(keys, ",") != "k3,k2" {
		t.Errorf("list after expiry: keys %v; want k2 and k3", keys)
	}

	// PATCH ttl=0 clears an expiry; PUT without ttl does too.
	k2 := c.must(200, "GET", "/key-auths/k2", nil)
	if got := c.must(200, "PATCH", "/key-auths/k2", map[string]any{"ttl": 0}); got["ttl"] != nil {
		t.Errorf("PATCH ttl=0: ttl = %v; want null", got["ttl"])
	}
	c.must(200, "PATCH", "/key-auths/k2", map[string]any{"ttl": 50})
	if got := c.must(200, "PUT", "/key-auths/"+k2["id"].(string), map[string]any{"key": "k2", "consumer": map[string]any{"username": "bob"}}); got["ttl"] != nil {
		t.Errorf("PUT without ttl: ttl = %v; want null", got["ttl"])
	}

	// Kong's invalid options: code 11, the detail under "options".
	for _, bad := range []any{-1, 1.5, 100000001, "10", true} {
		r := c.do("POST", "/consumers/bob/key-auth", map[string]any{"ttl": bad})
		wantBody(t, r, 400, `{"code":11,"name":"invalid options","message":"invalid option (ttl: must be an integer between 0 and 100000000)","options":{"ttl":"must be an integer between 0 and 100000000"}}`)
	}
	// On an entity without ttl it is an unknown field.
	r := c.do("POST", "/consumers", map[string]any{"username": "x", "ttl": 10})
	if r.status != 400 || !strings.Contains(string(r.raw), `"ttl":"unknown field"`) {
		t.Errorf("ttl on consumers: %d %s; want a schema violation", r.status, r.raw)
	}
	// The schema has no ttl field (it is an entity option in Kong).
	if s := c.do("GET", "/schemas/keyauth_credentials", nil); strings.Contains(string(s.raw), `"ttl"`) {
		t.Errorf("/schemas/keyauth_credentials lists ttl: %s", s.raw)
	}
}

// TestSweepExpired checks that expired key-auth credentials are deleted
// from the store (embedded and PostgreSQL), and only they.
func TestSweepExpired(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) *client
	}{
		{"embedded", func(t *testing.T) *client { return newServer(t, nil) }},
		{"postgres", newPGServer},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			c := sc.open(t)
			c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
			for i, ttl := range []int{5, 10, 0, 60} {
				body := map[string]any{"key": "k" + string(rune('0'+i))}
				if ttl > 0 {
					body["ttl"] = ttl
				}
				c.must(201, "POST", "/consumers/bob/key-auth", body)
			}
			ctx := context.Background()
			n, err := SweepExpired(ctx, c.st, fixedNow.Add(30*time.Second))
			if err != nil || n != 2 {
				t.Fatalf("SweepExpired: %d, %v; want 2 deleted", n, err)
			}
			page, err := c.st.List(ctx, "keyauth_credentials", store.ListOptions{Size: 100})
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, r := range page.Records {
				left = append(left, r["key"].(string))
			}
			sort.Strings(left)
			if strings.Join(left, ",") != "k2,k3" {
				t.Errorf("left in the store: %v; want k2 (no ttl) and k3 (60 s)", left)
			}
			if n, err := SweepExpired(ctx, c.st, fixedNow.Add(30*time.Second)); err != nil || n != 0 {
				t.Errorf("second sweep: %d, %v; want nothing", n, err)
			}
		})
	}
}

// TestKeyAuthTTLStoredByOlderSluice: a ttl stored by an earlier sluice is
// seconds from created_at (0: none); it keeps that meaning. A PUT with a
// ttl over an old credential counts from now.
func TestKeyAuthTTLStoredByOlderSluice(t *testing.T) {
	now := fixedNow
	c := newServer(t, func(o *Options) { o.Now = func() time.Time { return now } })
	cons := c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
	ctx := context.Background()
	created := now.Add(-time.Hour).Unix()
	for _, r := range []store.Record{
		{"id": "6c195c24-d0d8-4b00-9b8a-6587281e8289", "key": "rel", "ttl": 7200.0, "created_at": created, "consumer": map[string]any{"id": cons["id"]}, "tags": nil},
		{"id": "7c195c24-d0d8-4b00-9b8a-6587281e8289", "key": "zero", "ttl": 0.0, "created_at": created, "consumer": map[string]any{"id": cons["id"]}, "tags": nil},
	} {
		if err := c.st.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "keyauth_credentials", r) }); err != nil {
			t.Fatal(err)
		}
	}
	// created_at is whole seconds, fixedNow is not: 3599.3 s are left.
	if got := c.must(200, "GET", "/key-auths/rel", nil); got["ttl"] != 3599.0 {
		t.Errorf("relative ttl 7200 created an hour ago: ttl %v; want 3599", got["ttl"])
	}
	if got := c.must(200, "GET", "/key-auths/zero", nil); got["ttl"] != nil {
		t.Errorf("stored ttl 0: ttl %v; want null (no expiry)", got["ttl"])
	}
	got := c.must(200, "PUT", "/key-auths/6c195c24-d0d8-4b00-9b8a-6587281e8289",
		map[string]any{"key": "rel", "consumer": map[string]any{"id": cons["id"]}, "ttl": 60})
	if got["ttl"] != 59.0 && got["ttl"] != 60.0 {
		t.Errorf("PUT ttl=60 over an hour-old credential: ttl %v; want 59 or 60 (from now)", got["ttl"])
	}
	if n, err := SweepExpired(ctx, c.st, now); err != nil || n != 0 {
		t.Errorf("sweep: %d, %v; want nothing deleted", n, err)
	}
}
