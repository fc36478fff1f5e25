package model

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"testing"
)

// newEntity returns a pointer to a zero typed entity of the DAO name.
func newEntity(name string) any {
	switch name {
	case "services":
		return &Service{}
	case "routes":
		return &Route{}
	case "consumers":
		return &Consumer{}
	case "plugins":
		return &Plugin{}
	case "upstreams":
		return &Upstream{}
	case "targets":
		return &Target{}
	case "certificates":
		return &Certificate{}
	case "snis":
		return &SNI{}
	case "ca_certificates":
		return &CACertificate{}
	case "keyauth_credentials":
		return &KeyAuthCredential{}
	case "basicauth_credentials":
		return &BasicAuthCredential{}
	case "jwt_secrets":
		return &JWTSecret{}
	case "acls":
		return &ACL{}
	}
	return nil
}

const testUUID = "5c6e1b9a-3f0e-4e57-9d64-0b5c3b0e8a11"

// decodeInputs are inputs to Process, per entity; every one must be valid.
var decodeInputs = map[string][]map[string]any{
	"services": {
		{"host": "example.com", "tags": []any{"a", "b"}},
		{"url": "https://user.example.com:8443/api", "retries": 3, "tls_verify": true, "tls_verify_depth": 2,
			"client_certificate": map[string]any{"id": testUUID}, "ca_certificates": []any{testUUID}},
	},
	"routes": {
		{"paths": []any{"/", "~/a/\\d+$"}, "methods": []any{"GET", "POST"}, "hosts": []any{"a.example.com"},
			"headers": map[string]any{"x-v": []any{"1", "2"}}, "service": map[string]any{"id": testUUID},
			"regex_priority": 7, "strip_path": false, "name": "r1"},
		{"protocols": []any{"tcp"}, "sources": []any{map[string]any{"ip": "10.0.0.0/8", "port": 80}},
			"destinations": []any{map[string]any{"port": 443}}},
		{"snis": []any{"a.example.com"}, "protocols": []any{"https"}},
	},
	"consumers": {
		{"username": "u1"},
		{"custom_id": "c1", "tags": []any{}},
	},
	"plugins": {
		{"name": "rate-limiting", "config": map[string]any{"minute": 5, "ratio": 2.5, "nested": map[string]any{
			"list": []any{1, 2.5, "x", nil, true, map[string]any{}}, "empty": []any{}}}},
		{"name": "key-auth", "route": map[string]any{"id": testUUID}, "consumer": map[string]any{"id": testUUID},
			"protocols": []any{"http"}, "enabled": false, "instance_name": "ka"},
	},
	"upstreams": {
		{"name": "up1"},
		{"name": "up2", "algorithm": "consistent-hashing", "hash_on": "header", "hash_on_header": "x-user",
			"healthchecks": map[string]any{"active": map[string]any{"healthy": map[string]any{"interval": 5}},
				"threshold": 33.5}},
	},
	"targets": {
		{"target": "10.0.0.1:8080", "upstream": map[string]any{"id": testUUID}, "weight": 50},
	},
	"snis": {
		{"name": "a.example.com", "certificate": map[string]any{"id": testUUID}},
	},
	"keyauth_credentials": {
		{"key": "k1", "consumer": map[string]any{"id": testUUID}, "ttl": 60},
	},
	"basicauth_credentials": {
		{"username": "u", "password": "p", "consumer": map[string]any{"id": testUUID}},
	},
	"jwt_secrets": {
		{"key": "k", "secret": "s", "consumer": map[string]any{"id": testUUID}},
	},
	"acls": {
		{"group": "g", "consumer": map[string]any{"id": testUUID}},
	},
}

// decodeRecords returns processed records of every entity type (plus
// hand-written ones for the entities whose inputs need real keys).
func decodeRecords(t testing.TB) map[string][]map[string]any {
	out := map[string][]map[string]any{
		"certificates": {{"id": testUUID, "created_at": 1700000000, "updated_at": 1700000001, "cert": "CERT",
			"key": "KEY", "cert_alt": nil, "key_alt": "KEYALT", "tags": nil, "snis": []any{"a.example.com"}}},
		"ca_certificates": {{"id": testUUID, "created_at": 1700000000, "updated_at": 1700000001, "cert": "CA",
			"cert_digest": "abc", "tags": []any{"t"}}},
	}
	for name, ins := range decodeInputs {
		s, ok := Lookup(name)
		if !ok {
			t.Fatalf("Lookup(%q) failed", name)
		}
		for i, in := range ins {
			rec, serr := s.Process(in, nil)
			if serr != nil {
				t.Fatalf("%s input %d: Process: %v", name, i, serr)
			}
			rec["id"] = testUUID
			rec["created_at"] = 1700000000
			if name == "targets" {
				rec["created_at"] = 1700000000.123
			}
			out[name] = append(out[name], rec)
		}
	}
	return out
}

// compareDecode checks Decode against the JSON round trip for one record.
func compareDecode(t *testing.T, name string, rec map[string]any, what string) {
	t.Helper()
	got, want := newEntity(name), newEntity(name)
	gotErr := Decode(rec, got)
	wantErr := jsonRoundTrip(rec, want)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("%s %s: Decode error = %v; want %v", name, what, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Fatalf("%s %s: Decode = %s\n(%#v);\nwant %s\n(%#v)", name, what, gb, got, wb, want)
	}
}

