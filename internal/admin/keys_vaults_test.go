package admin

// Kong's vaults, key_sets and keys through the Admin API, after Kong's
// spec/02-integration/04-admin_api/19-vaults_spec.lua and
// 21-admin-api-keys_spec.lua.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
)

// wantJSON compares a response with an expected status and JSON body,
// member order aside.
func wantJSON(t *testing.T, r *resp, status int, body string) {
	t.Helper()
	var got, want any
	if err := json.Unmarshal(r.raw, &got); err != nil || json.Unmarshal([]byte(body), &want) != nil {
		t.Fatalf("got %d %s (%v)\nwant %d %s", r.status, r.raw, err, status, body)
	}
	if r.status != status || !reflect.DeepEqual(got, want) {
		t.Errorf("got %d %s\nwant %d %s", r.status, r.raw, status, body)
	}
}

func TestKongSpecVaults(t *testing.T) {
	c := newServer(t, nil)
	r := c.do("PUT", "/vaults/env-1", map[string]any{"name": "env"})
	if r.status != 200 {
		t.Fatalf("PUT /vaults/env-1: %d %s", r.status, r.raw)
	}
	v := r.json(t)
	if v["prefix"] != "env-1" || v["name"] != "env" || v["id"] == nil {
		t.Fatalf("PUT /vaults/env-1 gave %s", r.raw)
	}
	if v["config"] != nil {
		t.Errorf("config = %v, want null (an optional record Kong leaves unset)", v["config"])
	}
	id := v["id"].(string)
	if r := c.do("GET", "/vaults", nil); r.status != 200 || len(r.json(t)["data"].([]any)) != 1 {
		t.Errorf("GET /vaults: %d %s", r.status, r.raw)
	}
	for _, m := range []string{"DELETE", "PATCH"} {
		wantBody(t, c.do(m, "/vaults", nil), 405, `{"message":"Method not allowed"}`)
	}
	byID, byPrefix := c.do("GET", "/vaults/"+id, nil), c.do("GET", "/vaults/env-1", nil)
	if byID.status != 200 || string(byID.raw) != string(byPrefix.raw) {
		t.Errorf("GET by id %d %s, by prefix %d %s", byID.status, byID.raw, byPrefix.status, byPrefix.raw)
	}
	wantBody(t, c.do("GET", "/vaults/f0e7c1a8-7d3a-4a3b-9a52-1b2c3d4e5f60", nil), 404, `{"message":"Not found"}`)
	wantBody(t, c.do("GET", "/vaults/not-found", nil), 404, `{"message":"Not found"}`)

	if r := c.do("PUT", "/vaults/1e9b1c1a-2b2c-4d4d-8e8e-0f0f0f0f0f0f", map[string]any{"name": "env", "prefix": "put-env-id"}); r.status != 200 {
		t.Errorf("PUT by id: %d %s", r.status, r.raw)
	}
	if r := c.do("PUT", "/vaults/put-env-prefix", map[string]any{"name": "env"}); r.status != 200 || r.json(t)["prefix"] != "put-env-prefix" {
		t.Errorf("PUT by prefix: %d %s", r.status, r.raw)
	}
	const notEnv = `{"name":"schema violation","code":2,"message":"schema violation (prefix: must not be one of: env)","fields":{"prefix":"must not be one of: env"}}`
	wantJSON(t, c.do("PUT", "/vaults/2e9b1c1a-2b2c-4d4d-8e8e-0f0f0f0f0f0f", map[string]any{"name": "env", "prefix": "env"}), 400, notEnv)
	wantJSON(t, c.do("PUT", "/vaults/env", map[string]any{"name": "env"}), 400,
		`{"name":"invalid unique prefix","code":10,"message":"must not be one of: env"}`)

	if r := c.do("PATCH", "/vaults/"+id, map[string]any{"config": map[string]any{"prefix": "SSL_"}}); r.status != 200 ||
		r.json(t)["config"].(map[string]any)["prefix"] != "SSL_" {
		t.Errorf("PATCH config by id: %d %s", r.status, r.raw)
	}
	if r := c.do("PATCH", "/vaults/env-1", map[string]any{"config": map[string]any{"prefix": "CERT_"}}); r.status != 200 ||
		r.json(t)["config"].(map[string]any)["prefix"] != "CERT_" {
		t.Errorf("PATCH config by prefix: %d %s", r.status, r.raw)
	}
	wantJSON(t, c.do("PATCH", "/vaults/"+id, map[string]any{"prefix": "env"}), 400, notEnv)
	wantJSON(t, c.do("PATCH", "/vaults/env-1", map[string]any{"prefix": "env"}), 400, notEnv)
	wantBody(t, c.do("PATCH", "/vaults/f0e7c1a8-7d3a-4a3b-9a52-1b2c3d4e5f60", map[string]any{"name": "env"}), 404, `{"message":"Not found"}`)

	// sluice's own cases: what else the schema refuses
	wantJSON(t, c.do("POST", "/vaults", map[string]any{"name": "aws", "prefix": "aws-1"}), 400,
		`{"name":"schema violation","code":2,"message":"schema violation (name: vault 'aws' is not installed)","fields":{"name":"vault 'aws' is not installed"}}`)
	wantJSON(t, c.do("POST", "/vaults", map[string]any{"name": "env", "prefix": "Bad_Prefix"}), 400,
		`{"name":"schema violation","code":2,"message":"schema violation (prefix: invalid value: Bad_Prefix)","fields":{"prefix":"invalid value: Bad_Prefix"}}`)
	wantJSON(t, c.do("POST", "/vaults", map[string]any{"name": "env", "prefix": "ok-1", "config": map[string]any{"prefix": "1BAD"}}), 400,
		`{"name":"schema violation","code":2,"message":"schema violation (config.prefix: invalid value: 1BAD)","fields":{"config":{"prefix":"invalid value: 1BAD"}}}`)
	if r := c.do("POST", "/vaults", map[string]any{"name": "env", "prefix": "env-1"}); r.status != 409 {
		t.Errorf("duplicate prefix: %d %s, want 409", r.status, r.raw)
	}

	if r := c.do("DELETE", "/vaults/"+id, nil); r.status != 204 {
		t.Errorf("DELETE by id: %d %s", r.status, r.raw)
	}
	wantBody(t, c.do("GET", "/vaults/"+id, nil), 404, `{"message":"Not found"}`)
	if r := c.do("DELETE", "/vaults/put-env-prefix", nil); r.status != 204 {
		t.Errorf("DELETE by prefix: %d %s", r.status, r.raw)
	}
	wantBody(t, c.do("GET", "/vaults/put-env-prefix", nil), 404, `{"message":"Not found"}`)
	if r := c.do("DELETE", "/vaults/f0e7c1a8-7d3a-4a3b-9a52-1b2c3d4e5f60", nil); r.status != 204 {
		t.Errorf("DELETE of a missing vault: %d, want 204", r.status)
	}
}

