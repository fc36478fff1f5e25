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
func (e ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (e ents) ConsumerGroups(string) []string                        { return nil }

func TestExpiredAndPreflight(t *testing.T) {
	alice := &model.Consumer{ID: "c1"}
	ttl := 10
	e := ents{consumers: map[string]*model.Consumer{"c1": alice}, keys: map[string]*model.KeyAuthCredential{
		"old": {ID: "k1", Consumer: &model.ForeignKey{ID: "c1"}, Key: "old", CreatedAt: 100, TTL: &ttl},
	}}
	rec, _ := Schema.Process(map[string]any{"run_on_preflight": false}, nil)
	impl, err := New(rec, plugin.Deps{Entities: e})
	if err != nil {
		t.Fatal(err)
	}
	k := impl.(*KeyAuth)
	for _, tt := range []struct {
		method string
		now    int64
		status int // 0: authenticated or skipped
	}{
		{"GET", 105, 0},
		{"GET", 110, 401},
		{"OPTIONS", 200, 0},
	} {
		k.now = func() time.Time { return time.Unix(tt.now, 0) }
		r, _ := http.NewRequest(tt.method, "http://x/?apikey=old", nil)
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