func TestDecodeMatchesJSONRoundTrip(t *testing.T) {
	recs := decodeRecords(t)
	for _, name := range Entities() {
		if newEntity(name) == nil {
			continue
		}
		if len(recs[name]) == 0 {
			t.Errorf("no test record for %s", name)
		}
		for i, rec := range recs[name] {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				compareDecode(t, name, rec, "as processed")
				// the processed record takes the direct path
				if err := decodeFast(rec, newEntity(name)); err != nil {
					t.Errorf("decodeFast(%s record %d) = %v; want the direct path", name, i, err)
				}
			})
		}
	}
}

// oddValues replace one field at a time: every shape the JSON round trip
// treats specially.
var oddValues = []any{
	nil, "", "text", "bad\xffutf8", true, false,
	0, 7, -3, int64(1) << 60, 3.0, math.Copysign(0, -1), 2.5, 1e300, math.Inf(1), math.NaN(), float64(1 << 53),
	[]any{}, []any(nil), []any{"a", nil, 1}, []any{1.5}, []any{map[string]any{"id": "x"}}, []string{"s"}, []string(nil),
	map[string]any{}, map[string]any(nil), map[string]any{"id": "x"}, map[string]any{"ID": "y", "id": "z"},
	map[string]any{"k": []any{"v"}}, map[string]any{"ip": "1.2.3.4", "port": 80},
	map[string]any{"healthy": map[string]any{"successes": 2}, "type": "http"},
	[]int{1}, int32(5), struct{}{},
}

func TestDecodeOddValuesMatchJSONRoundTrip(t *testing.T) {
	recs := decodeRecords(t)
	for name, list := range recs {
		rec := list[0]
		keys := make([]string, 0, len(rec))
		for k := range rec {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for j, v := range oddValues {
				mod := make(map[string]any, len(rec))
				for kk, vv := range rec {
					mod[kk] = vv
				}
				mod[k] = v
				compareDecode(t, name, mod, fmt.Sprintf("%s=oddValues[%d] (%#v)", k, j, v))
			}
		}
		// extra keys: unknown, case variants, non-ASCII
		for _, extra := range []map[string]any{
			{"unknown": 1}, {"unknown": math.NaN()}, {"ID": "other"}, {"Tags": []any{"x"}},
			{"K\u212a": 1}, {"\xff": 1}, {"nested": map[string]any{"a": []any{1, 2}}},
		} {
			mod := make(map[string]any, len(rec)+1)
			for kk, vv := range rec {
				mod[kk] = vv
			}
			for kk, vv := range extra {
				mod[kk] = vv
			}
			compareDecode(t, name, mod, fmt.Sprintf("with %v", extra))
		}
	}
}

func TestDecodeNilAndNonZeroDestination(t *testing.T) {
	rec := map[string]any{"username": "u"}
	name := "keep"
	c := &Consumer{CustomID: &name, Tags: []string{"old"}}
	want := &Consumer{CustomID: &name, Tags: []string{"old"}}
	if err := jsonRoundTrip(rec, want); err != nil {
		t.Fatal(err)
	}
	if err := Decode(rec, c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Decode into a non-zero value = %+v; want %+v", c, want)
	}
	var nilMap map[string]any
	got := &Consumer{}
	if err := Decode(nilMap, got); err != nil || !reflect.DeepEqual(got, &Consumer{}) {
		t.Errorf("Decode(nil) = %+v, %v; want zero, nil", got, err)
	}
	if err := Decode(rec, Consumer{}); err == nil {
		t.Errorf("Decode into a non-pointer: got nil error; want json's")
	}
}

func TestDecodeCopiesPluginConfig(t *testing.T) {
	inner := map[string]any{"a": []any{1}}
	rec := map[string]any{"name": "x", "config": map[string]any{"inner": inner}}
	var p Plugin
	if err := Decode(rec, &p); err != nil {
		t.Fatal(err)
	}
	inner["a"] = "changed"
	got := p.Config["inner"].(map[string]any)["a"]
	if !reflect.DeepEqual(got, []any{1.0}) {
		t.Errorf("config.inner.a after changing the record = %#v; want []any{1.0} (a copy)", got)
	}
}

func FuzzDecodeMatchesJSONRoundTrip(f *testing.F) {
	for _, list := range decodeRecords(f) {
		for _, rec := range list {
			b, err := json.Marshal(rec)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"port": 1.5, "tags": [null, 1], "name": {"id": 1}}`))
	f.Add([]byte(`{"created_at": 1e21, "ttl": -0, "config": {"a": [1e-7]}}`))
	names := Entities()
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec map[string]any
		if json.Unmarshal(data, &rec) != nil {
			return
		}
		for _, name := range names {
			if newEntity(name) != nil {
				compareDecode(t, name, rec, "fuzzed")
			}
		}
	})
}

func BenchmarkDecodeRoute(b *testing.B) {
	rec := decodeRecords(b)["routes"][0]
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Decode(rec, &Route{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := jsonRoundTrip(rec, &Route{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
