package admin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
)

// selfSigned returns a PEM certificate and key; ca marks a CA certificate.
func selfSigned(t testing.TB, cn string, ca bool) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{cn}, IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// TestCRUDRoundTrip creates, reads (by id and by endpoint key), patches,
// replaces and deletes one entity of every kind.
func TestCRUDRoundTrip(t *testing.T) {
	c := newServer(t, nil)
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "example.com"})
	cons := c.must(201, "POST", "/consumers", map[string]any{"username": "alice"})
	up := c.must(201, "POST", "/upstreams", map[string]any{"name": "up.internal"})
	cert, key := selfSigned(t, "example.com", false)
	caCert, _ := selfSigned(t, "My CA", true)
	crt := c.must(201, "POST", "/certificates", map[string]any{"cert": cert, "key": key})

	tests := []struct {
		name     string
		coll     string // collection to POST to
		item     string // item prefix for GET/PATCH/DELETE by id
		body     map[string]any
		key      string // endpoint key value, "" when id-only
		keyPath  string // prefix for the endpoint-key lookups
		patch    map[string]any
		check    string // field checked after the patch
		want     any
		entity   string
		fkParent string
	}{
		{name: "service", coll: "/services", item: "/services/", body: map[string]any{"name": "s2", "url": "https://api.example.com/v1"},
			key: "s2", keyPath: "/services/", patch: map[string]any{"retries": 2}, check: "retries", want: 2.0, entity: "services"},
		{name: "route", coll: "/routes", item: "/routes/", body: map[string]any{"name": "r1", "paths": []any{"/r1"}, "service": map[string]any{"name": "svc"}},
			key: "r1", keyPath: "/routes/", patch: map[string]any{"methods": []any{"GET"}}, check: "methods", want: []any{"GET"}, entity: "routes"},
		{name: "consumer", coll: "/consumers", item: "/consumers/", body: map[string]any{"username": "bob", "custom_id": "b-1"},
			key: "bob", keyPath: "/consumers/", patch: map[string]any{"custom_id": "b-2"}, check: "custom_id", want: "b-2", entity: "consumers"},
		{name: "plugin", coll: "/plugins", item: "/plugins/", body: map[string]any{"name": "test-limit", "instance_name": "lim", "config": map[string]any{"minute": 3}},
			key: "lim", keyPath: "/plugins/", patch: map[string]any{"config": map[string]any{"policy": "redis"}}, check: "config",
			want: map[string]any{"minute": 3.0, "policy": "redis"}, entity: "plugins"},
		{name: "upstream", coll: "/upstreams", item: "/upstreams/", body: map[string]any{"name": "u2.internal"},
			key: "u2.internal", keyPath: "/upstreams/", patch: map[string]any{"slots": 100}, check: "slots", want: 100.0, entity: "upstreams"},
		{name: "target", coll: "/upstreams/up.internal/targets", item: "/upstreams/up.internal/targets/", body: map[string]any{"target": "10.0.0.1:80"},
			key: "10.0.0.1:80", keyPath: "/upstreams/up.internal/targets/", patch: map[string]any{"weight": 5}, check: "weight", want: 5.0, entity: "targets"},
		{name: "sni", coll: "/snis", item: "/snis/", body: map[string]any{"name": "a.example.com", "certificate": map[string]any{"id": crt["id"]}},
			key: "a.example.com", keyPath: "/snis/", patch: map[string]any{"tags": []any{"t"}}, check: "tags", want: []any{"t"}, entity: "snis"},
		{name: "ca certificate", coll: "/ca_certificates", item: "/ca_certificates/", body: map[string]any{"cert": caCert},
			patch: map[string]any{"tags": []any{"ca"}}, check: "tags", want: []any{"ca"}, entity: "ca_certificates"},
		{name: "key-auth", coll: "/consumers/alice/key-auth", item: "/key-auths/", body: map[string]any{"key": "secret-1"},
			key: "secret-1", keyPath: "/key-auths/", patch: map[string]any{"tags": []any{"k"}}, check: "tags", want: []any{"k"}, entity: "keyauth_credentials"},
		{name: "basic-auth", coll: "/consumers/alice/basic-auth", item: "/basic-auths/", body: map[string]any{"username": "al", "password": "pw"},
			key: "al", keyPath: "/basic-auths/", patch: map[string]any{"password": "pw2"}, check: "password",
			want: model.HashBasicAuthPassword("pw2", cons["id"].(string)), entity: "basicauth_credentials"},
		{name: "hmac-auth", coll: "/consumers/alice/hmac-auth", item: "/hmac-auths/", body: map[string]any{"username": "al-hmac"},
			key: "al-hmac", keyPath: "/hmac-auths/", patch: map[string]any{"secret": "s2"}, check: "secret", want: "s2",
			entity: "hmacauth_credentials"},
		{name: "jwt", coll: "/consumers/alice/jwt", item: "/jwts/", body: map[string]any{"key": "iss-1", "secret": "s3cr3t"},
			key: "iss-1", keyPath: "/jwts/", patch: map[string]any{"algorithm": "HS512"}, check: "algorithm", want: "HS512", entity: "jwt_secrets"},
		{name: "acl", coll: "/consumers/alice/acls", item: "/acls/", body: map[string]any{"group": "admins"},
			patch: map[string]any{"group": "ops"}, check: "group", want: "ops", entity: "acls"},
		{name: "oauth2", coll: "/consumers/alice/oauth2", item: "/oauth2/", body: map[string]any{"name": "app", "client_id": "cid-1"},
			key: "cid-1", keyPath: "/oauth2/", patch: map[string]any{"redirect_uris": []any{"https://example.com/cb"}},
			check: "redirect_uris", want: []any{"https://example.com/cb"}, entity: "oauth2_credentials"},
	}
	_ = svc
	_ = up
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.count(tt.entity)
			created := c.must(201, "POST", tt.coll, tt.body)
			id, _ := created["id"].(string)
			if !isUUID(id) {
				t.Fatalf("created id %q is not a UUID", id)
			}
			if got := c.count(tt.entity); got != before+1 {
				t.Fatalf("store holds %d %s; want %d", got, tt.entity, before+1)
			}
			got := c.must(200, "GET", tt.item+id, nil)
			if !equalJSON(got, created) {
				t.Errorf("GET by id: got %v; want %v", got, created)
			}
			if tt.key != "" {
				got = c.must(200, "GET", tt.keyPath+tt.key, nil)
				if got["id"] != id {
					t.Errorf("GET by key %q: got id %v; want %s", tt.key, got["id"], id)
				}
			}
			patched := c.must(200, "PATCH", tt.item+id, tt.patch)
			if !equalJSON(patched[tt.check], tt.want) {
				t.Errorf("after PATCH %s = %v; want %v", tt.check, patched[tt.check], tt.want)
			}
			if patched["id"] != id {
				t.Errorf("PATCH changed the id: %v", patched["id"])
			}
			got = c.must(200, "GET", tt.item+id, nil)
			if !equalJSON(got, patched) {
				t.Errorf("GET after PATCH: got %v; want %v", got, patched)
			}
			c.must(204, "DELETE", tt.item+id, nil)
			c.must(404, "GET", tt.item+id, nil)
			if got := c.count(tt.entity); got != before {
				t.Errorf("store holds %d %s after DELETE; want %d", got, tt.entity, before)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	return string(mustJSON(a)) == string(mustJSON(b))
}

