package session

import (
	"slices"
	"testing"
)

func TestSchemaDefaults(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"storage": "cookie", "audience": "default", "idling_timeout": 900, "rolling_timeout": 3600,
		"absolute_timeout": 86400, "stale_ttl": 10, "cookie_name": "session", "cookie_path": "/",
		"cookie_domain": nil, "cookie_same_site": "Strict", "cookie_http_only": true, "cookie_secure": true,
		"remember": false, "remember_cookie_name": "remember", "remember_rolling_timeout": 604800,
		"remember_absolute_timeout": 2592000, "read_body_for_logout": false,
		"logout_query_arg": "session_logout", "logout_post_arg": "session_logout",
		"hash_subject": false, "store_metadata": false, "response_headers": nil, "request_headers": nil,
	}
	for k, v := range want {
		got := rec[k]
		if f, ok := got.(float64); ok {
			got = int(f)
		}
		if got != v {
			t.Errorf("%s = %#v; want %#v", k, rec[k], v)
		}
	}
	if len(rec) != len(want)+2 {
		t.Errorf("record has %d fields; want %d", len(rec), len(want)+2)
	}
	if m, _ := rec["logout_methods"].([]any); !slices.Equal(m, []any{"POST", "DELETE"}) {
		t.Errorf("logout_methods = %v; want [POST DELETE]", rec["logout_methods"])
	}
	secret, _ := rec["secret"].(string)
	if len(secret) != 44 || secret != defaultSecret {
		t.Errorf("secret = %q; want the 44-character default drawn at start", secret)
	}
	for _, c := range secret {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			t.Fatalf("secret %q has %q; want letters and digits", secret, c)
		}
	}
	if a, b := randomString(), randomString(); a == b {
		t.Error("randomString returned the same string twice")
	}
}

func TestSchemaRejects(t *testing.T) {
	for _, in := range []map[string]any{
		{"storage": "redis"},
		{"cookie_same_site": "off"},
		{"logout_methods": []any{"PUT"}},
		{"response_headers": []any{"id", "nonce"}},
		{"request_headers": []any{"secret"}},
		{"rolling_timeout": "1h"},
		{"consumer": "x"},
		{"cookie_lifetime": "1h"},
		{"cookie_samesite": true},
	} {
		if _, err := Schema.Process(in, nil); err == nil {
			t.Errorf("%v: valid; want an error", in)
		}
	}
}

// TestShorthands: Kong's deprecated cookie_* fields set their 3.x
// counterparts.
func TestShorthands(t *testing.T) {
	rec, err := Schema.Process(map[string]any{
		"cookie_lifetime": 60.0, "cookie_idletime": 30.0, "cookie_renew": 10.0, "cookie_discard": 5.0,
		"cookie_samesite": "off", "cookie_httponly": false, "cookie_persistent": true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"rolling_timeout": 60.0, "idling_timeout": 30.0, "stale_ttl": 5.0,
		"cookie_same_site": "Lax", "cookie_http_only": false, "remember": true}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %#v; want %#v", k, rec[k], v)
		}
	}
	for _, k := range []string{"cookie_lifetime", "cookie_renew", "cookie_samesite", "cookie_persistent"} {
		if _, ok := rec[k]; ok {
			t.Errorf("shorthand %s kept in the record", k)
		}
	}
}
