package keyauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

func TestSchemaDefaults(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"hide_credentials": false, "key_in_header": true, "key_in_query": true,
		"key_in_body": false, "run_on_preflight": true, "anonymous": nil, "realm": nil}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v; want %v", k, rec[k], v)
		}
	}
	if names, _ := rec["key_names"].([]any); len(names) != 1 || names[0] != "apikey" {
		t.Errorf("key_names = %v; want [apikey]", rec["key_names"])
	}
	if _, err := Schema.Process(map[string]any{"key_names": []any{"bad name"}}, nil); err == nil {
		t.Error("key_names with a space: valid; want a header-name error")
	}
}

type ents struct {
	consumers map[string]*model.Consumer
	keys      map[string]*model.KeyAuthCredential
}

func (e ents) Consumer(id string) *model.Consumer                    { return e.consumers[id] }
func (e ents) KeyAuthCredential(k string) *model.KeyAuthCredential   { return e.keys[k] }
func (e ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential     { return nil }
func (e ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (e ents) OAuth2Credential(string) *model.OAuth2Credential       { return nil }
func (e ents) OAuth2CredentialByID(string) *model.OAuth2Credential   { return nil }
func (e ents) ConsumerGroups(string) []string                        { return nil }

func TestExpiredAndPreflight(t *testing.T) {
	alice := &model.Consumer{ID: "c1"}
	const created = 1_800_000_000
	expiry := float64(created + 10) // Unix seconds
	relative := 10.0                // stored by an earlier sluice: seconds from created_at
	e := ents{consumers: map[string]*model.Consumer{"c1": alice}, keys: map[string]*model.KeyAuthCredential{
		"old": {ID: "k1", Consumer: &model.ForeignKey{ID: "c1"}, Key: "old", CreatedAt: created, TTL: &expiry},
		"rel": {ID: "k2", Consumer: &model.ForeignKey{ID: "c1"}, Key: "rel", CreatedAt: created, TTL: &relative},
	}}
	rec, _ := Schema.Process(map[string]any{"run_on_preflight": false}, nil)
	impl, err := New(rec, plugin.Deps{Entities: e})
	if err != nil {
		t.Fatal(err)
	}
	k := impl.(*KeyAuth)
	for _, tt := range []struct {
		method string
		key    string
		now    int64
		status int // 0: authenticated or skipped
	}{
		{"GET", "old", created + 5, 0},
		{"GET", "old", created + 10, 401},
		{"GET", "rel", created + 5, 0},
		{"GET", "rel", created + 10, 401},
		{"OPTIONS", "old", created + 100, 0},
	} {
		k.now = func() time.Time { return time.Unix(tt.now, 0) }
		r, _ := http.NewRequest(tt.method, "http://x/?apikey="+tt.key, nil)
		c := &plugin.Ctx{Request: r}
		k.Access(c)
		got := 0
		if ex := c.Exited(); ex != nil {
			got = ex.Status
		}
		if got != tt.status {
			t.Errorf("%s at %d: status %d; want %d", tt.method, tt.now, got, tt.status)
		}
	}
}

// FuzzBody feeds arbitrary bodies and content types to the body lookup
// and the hide_credentials rewrite.
func FuzzBody(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "apikey=k&a=b")
	f.Add("application/json", `{"apikey":"k","a":[1,2]}`)
	f.Add("application/json", `{"apikey":["k","l"]}`)
	f.Add("application/json; charset=utf-8", `[1,2`)
	f.Add("multipart/form-data; boundary=x", "--x\r\n")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r, _ := http.NewRequest("POST", "http://x/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		b := readBody(r)
		vals := b.get("apikey")
		b.remove(r, "apikey")
		if len(vals) == 1 && b.form != nil {
			if _, err := url.ParseQuery(b.form.Encode()); err != nil {
				t.Fatalf("re-encoded form does not parse: %v", err)
			}
		}
		if b.get("apikey") != nil && (b.form != nil || b.json != nil) {
			t.Fatalf("apikey still present after remove")
		}
	})
}

// TestFailures pins Kong 3.9's answers (kong/plugins/key-auth/handler.lua,
// 3.7+): every failure is a 401 through kong.response.error with
// WWW-Authenticate 'Key realm="<realm>"', or the bare scheme "Key" when no
// realm is configured (the schema's realm has no default).
func TestFailures(t *testing.T) {
	e := ents{consumers: map[string]*model.Consumer{"c1": {ID: "c1"}}, keys: map[string]*model.KeyAuthCredential{
		"good": {ID: "k1", Consumer: &model.ForeignKey{ID: "c1"}, Key: "good"},
	}}
	for _, tt := range []struct {
		name, realm, url string
		hdr              []string // apikey header values
		status           int
		msg, www         string
	}{
		{name: "no key", url: "/", status: 401, msg: "No API key found in request", www: "Key"},
		{name: "empty key", url: "/?apikey=", status: 401, msg: "No API key found in request", www: "Key"},
		{name: "invalid key", url: "/?apikey=nope", status: 401, msg: "Unauthorized", www: "Key"},
		{name: "duplicate key", url: "/", hdr: []string{"a", "b"}, status: 401, msg: "Duplicate API key found", www: "Key"},
		{name: "realm, no key", realm: "orders", url: "/", status: 401, msg: "No API key found in request", www: `Key realm="orders"`},
		{name: "realm, invalid key", realm: "orders", url: "/?apikey=nope", status: 401, msg: "Unauthorized", www: `Key realm="orders"`},
		{name: "good key", url: "/?apikey=good"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{}
			if tt.realm != "" {
				in["realm"] = tt.realm
			}
			rec, serr := Schema.Process(in, nil)
			if serr != nil {
				t.Fatal(serr)
			}
			impl, err := New(rec, plugin.Deps{Entities: e})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "http://x"+tt.url, nil)
			for _, v := range tt.hdr {
				r.Header.Add("apikey", v)
			}
			c := &plugin.Ctx{Request: r}
			impl.(*KeyAuth).Access(c)
			ex := c.Exited()
			if tt.status == 0 {
				if ex != nil {
					t.Fatalf("exit %d %q; want authenticated", ex.Status, ex.Message)
				}
				if c.Consumer == nil || c.Consumer.ID != "c1" || c.Credential != "k1" {
					t.Fatalf("consumer %v credential %q; want c1/k1", c.Consumer, c.Credential)
				}
				return
			}
			if ex == nil {
				t.Fatal("request let through")
			}
			if ex.Status != tt.status || ex.Message != tt.msg || ex.Header.Get("WWW-Authenticate") != tt.www {
				t.Fatalf("exit = %d %q %q; want %d %q %q", ex.Status, ex.Message, ex.Header.Get("WWW-Authenticate"),
					tt.status, tt.msg, tt.www)
			}
		})
	}
}