// TestCreateBodies checks exact bodies of a few creations against golden
// files (go test -update rewrites them).
func TestCreateBodies(t *testing.T) {
	c := newServer(t, nil)
	tests := []struct {
		golden, method, path string
		body                 any
		status               int
	}{
		{"service_create", "POST", "/services", map[string]any{"name": "svc", "url": "https://example.com:8443/api", "tags": []any{"a", "b"}}, 201},
		{"route_create", "POST", "/services/svc/routes", map[string]any{"name": "r", "hosts": []any{"example.com"}, "paths": []any{"/x"}}, 201},
		{"consumer_put", "PUT", "/consumers/carol", map[string]any{"custom_id": "c-1"}, 200},
		{"plugin_create", "POST", "/services/svc/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 10}}, 201},
		{"upstream_create", "POST", "/upstreams", map[string]any{"name": "backend"}, 201},
		{"target_create", "POST", "/upstreams/backend/targets", map[string]any{"target": "10.1.1.1"}, 201},
		{"keyauth_create", "POST", "/consumers/carol/key-auth", map[string]any{"key": "k-1"}, 201},
		{"list_routes", "GET", "/services/svc/routes", nil, 200},
		{"err_unknown_field", "POST", "/services", map[string]any{"host": "a.com", "nope": 1}, 400},
		{"err_entity_check", "POST", "/consumers", map[string]any{}, 400},
	}
	for _, tt := range tests {
		r := c.do(tt.method, tt.path, tt.body)
		if r.status != tt.status {
			t.Fatalf("%s %s: got %d; want %d: %s", tt.method, tt.path, r.status, tt.status, r.raw)
		}
		golden(t, tt.golden, r.raw)
	}
}

func TestPutByEndpointKey(t *testing.T) {
	c := newServer(t, nil)
	first := c.must(200, "PUT", "/services/api", map[string]any{"host": "a.example.com", "retries": 1})
	if first["name"] != "api" || first["host"] != "a.example.com" {
		t.Fatalf("PUT created %v", first)
	}
	second := c.must(200, "PUT", "/services/api", map[string]any{"host": "b.example.com"})
	if second["id"] != first["id"] {
		t.Errorf("PUT replaced with a new id %v; want %v", second["id"], first["id"])
	}
	if second["host"] != "b.example.com" || second["retries"] != 5.0 {
		t.Errorf("PUT did not replace whole: host %v retries %v; want b.example.com 5", second["host"], second["retries"])
	}
	if n := c.count("services"); n != 1 {
		t.Errorf("store holds %d services; want 1", n)
	}
	// The name in the URL wins over one in the body.
	third := c.must(200, "PUT", "/services/api", map[string]any{"name": "other", "host": "b.example.com"})
	if third["name"] != "api" || third["id"] != first["id"] {
		t.Errorf("PUT /services/api with another name in the body: got name %v id %v", third["name"], third["id"])
	}
	// PUT by UUID creates with that id.
	id := "0b0e8d3e-7c6e-4d6f-9a43-6f1f5f0e1a11"
	got := c.must(200, "PUT", "/services/"+id, map[string]any{"host": "c.example.com"})
	if got["id"] != id {
		t.Errorf("PUT by id created id %v; want %s", got["id"], id)
	}
	// PUT on a nested path forces the parent.
	rt := c.must(200, "PUT", "/services/api/routes/r1", map[string]any{"paths": []any{"/"}})
	if fk, _ := rt["service"].(map[string]any); fk["id"] != first["id"] {
		t.Errorf("nested PUT set service %v; want %v", rt["service"], first["id"])
	}
}

func TestDeleteIdempotent(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/services", map[string]any{"name": "s", "host": "a.com"})
	c.must(204, "DELETE", "/services/s", nil)
	c.must(204, "DELETE", "/services/s", nil)
	c.must(204, "DELETE", "/services/6f5a4d13-1d7c-4a83-9d0e-8a9f3f0b7c55", nil)
	if n := c.count("services"); n != 0 {
		t.Errorf("store holds %d services; want 0", n)
	}
}

func TestNestedEndpoints(t *testing.T) {
	c := newServer(t, nil)
	s1 := c.must(201, "POST", "/services", map[string]any{"name": "s1", "host": "a.com"})
	c.must(201, "POST", "/services", map[string]any{"name": "s2", "host": "b.com"})
	r1 := c.must(201, "POST", "/services/s1/routes", map[string]any{"name": "r1", "paths": []any{"/1"}})
	c.must(201, "POST", "/services/s2/routes", map[string]any{"name": "r2", "paths": []any{"/2"}})
	c.must(201, "POST", "/routes", map[string]any{"name": "r3", "paths": []any{"/3"}})

	list := c.must(200, "GET", "/services/s1/routes", nil)
	data := list["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["name"] != "r1" {
		t.Errorf("GET /services/s1/routes: got %v; want only r1", data)
	}
	c.must(200, "GET", "/services/s1/routes/r1", nil)
	c.must(404, "GET", "/services/s2/routes/r1", nil)
	c.must(404, "PATCH", "/services/s2/routes/r1", map[string]any{"paths": []any{"/z"}})
	c.must(404, "DELETE", "/services/s2/routes/r1", nil)
	c.must(404, "GET", "/services/nope/routes", nil)
	c.must(404, "POST", "/services/nope/routes", map[string]any{"paths": []any{"/"}})

	got := c.must(200, "GET", "/routes/r1/service", nil)
	if got["id"] != s1["id"] {
		t.Errorf("GET /routes/r1/service: got id %v; want %v", got["id"], s1["id"])
	}
	c.must(404, "GET", "/routes/r3/service", nil)
	c.must(405, "DELETE", "/routes/r1/service", nil)
	got = c.must(200, "PATCH", "/routes/"+r1["id"].(string)+"/service", map[string]any{"retries": 9})
	if got["retries"] != 9.0 || got["id"] != s1["id"] {
		t.Errorf("PATCH /routes/r1/service: got %v", got)
	}
	// PUT on a route without a service creates one and links it.
	created := c.must(200, "PUT", "/routes/r3/service", map[string]any{"host": "linked.com"})
	r3 := c.must(200, "GET", "/routes/r3", nil)
	if fk, _ := r3["service"].(map[string]any); fk["id"] != created["id"] {
		t.Errorf("PUT /routes/r3/service did not link: route service %v; want %v", r3["service"], created["id"])
	}

	c.must(201, "POST", "/consumers", map[string]any{"username": "u1"})
	c.must(201, "POST", "/consumers", map[string]any{"username": "u2"})
	k := c.must(201, "POST", "/consumers/u1/key-auth", map[string]any{})
	if key, _ := k["key"].(string); len(key) < 32 {
		t.Errorf("generated key-auth key %q; want 32 hex characters", key)
	}
	c.must(200, "GET", "/consumers/u1/key-auth/"+k["id"].(string), nil)
	c.must(404, "GET", "/consumers/u2/key-auth/"+k["id"].(string), nil)
	owner := c.must(200, "GET", "/key-auths/"+k["id"].(string)+"/consumer", nil)
	if owner["username"] != "u1" {
		t.Errorf("GET /key-auths/{k}/consumer: got %v; want u1", owner["username"])
	}

	p := c.must(201, "POST", "/routes/r1/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1}})
	list = c.must(200, "GET", "/routes/r1/plugins", nil)
	if n := len(list["data"].([]any)); n != 1 {
		t.Errorf("GET /routes/r1/plugins: got %d plugins; want 1", n)
	}
	c.must(404, "GET", "/routes/r2/plugins/"+p["id"].(string), nil)
	got = c.must(200, "GET", "/plugins/"+p["id"].(string)+"/route", nil)
	if got["name"] != "r1" {
		t.Errorf("GET /plugins/{p}/route: got %v", got["name"])
	}
	// A consumer-less plugin refuses consumer scoping.
	r := c.do("POST", "/consumers/u1/plugins", map[string]any{"name": "test-auth"})
	if r.status != 400 {
		t.Errorf("POST /consumers/u1/plugins test-auth: got %d; want 400: %s", r.status, r.raw)
	}

	c.must(201, "POST", "/upstreams", map[string]any{"name": "up"})
	c.must(201, "POST", "/upstreams", map[string]any{"name": "up2"})
	tg := c.must(201, "POST", "/upstreams/up/targets", map[string]any{"target": "10.0.0.1:8080"})
	c.must(200, "GET", "/upstreams/up/targets/10.0.0.1:8080", nil)
	c.must(404, "GET", "/upstreams/up2/targets/"+tg["id"].(string), nil)
	c.must(404, "GET", "/targets", nil)
	all := c.must(200, "GET", "/upstreams/up/targets/all", nil)
	if n := len(all["data"].([]any)); n != 1 {
		t.Errorf("GET /upstreams/up/targets/all: %d targets; want 1", n)
	}

	cert, key := selfSigned(t, "x.example.com", false)
	crt := c.must(201, "POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []any{"x.example.com", "y.example.com"}})
	if !equalJSON(crt["snis"], []any{"x.example.com", "y.example.com"}) {
		t.Errorf("certificate snis: got %v", crt["snis"])
	}
	snis := c.must(200, "GET", "/certificates/"+crt["id"].(string)+"/snis", nil)
	if n := len(snis["data"].([]any)); n != 2 {
		t.Errorf("GET /certificates/{c}/snis: %d snis; want 2", n)
	}
	crt = c.must(200, "PATCH", "/certificates/"+crt["id"].(string), map[string]any{"snis": []any{"y.example.com"}})
	if !equalJSON(crt["snis"], []any{"y.example.com"}) || c.count("snis") != 1 {
		t.Errorf("after PATCH snis: got %v, store holds %d snis; want [y.example.com], 1", crt["snis"], c.count("snis"))
	}
	byName := c.must(200, "GET", "/certificates/y.example.com", nil)
	if byName["id"] != crt["id"] {
		t.Errorf("GET /certificates/{sni}: got id %v; want %v", byName["id"], crt["id"])
	}
	r = c.do("GET", "/certificates/unknown.example.com", nil)
	if r.status != 404 || string(r.raw) != `{"message":"SNI not found"}` {
		t.Errorf("GET /certificates/{unknown sni}: %d %s", r.status, r.raw)
	}
	cert2, key2 := selfSigned(t, "new.example.com", false)
	made := c.must(200, "PUT", "/certificates/new.example.com", map[string]any{"cert": cert2, "key": key2})
	if !equalJSON(made["snis"], []any{"new.example.com"}) || made["id"] == crt["id"] {
		t.Errorf("PUT /certificates/{new sni}: %v", made)
	}
	// ca_certificates have no endpoint key (ACLs have "group").
	r = c.do("GET", "/ca_certificates/not-a-uuid", nil)
	want := `{"code":1,"name":"invalid primary key","message":"invalid primary key: '{id=\"not-a-uuid\"}'","fields":{"id":"expected a valid UUID"}}`
	if r.status != 400 || string(r.raw) != want {
		t.Errorf("GET /ca_certificates/not-a-uuid: %d %s; want 400 %s", r.status, r.raw, want)
	}
	// A PUT without snis (go-kong's certificate update) keeps them.
	crt = c.must(200, "PUT", "/certificates/"+crt["id"].(string), map[string]any{"cert": cert, "key": key})
	if !equalJSON(crt["snis"], []any{"y.example.com"}) || c.count("snis") != 2 {
		t.Errorf("after PUT without snis: got %v, store holds %d snis", crt["snis"], c.count("snis"))
	}
}

func TestDeleteCascadesAndReferences(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "u"})
	c.must(201, "POST", "/consumers/u/key-auth", map[string]any{"key": "k"})
	c.must(201, "POST", "/consumers/u/acls", map[string]any{"group": "g"})
	c.must(204, "DELETE", "/consumers/u", nil)
	if n := c.count("keyauth_credentials") + c.count("acls"); n != 0 {
		t.Errorf("credentials left after deleting their consumer: %d", n)
	}
	c.must(201, "POST", "/services", map[string]any{"name": "s", "host": "a.com"})
	c.must(201, "POST", "/services/s/routes", map[string]any{"paths": []any{"/"}})
	r := c.do("DELETE", "/services/s", nil)
	want := `{"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}}`
	if r.status != 400 || string(r.raw) != want {
		t.Errorf("DELETE referenced service: got %d %s; want 400 %s", r.status, r.raw, want)
	}
	if n := c.count("services"); n != 1 {
		t.Errorf("store holds %d services; want 1", n)
	}
}

func TestPatchPluginConfigMerges(t *testing.T) {
	c := newServer(t, nil)
	p := c.must(201, "POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 7, "policy": "redis"}})
	got := c.must(200, "PATCH", "/plugins/"+p["id"].(string), "config.minute=8", "application/x-www-form-urlencoded")
	if !equalJSON(got["config"], map[string]any{"minute": 8, "policy": "redis"}) {
		t.Errorf("PATCH config.minute: got config %v; want minute 8, policy redis", got["config"])
	}
	if got["created_at"] != p["created_at"] {
		t.Errorf("PATCH changed created_at: %v; want %v", got["created_at"], p["created_at"])
	}
	r := c.do("PATCH", "/plugins/"+p["id"].(string), map[string]any{"config": map[string]any{"minute": "x"}})
	if r.status != 400 {
		t.Errorf("PATCH with a bad config: got %d; want 400", r.status)
	}
	got = c.must(200, "GET", "/plugins/"+p["id"].(string), nil)
	if !equalJSON(got["config"], map[string]any{"minute": 8, "policy": "redis"}) {
		t.Errorf("failed PATCH changed the plugin: %v", got["config"])
	}
}

func TestBasicAuthPasswordHashed(t *testing.T) {
	c := newServer(t, nil)
	cons := c.must(201, "POST", "/consumers", map[string]any{"username": "u"})
	got := c.must(201, "POST", "/consumers/u/basic-auth", "username=bob&password=hunter2", "application/x-www-form-urlencoded")
	want := model.HashBasicAuthPassword("hunter2", cons["id"].(string))
	if got["password"] != want {
		t.Errorf("stored password %v; want the hash %s", got["password"], want)
	}
	// A PATCH without a password keeps the hash as it is.
	got = c.must(200, "PATCH", "/basic-auths/bob", map[string]any{"tags": []any{"x"}})
	if got["password"] != want {
		t.Errorf("PATCH without password: password %v; want %s", got["password"], want)
	}
}

// TestOAuth2CredentialSecretHashed: with hash_secret the stored secret is
// Kong's PBKDF2 hash of the one written; a PATCH without a secret keeps the
// hash, one with a new secret hashes that; generated ids and secrets are
// random; a fragment in a redirect uri is refused with Kong's message.
func TestOAuth2CredentialSecretHashed(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "u"})
	got := c.must(201, "POST", "/consumers/u/oauth2", map[string]any{"name": "app", "client_id": "cid", "client_secret": "s3cret", "hash_secret": true})
	h, _ := got["client_secret"].(string)
	if !model.VerifyOAuth2Secret("s3cret", h) {
		t.Fatalf("stored secret %q; want the hash of s3cret", h)
	}
	got = c.must(200, "PATCH", "/oauth2/cid", map[string]any{"name": "renamed"})
	if got["client_secret"] != h {
		t.Errorf("PATCH without a secret: %v; want the hash kept", got["client_secret"])
	}
	got = c.must(200, "PATCH", "/oauth2/cid", map[string]any{"client_secret": "other"})
	if s, _ := got["client_secret"].(string); !model.VerifyOAuth2Secret("other", s) {
		t.Errorf("PATCH with a secret: %q; want the hash of other", s)
	}
	plain := c.must(201, "POST", "/consumers/u/oauth2", "name=app2", "application/x-www-form-urlencoded")
	if id, _ := plain["client_id"].(string); len(id) < 16 || plain["client_secret"] == nil || plain["hash_secret"] != false || plain["client_type"] != "confidential" {
		t.Errorf("defaults: %v", plain)
	}
	r := c.do("POST", "/consumers/u/oauth2", map[string]any{"name": "bad", "redirect_uris": []any{"https://example.com/#x"}})
	if r.status != 400 || !strings.Contains(string(r.raw), `fragment not allowed in 'https://example.com/#x'`) {
		t.Errorf("redirect uri with a fragment: %d %s", r.status, r.raw)
	}
	list := c.must(200, "GET", "/oauth2", nil)
	if data, _ := list["data"].([]any); len(data) != 2 {
		t.Errorf("GET /oauth2: %v; want 2 credentials", list)
	}
}