// ecJWK returns a fresh P-256 key as a JWK (private when withD) with kid.
func ecJWK(t *testing.T, kid string, withD bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(raw[1:33]), "y": b64(raw[33:])}
	if withD {
		priv, err := k.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		m["d"] = b64(priv.Bytes())
	}
	data, _ := json.Marshal(m)
	return string(data)
}

// ecPEM returns a fresh P-256 key pair in PEM.
func ecPEM(t *testing.T) (private, public string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

func TestKongSpecKeys(t *testing.T) {
	c := newServer(t, nil)
	r := c.do("POST", "/key-sets", map[string]any{"name": "test"})
	if r.status != 201 {
		t.Fatalf("POST /key-sets: %d %s", r.status, r.raw)
	}
	set := r.json(t)
	setID := set["id"].(string)
	if set["name"] != "test" || set["tags"] != nil {
		t.Errorf("key-set %s", r.raw)
	}
	priv, pub := ecPEM(t)
	created := map[string]string{}
	for _, in := range []map[string]any{
		{"name": "unique jwk key", "set": map[string]any{"id": setID}, "jwk": ecJWK(t, "k1", true), "kid": "k1"},
		{"name": "unique pem key", "set": map[string]any{"id": setID}, "pem": map[string]any{"public_key": pub, "private_key": priv}, "kid": "test_pem"},
		{"name": "unique jwk key (no set)", "jwk": ecJWK(t, "k2", false), "kid": "k2"},
		{"name": "unique pem key (no set)", "pem": map[string]any{"public_key": pub}, "kid": "test_pem_no_set"},
	} {
		r := c.do("POST", "/keys", in)
		if r.status != 201 {
			t.Fatalf("POST /keys %v: %d %s", in["name"], r.status, r.raw)
		}
		k := r.json(t)
		created[in["name"].(string)] = k["id"].(string)
		if in["set"] != nil && !reflect.DeepEqual(k["set"], map[string]any{"id": setID}) {
			t.Errorf("set = %v", k["set"])
		}
		if in["pem"] == nil && k["pem"] != nil || in["jwk"] == nil && k["jwk"] != nil {
			t.Errorf("key %s: the absent format is not null", r.raw)
		}
	}
	for _, tt := range []struct {
		in  map[string]any
		msg string
	}{
		{map[string]any{"name": "jwk invalid", "jwk": `{"kid": "36"}`, "kid": "36"}, "schema violation (could not load JWK, likely not a valid key)"},
		{map[string]any{"name": "jwk bad json", "jwk": `"kid":test`, "kid": "36"}, "schema violation (could not json decode jwk string)"},
		{map[string]any{"name": "kid mismatch", "jwk": ecJWK(t, "a", false), "kid": "b"}, "schema violation (kid in jwk.kid must be equal to keys.kid)"},
		{map[string]any{"name": "both", "jwk": ecJWK(t, "a", false), "pem": map[string]any{"public_key": pub}, "kid": "a"},
			"schema violation (only one or none of these fields must be set: 'jwk', 'pem')"},
		{map[string]any{"name": "neither", "kid": "a"}, "schema violation (at least one of these fields must be non-empty: 'jwk', 'pem')"},
		{map[string]any{"name": "no kid", "jwk": ecJWK(t, "a", false)}, "schema violation (kid: required field missing)"},
		{map[string]any{"name": "bad pem", "pem": map[string]any{"public_key": "nope"}, "kid": "p"}, "schema violation (pem: could not load public key)"},
	} {
		r := c.do("POST", "/keys", tt.in)
		if r.status != 400 || r.json(t)["message"] != tt.msg {
			t.Errorf("%v: %d %s\nwant 400 with message %q", tt.in["name"], r.status, r.raw, tt.msg)
		}
	}
	// A kid is unique within its set only.
	if r := c.do("POST", "/keys", map[string]any{"jwk": ecJWK(t, "k1", false), "kid": "k1"}); r.status != 201 {
		t.Errorf("kid k1 outside the set: %d %s", r.status, r.raw)
	}
	if r := c.do("POST", "/key-sets/test/keys", map[string]any{"jwk": ecJWK(t, "k1", false), "kid": "k1"}); r.status != 409 {
		t.Errorf("kid k1 again in the set: %d %s, want 409", r.status, r.raw)
	}
	if r := c.do("GET", "/key-sets", nil); r.status != 200 || len(r.json(t)["data"].([]any)) != 1 {
		t.Errorf("GET /key-sets: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/keys", nil); r.status != 200 || len(r.json(t)["data"].([]any)) != 5 {
		t.Errorf("GET /keys: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/key-sets/test/keys", nil); r.status != 200 || len(r.json(t)["data"].([]any)) != 2 {
		t.Errorf("GET /key-sets/test/keys: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/keys/unique%20pem%20key/set", nil); r.status != 200 || r.json(t)["id"] != setID {
		t.Errorf("GET /keys/{name}/set: %d %s", r.status, r.raw)
	}
	if r := c.do("PATCH", "/key-sets/"+setID, map[string]any{"name": "changeme"}); r.status != 200 || r.json(t)["name"] != "changeme" {
		t.Errorf("PATCH key-set: %d %s", r.status, r.raw)
	}
	for _, name := range []string{"unique jwk key", "unique pem key"} {
		if r := c.do("PATCH", "/keys/"+created[name], map[string]any{"name": "changeme " + name}); r.status != 200 ||
			r.json(t)["name"] != "changeme "+name {
			t.Errorf("PATCH key %s: %d %s", name, r.status, r.raw)
		}
	}
	// Deleting the set deletes its keys.
	if r := c.do("DELETE", "/key-sets/"+setID, nil); r.status != 204 {
		t.Fatalf("DELETE key-set: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/keys", nil); len(r.json(t)["data"].([]any)) != 3 {
		t.Errorf("keys after the set's deletion: %s, want 3", r.raw)
	}
	if r := c.do("GET", "/key-sets", nil); len(r.json(t)["data"].([]any)) != 0 {
		t.Errorf("key-sets after deletion: %s", r.raw)
	}
	if r := c.do("GET", "/schemas/keys", nil); r.status != 200 || !strings.Contains(string(r.raw), `"reference":"key_sets"`) {
		t.Errorf("GET /schemas/keys: %d %s", r.status, r.raw)
	}
}

// Without a database, vaults, key_sets and keys come from POST /config
// and are read back as Kong's DB-less Admin API serves them; writes are
// refused.
func TestDBlessVaultsAndKeys(t *testing.T) {
	c, d := newDBless(t, 0)
	_, pub := ecPEM(t)
	cfg := map[string]any{
		"_format_version": "3.0",
		"vaults":          []any{map[string]any{"prefix": "app", "name": "env", "config": map[string]any{"prefix": "APP_"}}},
		"key_sets": []any{map[string]any{"name": "s1", "keys": []any{
			map[string]any{"name": "k1", "kid": "k1", "pem": map[string]any{"public_key": pub}}}}},
	}
	created := c.must(201, "POST", "/config", cfg)
	if created["vaults"] == nil || created["keys"] == nil || created["key_sets"] == nil {
		t.Errorf("POST /config answer lacks the new entities: %v", created)
	}
	if len(d.cfg.Vaults) != 1 || len(d.cfg.Keys) != 1 || len(d.cfg.KeySets) != 1 {
		t.Fatalf("applied %d vaults, %d keys, %d key sets", len(d.cfg.Vaults), len(d.cfg.Keys), len(d.cfg.KeySets))
	}
	if v := c.must(200, "GET", "/vaults/app", nil); v["config"].(map[string]any)["prefix"] != "APP_" {
		t.Errorf("GET /vaults/app: %v", v)
	}
	if ks := c.must(200, "GET", "/key-sets/s1/keys", nil); len(ks["data"].([]any)) != 1 {
		t.Errorf("GET /key-sets/s1/keys: %v", ks)
	}
	if r := c.do("POST", "/vaults", map[string]any{"prefix": "bb", "name": "env"}); r.status != 405 {
		t.Errorf("POST /vaults without a database: %d %s, want 405", r.status, r.raw)
	}
}
