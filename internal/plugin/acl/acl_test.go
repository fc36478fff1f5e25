package acl

import (
	"net/http"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

type ents struct {
	groups map[string][]string
}

func (ents) Consumer(string) *model.Consumer                       { return nil }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential     { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential   { return nil }
func (ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (ents) OAuth2Credential(string) *model.OAuth2Credential       { return nil }
func (ents) OAuth2CredentialByID(string) *model.OAuth2Credential   { return nil }
func (e ents) ConsumerGroups(id string) []string                   { return e.groups[id] }

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{"allow": []any{"a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hide_groups_header", "include_consumer_groups", "always_use_authenticated_groups"} {
		if rec[f] != false {
			t.Errorf("%s = %v; want false", f, rec[f])
		}
	}
	for _, tt := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{}, "exactly one of these fields must be non-empty: 'config.allow', 'config.deny'"},
		{map[string]any{"allow": []any{}}, "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"},
		{map[string]any{"allow": []any{"a"}, "deny": []any{"b"}}, "exactly one of these fields must be non-empty"},
		{map[string]any{"allow": []any{1}}, "expected a string"},
	} {
		_, err := Schema.Process(tt.in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Process(%v) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

// TestAccess pins Kong 3.9's answers (kong/plugins/acl/handler.lua and
// groups.lua): no consumer and no credential -> kong.response.error(401),
// i.e. {"message":"Unauthorized"}; a credential without consumer, or a
// consumer whose groups (an empty list counts) are not allowed -> 403
// {"message":"You cannot consume this service"}.
func TestAccess(t *testing.T) {
	const msgForbidden = "You cannot consume this service"
	e := ents{groups: map[string][]string{"c1": {"admin", "ops"}, "c2": {"dev"}}}
	c1, c2, c3 := &model.Consumer{ID: "c1"}, &model.Consumer{ID: "c2"}, &model.Consumer{ID: "c3"}
	tests := []struct {
		name       string
		cfg        map[string]any
		consumer   *model.Consumer
		credential string
		status     int
		msg        string
		header     []string // X-Consumer-Groups upstream; nil: absent
	}{
		{"no consumer", map[string]any{"allow": []any{"admin"}}, nil, "", 401, "Unauthorized", nil},
		{"credential without consumer", map[string]any{"allow": []any{"admin"}}, nil, "k1", 403, msgForbidden, nil},
		{"allowed, two groups", map[string]any{"allow": []any{"ops"}}, c1, "k1", 0, "", []string{"admin, ops"}},
		{"allowed, one group", map[string]any{"allow": []any{"dev", "x"}}, c2, "k2", 0, "", []string{"dev"}},
		{"not in allow", map[string]any{"allow": []any{"admin"}}, c2, "k2", 403, msgForbidden, nil},
		{"no groups, allow", map[string]any{"allow": []any{"admin"}}, c3, "k3", 403, msgForbidden, nil},
		{"in deny", map[string]any{"deny": []any{"admin"}}, c1, "k1", 403, msgForbidden, nil},
		{"not in deny", map[string]any{"deny": []any{"admin"}}, c2, "k2", 0, "", []string{"dev"}},
		{"no groups, deny", map[string]any{"deny": []any{"admin"}}, c3, "k3", 0, "", nil},
		{"anonymous allowed", map[string]any{"allow": []any{"dev"}}, c2, "", 0, "", []string{"dev"}},
		{"hidden", map[string]any{"allow": []any{"ops"}, "hide_groups_header": true}, c1, "k1", 0, "", []string{"spoofed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, serr := Schema.Process(tt.cfg, nil)
			if serr != nil {
				t.Fatal(serr)
			}
			impl, err := New(rec, plugin.Deps{Entities: e})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Header.Set(HeaderConsumerGroups, "spoofed")
			c := &plugin.Ctx{Request: r, Consumer: tt.consumer, Credential: tt.credential}
			for range 2 { // the second run reads the joined-groups cache
				impl.(*ACL).Access(c)
			}
			status, msg := 0, ""
			if ex := c.Exited(); ex != nil {
				status, msg = ex.Status, ex.Message
			}
			if status != tt.status || msg != tt.msg {
				t.Fatalf("exit = %d %q; want %d %q", status, msg, tt.status, tt.msg)
			}
			if status != 0 {
				return
			}
			if got := r.Header[HeaderConsumerGroups]; strings.Join(got, "|") != strings.Join(tt.header, "|") || (got == nil) != (tt.header == nil) {
				t.Errorf("X-Consumer-Groups = %q; want %q", got, tt.header)
			}
		})
	}
}

func BenchmarkAccess(b *testing.B) {
	e := ents{groups: map[string][]string{"c1": {"admin", "ops", "dev"}}}
	rec, _ := Schema.Process(map[string]any{"allow": []any{"dev"}}, nil)
	impl, _ := New(rec, plugin.Deps{Entities: e})
	a := impl.(*ACL)
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.Header.Set(HeaderConsumerGroups, "x")
	consumer := &model.Consumer{ID: "c1"}
	b.ReportAllocs()
	for b.Loop() {
		c := plugin.Ctx{Request: r, Consumer: consumer, Credential: "k1"}
		a.Access(&c)
		if c.Exited() != nil {
			b.Fatal("rejected")
		}
	}
}