// TestHMACAuthCredentials: Kong's hmac-auth credential answers (02-api
// spec): a random secret when none is given, username required, a secret
// that is not a string refused, PUT by username creates.
func TestHMACAuthCredentials(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/consumers", map[string]any{"username": "bob"})
	got := c.must(201, "POST", "/consumers/bob/hmac-auth", map[string]any{"username": "bob-hmac"})
	if s, _ := got["secret"].(string); len(s) < 16 {
		t.Errorf("generated secret %v; want a random string", got["secret"])
	}
	r := c.do("POST", "/consumers/bob/hmac-auth", map[string]any{})
	wantBody(t, r, 400, `{"code":2,"name":"schema violation","message":"schema violation (username: required field missing)","fields":{"username":"required field missing"}}`)
	r = c.do("PUT", "/consumers/bob/hmac-auth/foo", map[string]any{"secret": 123})
	if r.status != 400 || !strings.Contains(string(r.raw), `"secret":"expected a string"`) {
		t.Errorf("secret 123: %d %s; want 400 expected a string", r.status, r.raw)
	}
	got = c.must(200, "PUT", "/consumers/bob/hmac-auth/foo", map[string]any{"secret": "s"})
	if got["username"] != "foo" || got["secret"] != "s" {
		t.Errorf("PUT by username: %v", got)
	}
	c.must(200, "GET", "/hmac-auths/foo", nil)
	cons := c.must(200, "GET", "/hmac-auths/foo/consumer", nil)
	if cons["username"] != "bob" {
		t.Errorf("GET /hmac-auths/foo/consumer = %v", cons)
	}
}

func TestTargetTimestampsHaveMilliseconds(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	r := c.do("POST", "/upstreams/u/targets", map[string]any{"target": "a.com:80"})
	if r.status != http.StatusCreated {
		t.Fatalf("got %d: %s", r.status, r.raw)
	}
	got := r.json(t)
	if got["created_at"] != 1767323045.678 {
		t.Errorf("target created_at %v; want 1767323045.678", got["created_at"])
	}
}

func TestForeignKeyByUniqueField(t *testing.T) {
	c := newServer(t, nil)
	cons := c.must(201, "POST", "/consumers", map[string]any{"username": "u", "custom_id": "ext-9"})
	p := c.must(201, "POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1},
		"consumer": map[string]any{"custom_id": "ext-9"}})
	if fk, _ := p["consumer"].(map[string]any); fk["id"] != cons["id"] {
		t.Errorf("consumer by custom_id: got %v; want id %v", p["consumer"], cons["id"])
	}
	// An empty name is not looked up: Kong reports the missing id.
	r := c.do("POST", "/routes", "paths=/&service.name=", "application/x-www-form-urlencoded")
	want := `{"code":2,"name":"schema violation","message":"schema violation (service.id: missing primary key)","fields":{"service":{"id":"missing primary key"}}}`
	if r.status != 400 || string(r.raw) != want {
		t.Errorf("empty service.name: got %d %s; want 400 %s", r.status, r.raw, want)
	}
}
