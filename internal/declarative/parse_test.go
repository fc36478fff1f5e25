package declarative

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
)

var fixedNow = time.Unix(1700000000, 0)

func testOpts() *Options {
	return &Options{Now: func() time.Time { return fixedNow }}
}

// v5 computes a name-based (SHA-1) UUID by hand, independently of the
// package under test.
func v5(namespace, name string) string {
	ns, err := hex.DecodeString(strings.ReplaceAll(namespace, "-", ""))
	if err != nil || len(ns) != 16 {
		panic("bad namespace " + namespace)
	}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(name))
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	x := hex.EncodeToString(s)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// kongID is Kong's deterministic id: UUIDv5(UUIDv5(root, entity), name).
func kongID(entity, name string) string {
	return v5(v5("fd02801f-0957-4a15-a55a-c8d9606f30b5", entity), name)
}

// modelValidates reports whether model's Process does real validation (the
// model package may still be a stub while the tests run).
func modelValidates() bool {
	s, ok := model.Lookup("services")
	if !ok {
		return false
	}
	_, err := s.Process(map[string]any{"host": "x", "no_such_field": 1}, nil)
	return err != nil
}

func mustParse(t *testing.T, src string) *model.Config {
	t.Helper()
	cfg, err := Parse([]byte(src), testOpts())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func strp(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestParseExampleFile(t *testing.T) {
	data, err := os.ReadFile("testdata/kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, testOpts())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	counts := []struct {
		name string
		got  int
		want int
	}{
		{"services", len(cfg.Services), 2},
		{"routes", len(cfg.Routes), 3},
		{"consumers", len(cfg.Consumers), 2},
		{"plugins", len(cfg.Plugins), 4},
		{"upstreams", len(cfg.Upstreams), 1},
		{"targets", len(cfg.Targets), 3},
		{"certificates", len(cfg.Certificates), 1},
		{"snis", len(cfg.SNIs), 2},
		{"ca_certificates", len(cfg.CACertificates), 1},
		{"keyauth_credentials", len(cfg.KeyAuthCredentials), 1},
		{"basicauth_credentials", len(cfg.BasicAuthCredentials), 1},
		{"jwt_secrets", len(cfg.JWTSecrets), 1},
		{"acls", len(cfg.ACLs), 2},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%s: got %d; want %d", c.name, c.got, c.want)
		}
	}
	svc1, svc2 := cfg.Services[0], cfg.Services[1]
	if svc1.ID != "7a53bc2f-3a4a-4a4d-9c9d-1e2b3c4d5e6f" {
		t.Errorf("svc1 id: got %s; want the id written in the file", svc1.ID)
	}
	if want := kongID("services", "svc2"); svc2.ID != want {
		t.Errorf("svc2 id: got %s; want %s", svc2.ID, want)
	}
	byName := map[string]*model.Route{}
	for _, r := range cfg.Routes {
		byName[strp(r.Name)] = r
	}
	if r := byName["r1"]; r == nil || r.Service == nil || r.Service.ID != svc1.ID {
		t.Errorf("nested route r1: got service %+v; want %s", r, svc1.ID)
	}
	if r := byName["r3"]; r == nil || r.Service == nil || r.Service.ID != svc2.ID {
		t.Errorf("flat route r3 (service by name): got %+v; want service %s", r, svc2.ID)
	}
	alice := cfg.Consumers[0]
	if want := kongID("consumers", "alice"); alice.ID != want {
		t.Errorf("alice id: got %s; want %s", alice.ID, want)
	}
	for _, p := range cfg.Plugins {
		switch {
		case p.Name == "key-auth":
			if p.Service == nil || p.Service.ID != svc1.ID || p.Route != nil {
				t.Errorf("key-auth nested in svc1: got service=%v route=%v", p.Service, p.Route)
			}
			if want := kongID("plugins", "plugins:*:key-auth::"+svc1.ID+"::"); p.ID != want {
				t.Errorf("key-auth id: got %s; want %s", p.ID, want)
			}
		case p.Name == "cors":
			if p.Service == nil || p.Service.ID != svc2.ID || p.Consumer == nil || p.Consumer.ID != cfg.Consumers[1].ID {
				t.Errorf("cors: got service=%v consumer=%v; want svc2 and bob", p.Service, p.Consumer)
			}
			// references written as names enter the cache key as written
			if want := kongID("plugins", "plugins:*:cors::svc2:bob:"); p.ID != want {
				t.Errorf("cors id: got %s; want %s", p.ID, want)
			}
		case p.Name == "rate-limiting" && p.Consumer != nil:
			if p.Consumer.ID != alice.ID {
				t.Errorf("consumer plugin: got consumer %s; want %s", p.Consumer.ID, alice.ID)
			}
		}
	}
	up := cfg.Upstreams[0]
	for _, tg := range cfg.Targets {
		if tg.Upstream == nil || tg.Upstream.ID != up.ID {
			t.Errorf("target %s: got upstream %v; want %s", tg.Target, tg.Upstream, up.ID)
		}
	}
	if want := kongID("targets", "targets:*:"+up.ID+":10.0.0.1:80"); cfg.Targets[0].ID != want {
		t.Errorf("nested target id: got %s; want %s", cfg.Targets[0].ID, want)
	}
	if want := kongID("targets", "targets:*:up1:10.0.0.3:80"); cfg.Targets[2].ID != want {
		t.Errorf("flat target id: got %s; want %s", cfg.Targets[2].ID, want)
	}
	if cfg.Targets[0].CreatedAt != 1700000000 {
		t.Errorf("target created_at: got %v; want 1700000000", cfg.Targets[0].CreatedAt)
	}
	cert := cfg.Certificates[0]
	if strings.Join(cert.SNIs, ",") != "example.com,other.example.com" {
		t.Errorf("certificate snis: got %v; want [example.com other.example.com]", cert.SNIs)
	}
	for _, s := range cfg.SNIs {
		if s.Certificate == nil || s.Certificate.ID != cert.ID {
			t.Errorf("sni %s: got certificate %v; want %s", s.Name, s.Certificate, cert.ID)
		}
	}
	if want := kongID("snis", "example.com"); cfg.SNIs[0].ID != want {
		t.Errorf("sni id: got %s; want %s", cfg.SNIs[0].ID, want)
	}
	ba := cfg.BasicAuthCredentials[0]
	sum := sha1.Sum([]byte("s3cret" + alice.ID))
	if want := hex.EncodeToString(sum[:]); ba.Password != want {
		t.Errorf("basic-auth password: got %s; want sha1(password+consumer id) %s", ba.Password, want)
	}
	if want := kongID("basicauth_credentials", "basicauth_credentials:*:alice"); ba.ID != want {
		t.Errorf("basic-auth id: got %s; want %s", ba.ID, want)
	}
	if want := kongID("acls", "acls:*:"+alice.ID+":admins"); cfg.ACLs[0].ID != want {
		t.Errorf("nested acl id: got %s; want %s", cfg.ACLs[0].ID, want)
	}
	if cfg.CACertificates[0].CertDigest == "" || len(cfg.CACertificates[0].CertDigest) != 64 {
		t.Errorf("ca cert_digest: got %q; want 64 hex characters", cfg.CACertificates[0].CertDigest)
	}
	if svc1.CreatedAt != fixedNow.Unix() || svc1.UpdatedAt != fixedNow.Unix() {
		t.Errorf("timestamps: got %d/%d; want %d", svc1.CreatedAt, svc1.UpdatedAt, fixedNow.Unix())
	}
}

func TestStableIDs(t *testing.T) {
	data, err := os.ReadFile("testdata/kong.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(c *model.Config) []string {
		var out []string
		for _, e := range c.Services {
			out = append(out, e.ID)
		}
		for _, e := range c.Routes {
			out = append(out, e.ID)
		}
		for _, e := range c.Plugins {
			out = append(out, e.ID)
		}
		for _, e := range c.Targets {
			out = append(out, e.ID)
		}
		for _, e := range c.CACertificates {
			out = append(out, e.ID)
		}
		for _, e := range c.KeyAuthCredentials {
			out = append(out, e.ID)
		}
		for _, e := range c.JWTSecrets {
			out = append(out, e.ID)
		}
		return out
	}
	ga, gb := ids(a), ids(b)
	if strings.Join(ga, ",") != strings.Join(gb, ",") {
		t.Errorf("ids differ between two parses:\n%v\n%v", ga, gb)
	}
	seen := map[string]bool{}
	for _, id := range ga {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
}

func TestKnownDeterministicID(t *testing.T) {
	// The namespace of "services" is UUIDv5(root, "services"); a service
	// named "foo" gets UUIDv5(that, "foo").
	tests := []struct{ entity, name string }{
		{"services", "foo"},
		{"routes", "my-route"},
		{"consumers", "my-user"},
		{"upstreams", "up1"},
	}
	for _, tc := range tests {
		got := DeterministicID(tc.entity, tc.name)
		if want := kongID(tc.entity, tc.name); got != want {
			t.Errorf("DeterministicID(%s, %s): got %s; want %s", tc.entity, tc.name, got, want)
		}
		if got[14] != '5' {
			t.Errorf("DeterministicID(%s, %s) = %s: not a version 5 UUID", tc.entity, tc.name, got)
		}
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *model.Config)
	}{
		{
			name: "json input",
			src:  `{"_format_version":"3.0","services":[{"name":"s","host":"h","routes":[{"name":"r","paths":["/"]}]}]}`,
			check: func(t *testing.T, c *model.Config) {
				if len(c.Routes) != 1 || c.Routes[0].Service == nil || c.Routes[0].Service.ID != c.Services[0].ID {
					t.Errorf("got routes %+v; want one route of service %s", c.Routes, c.Services[0].ID)
				}
			},
		},
		{
			name: "format 2.1 prefixes regex paths with ~",
			src: `_format_version: "2.1"
routes:
- name: r
  paths: ["/plain/path", "/users/\\d+", "/a%2Fb", "/x%2Fy(z)"]
`,
			check: func(t *testing.T, c *model.Config) {
				got := strings.Join(c.Routes[0].Paths, " ")
				want := `/plain/path ~/users/\d+ /a%2Fb ~/x%2Fy(z)`
				if got != want {
					t.Errorf("paths: got %q; want %q", got, want)
				}
			},
		},
		{
			name: "format 1.1 nested routes migrate too, percent triplets normalised",
			src: `_format_version: "1.1"
services:
- name: s
  host: h
  routes:
  - name: r
    paths: ["/v%31/(a|b)%2e%3f"]
`,
			check: func(t *testing.T, c *model.Config) {
				if got, want := c.Routes[0].Paths[0], `~/v1/(a|b)\.%3F`; got != want {
					t.Errorf("path: got %q; want %q", got, want)
				}
			},
		},
		{
			name: "format 3.0 keeps paths as written",
			src: `_format_version: "3.0"
routes:
- name: r
  paths: ["/users/\\d+"]
`,
			check: func(t *testing.T, c *model.Config) {
				if got := c.Routes[0].Paths[0]; got != `/users/\d+` {
					t.Errorf("path: got %q; want it unchanged", got)
				}
			},
		},
		{
			name: "_transform false keeps the password",
			src: `_format_version: "3.0"
_transform: false
consumers:
- username: u
  basicauth_credentials:
  - username: u
    password: already-hashed
`,
			check: func(t *testing.T, c *model.Config) {
				if got := c.BasicAuthCredentials[0].Password; got != "already-hashed" {
					t.Errorf("password: got %q; want it untouched", got)
				}
			},
		},
		{
			name: "references as {id: ...} objects and by id",
			src: `_format_version: "3.0"
services:
- name: s
  id: 11111111-1111-4111-8111-111111111111
  host: h
routes:
- name: a
  service: {id: 11111111-1111-4111-8111-111111111111}
  paths: [/a]
- name: b
  service: 11111111-1111-4111-8111-111111111111
  paths: [/b]
`,
			check: func(t *testing.T, c *model.Config) {
				for _, r := range c.Routes {
					if r.Service == nil || r.Service.ID != "11111111-1111-4111-8111-111111111111" {
						t.Errorf("route %s: got service %v", strp(r.Name), r.Service)
					}
				}
			},
		},
		{
			name: "comments, _ignore and empty sections",
			src: `_format_version: "3.0"
_comment: top
_ignore: [1, 2]
services:
consumers: []
routes:
- name: r
  paths: [/]
  _comment: a route
  _ignore:
  - anything: goes
`,
			check: func(t *testing.T, c *model.Config) {
				if len(c.Routes) != 1 || len(c.Services) != 0 {
					t.Errorf("got %d routes, %d services; want 1, 0", len(c.Routes), len(c.Services))
				}
			},
		},
		{
			name: "yaml anchors and merge keys",
			src: `_format_version: "3.0"
x-base: &base
  host: shared.internal
  port: 8080
services:
- <<: *base
  name: a
- <<: *base
  name: b
  port: 9090
`,
			check: nil, // x-base is an unknown field: covered in the error tests
		},
		{
			name: "upstreams with targets under two parents keep distinct ids",
			src: `_format_version: "3.0"
upstreams:
- name: u1
  targets: [{target: "10.0.0.1:80"}]
- name: u2
  targets: [{target: "10.0.0.1:80"}]
`,
			check: func(t *testing.T, c *model.Config) {
				if c.Targets[0].ID == c.Targets[1].ID {
					t.Errorf("targets under different upstreams share id %s", c.Targets[0].ID)
				}
			},
		},
	}
	for _, tc := range tests {
		if tc.check == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, mustParse(t, tc.src))
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		needsModel bool
		syntax     bool
		want       []string // substrings of Error()
		fields     string   // substring of the JSON body's fields
	}{
		{
			name:   "malformed yaml",
			src:    "_format_version: \"3.0\"\nservices:\n- name: a\n  host: [unclosed\n",
			syntax: true,
			want:   []string{"failed parsing declarative configuration", "line"},
		},
		{
			name:   "empty input",
			src:    "",
			syntax: true,
			want:   []string{"failed parsing declarative configuration: expected an object"},
		},
		{
			name:   "not an object",
			src:    "- a\n- b\n",
			syntax: true,
			want:   []string{"expected an object"},
		},
		{
			name:   "format version missing",
			src:    "services: []\n",
			want:   []string{"_format_version: required field missing"},
			fields: `"_format_version":"required field missing"`,
		},
		{
			name:   "format version unknown",
			src:    "_format_version: \"4.0\"\n",
			want:   []string{"_format_version: expected one of: 1.1, 2.1, 3.0"},
			fields: `"_format_version":"expected one of: 1.1, 2.1, 3.0"`,
		},
		{
			name:   "decK _info is not Kong's",
			src:    "_format_version: \"3.0\"\n_info:\n  select_tags: [a]\n",
			want:   []string{"_info: unknown field (a decK-only key"},
			fields: `"_info":"unknown field"`,
		},
		{
			name:   "entity type sluice does not support",
			src:    "_format_version: \"3.0\"\nworkspaces: []\n",
			want:   []string{"workspaces: unknown field (a Kong entity type sluice does not support)"},
			fields: `"workspaces":"unknown field"`,
		},
		{
			name: "duplicate route name",
			src: `_format_version: "3.0"
services:
- name: s
  host: h
  routes:
  - name: r1
    paths: [/a]
routes:
- name: r1
  paths: [/b]
`,
			want:   []string{`routes[1] (name "r1", line 9): uniqueness violation: 'routes' entity with name set to 'r1' already declared (same as services[1].routes[1]`},
			fields: `"routes":["uniqueness violation: 'routes' entity with name set to 'r1' already declared"]`,
		},
		{
			name: "duplicate plugin on the same service",
			src: `_format_version: "3.0"
services:
- name: s
  host: h
  plugins:
  - name: key-auth
  - name: key-auth
`,
			want: []string{`services[1].plugins[2] (name "key-auth", line 7): uniqueness violation: 'plugins' entity with primary key set to '` +
				kongID("plugins", "plugins:*:key-auth::"+kongID("services", "s")+"::") + `' already declared (same as services[1].plugins[1]`},
		},
		{
			name: "duplicate consumer custom_id",
			src: `_format_version: "3.0"
consumers:
- username: a
  custom_id: x
- username: b
  custom_id: x
`,
			want: []string{`consumers[2] (username "b", line 5): uniqueness violation: 'consumers' entity with custom_id set to 'x' already declared`},
		},
		{
			name: "duplicate key-auth key",
			src: `_format_version: "3.0"
consumers:
- username: a
  keyauth_credentials: [{key: k1}]
- username: b
  keyauth_credentials: [{key: k1}]
`,
			want: []string{`consumers[2].keyauth_credentials[1] (line 6): uniqueness violation: 'keyauth_credentials' entity with key set to 'k1' already declared`},
		},
		{
			name: "duplicate sni",
			src: `_format_version: "3.0"
certificates:
- cert: ` + testCert + `
  key: ` + testKey + `
  snis: [{name: a.example}, {name: a.example}]
`,
			want: []string{`uniqueness violation: 'snis' entity with name set to 'a.example' already declared`},
		},
		{
			name: "duplicate target in one upstream",
			src: `_format_version: "3.0"
upstreams:
- name: u
  targets: [{target: "10.0.0.1:80"}, {target: "10.0.0.1:80"}]
`,
			want: []string{`upstreams[1].targets[2]`, `'targets' entity with primary key set to`},
		},
		{
			name: "missing service reference",
			src: `_format_version: "3.0"
routes:
- name: r
  service: nope
  paths: [/]
`,
			want:   []string{`routes[1] (name "r", line 3): invalid reference 'service: nope' (no such entry in 'services')`},
			fields: `"routes":{"r":["invalid reference 'service: nope' (no such entry in 'services')"]}`,
		},
		{
			name: "missing references of a plugin, object form",
			src: `_format_version: "3.0"
plugins:
- name: cors
  consumer: {id: 22222222-2222-4222-8222-222222222222}
`,
			want: []string{`invalid reference 'consumer: {"id":"22222222-2222-4222-8222-222222222222"}' (no such entry in 'consumers')`},
		},
		{
			name: "nested child sets its parent",
			src: `_format_version: "3.0"
services:
- name: s
  host: h
  routes:
  - name: r
    service: other
    paths: [/]
`,
			want:   []string{`services[1].routes[1] (name "r", line 6): service: value must be null`},
			fields: `"services":[{"routes":[{"service":"value must be null"}]}]`,
		},
		{
			name:   "entity is not a record",
			src:    "_format_version: \"3.0\"\nservices:\n- just-a-string\n",
			want:   []string{"services[1]: expected a record"},
			fields: `"services":["expected a record"]`,
		},
		{
			name:   "section is not an array",
			src:    "_format_version: \"3.0\"\nservices: {name: a}\n",
			want:   []string{"services: expected an array"},
			fields: `"services":"expected an array"`,
		},
		{
			name: "unknown field",
			src: `_format_version: "3.0"
services:
- name: s
  host: h
  colour: blue
`,
			needsModel: true,
			want:       []string{`services[1] (name "s", line 3): colour: unknown field`},
			fields:     `"services":[{"colour":"unknown field"}]`,
		},
		{
			name: "bad regex",
			src: `_format_version: "3.0"
routes:
- name: r1
  paths: ["/ok"]
- name: r2
  paths: ["/fine", "~/bad(["]
`,
			needsModel: true,
			want:       []string{`routes[2] (name "r2", line 5): paths.2: `},
		},
		{
			name: "route with no matching attribute",
			src: `_format_version: "3.0"
routes:
- name: r
  protocols: [http]
`,
			needsModel: true,
			want:       []string{`routes[1] (name "r", line 3): must set one of 'methods', 'hosts', 'headers', 'paths'`},
		},
	}
	validating := modelValidates()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsModel && !validating {
				t.Skip("model.Process does not validate yet")
			}
			cfg, err := Parse([]byte(tc.src), testOpts())
			if err == nil {
				t.Fatalf("Parse: got config %+v; want an error", cfg)
			}
			var se *SyntaxError
			var de *Error
			switch {
			case tc.syntax:
				if !errors.As(err, &se) {
					t.Fatalf("got %T %v; want *SyntaxError", err, err)
				}
			case !errors.As(err, &de):
				t.Fatalf("got %T %v; want *Error", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n  %s\nwant it to contain:\n  %s", err, w)
				}
			}
			if tc.fields != "" {
				body := mustJSON(t, de.Body(false))
				if !strings.Contains(body, tc.fields) {
					t.Errorf("body:\n  %s\nwant fields containing:\n  %s", body, tc.fields)
				}
			}
		})
	}
}

func TestErrorRejectsWholeFile(t *testing.T) {
	src := `_format_version: "3.0"
services:
- name: good
  host: h
routes:
- name: bad
  service: missing
  paths: [/]
`
	cfg, err := Parse([]byte(src), nil)
	if cfg != nil || err == nil {
		t.Fatalf("got cfg=%v err=%v; want nil config and an error", cfg, err)
	}
}

func ExampleError_Problems() {
	_, err := Parse([]byte(`_format_version: "3.0"
routes:
- name: r
  service: nope
  paths: [/]
`), nil)
	var de *Error
	if errors.As(err, &de) {
		for _, p := range de.Problems() {
			fmt.Println(p)
		}
	}
	// Output: routes[1] (name "r", line 3): invalid reference 'service: nope' (no such entry in 'services')
}

func TestPreviousKeepsUnchangedEntities(t *testing.T) {
	v1 := `_format_version: "3.0"
services:
- name: a
  host: a.internal
  routes: [{name: ra, paths: [/a]}]
- name: b
  host: b.internal
`
	v2 := strings.Replace(v1, "b.internal", "b2.internal", 1)
	first, err := Parse([]byte(v1), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	later := &Options{Now: func() time.Time { return fixedNow.Add(time.Hour) }, Previous: first}
	same, err := Parse([]byte(v1), later)
	if err != nil {
		t.Fatal(err)
	}
	if same.Services[0] != first.Services[0] || same.Routes[0] != first.Routes[0] {
		t.Error("reload of the same file: got new entity values; want the previous pointers")
	}
	changed, err := Parse([]byte(v2), later)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Services[0] != first.Services[0] {
		t.Error("unchanged service a: got a new value; want the previous pointer")
	}
	b := changed.Services[1]
	if b == first.Services[1] {
		t.Fatal("changed service b: got the previous pointer")
	}
	if b.CreatedAt != fixedNow.Unix() || b.UpdatedAt != fixedNow.Add(time.Hour).Unix() {
		t.Errorf("changed service b: got created_at %d updated_at %d; want %d and %d",
			b.CreatedAt, b.UpdatedAt, fixedNow.Unix(), fixedNow.Add(time.Hour).Unix())
	}
	if b.Host != "b2.internal" {
		t.Errorf("changed service b: got host %s", b.Host)
	}
}

func TestAutoGeneratedCredentialKeys(t *testing.T) {
	src := `_format_version: "3.0"
consumers:
- username: u
  keyauth_credentials: [{}, {}, {tags: [second]}]
`
	a := mustParse(t, src)
	b := mustParse(t, src)
	if len(a.KeyAuthCredentials) != 3 {
		t.Fatalf("got %d credentials; want 3", len(a.KeyAuthCredentials))
	}
	for i, c := range a.KeyAuthCredentials {
		if c.Key == "" {
			t.Errorf("credential %d: got no key; want one generated", i)
		}
		if c.ID != b.KeyAuthCredentials[i].ID {
			t.Errorf("credential %d: id %s then %s; want stable ids", i, c.ID, b.KeyAuthCredentials[i].ID)
		}
	}
	seen := map[string]bool{}
	for _, c := range a.KeyAuthCredentials {
		if seen[c.ID] {
			t.Errorf("two credentials share id %s", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestParseMeta(t *testing.T) {
	tests := []struct {
		src       string
		version   string
		transform bool
	}{
		{"_format_version: \"3.0\"\n", "3.0", true},
		{"_format_version: \"2.1\"\n_transform: false\n", "2.1", false},
		{"{\"_format_version\": \"1.1\", \"_transform\": true}", "1.1", true},
	}
	for _, tc := range tests {
		_, meta, err := ParseMeta([]byte(tc.src), nil)
		if err != nil {
			t.Fatalf("ParseMeta(%q): %v", tc.src, err)
		}
		if meta.FormatVersion != tc.version || meta.Transform != tc.transform {
			t.Errorf("ParseMeta(%q): got %+v; want version %s transform %v", tc.src, meta, tc.version, tc.transform)
		}
	}
}

// TestParseOAuth2Credentials: oauth2 credentials nested under a consumer
// and at the top, client_id as the endpoint key, hash_secret hashing the
// secret (an already hashed secret and _transform: false keep theirs).
func TestParseOAuth2Credentials(t *testing.T) {
	const hashed = "$pbkdf2-sha256$i=1000,l=20$MDEyMzQ1Njc4OWFiY2RlZg$1OJwliWkObv3LZnrzNj7bkQkS7U"
	src := `_format_version: "3.0"
consumers:
- username: bob
  oauth2_credentials:
  - name: app
    client_id: cid-plain
    client_secret: plain
    redirect_uris: [https://example.com/cb]
  - name: hashed
    client_id: cid-hash
    client_secret: s3cret
    hash_secret: true
oauth2_credentials:
- name: exported
  consumer: bob
  client_id: cid-exported
  client_secret: "` + hashed + `"
  hash_secret: true
  client_type: public
`
	cfg, err := Parse([]byte(src), testOpts())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(cfg.OAuth2Credentials) != 3 {
		t.Fatalf("%d oauth2 credentials; want 3", len(cfg.OAuth2Credentials))
	}
	by := map[string]*model.OAuth2Credential{}
	for _, c := range cfg.OAuth2Credentials {
		by[c.ClientID] = c
		if c.Consumer == nil || c.Consumer.ID != cfg.Consumers[0].ID {
			t.Errorf("%s: consumer %v; want bob's id", c.ClientID, c.Consumer)
		}
	}
	if c := by["cid-plain"]; c.ClientSecret != "plain" || c.HashSecret || c.ClientType != "confidential" || len(c.RedirectURIs) != 1 {
		t.Errorf("cid-plain: %+v", c)
	}
	if c := by["cid-hash"]; !model.VerifyOAuth2Secret("s3cret", c.ClientSecret) {
		t.Errorf("cid-hash: secret %q is not the hash of s3cret", c.ClientSecret)
	}
	if c := by["cid-exported"]; c.ClientSecret != hashed || c.ClientType != "public" {
		t.Errorf("cid-exported: secret %q type %q; want the hash kept, public", c.ClientSecret, c.ClientType)
	}
	cfg, err = Parse([]byte(strings.Replace(src, `"3.0"`, "\"3.0\"\n_transform: false", 1)), testOpts())
	if err != nil {
		t.Fatalf("Parse with _transform false: %v", err)
	}
	for _, c := range cfg.OAuth2Credentials {
		if c.ClientID == "cid-hash" && c.ClientSecret != "s3cret" {
			t.Errorf("_transform: false: secret %q; want it as written", c.ClientSecret)
		}
	}
	_, err = Parse([]byte(strings.Replace(src, "https://example.com/cb", "https://example.com/cb#frag", 1)), testOpts())
	if err == nil || !strings.Contains(err.Error(), "fragment not allowed") {
		t.Errorf("a redirect uri with a fragment: error %v; want fragment not allowed", err)
	}
}

// TestKeyAuthTTLInConfig checks a key-auth credential's ttl in kong.yml:
// as in Kong's declarative config it is the expiry in Unix seconds (what
// `kong config db_export` writes), kept as given; one that is not a number
// is refused.
func TestKeyAuthTTLInConfig(t *testing.T) {
	cfg := mustParse(t, `_format_version: "3.0"
consumers:
- username: u
  keyauth_credentials:
  - key: a
    ttl: 1900000000
  - key: b
`)
	byKey := map[string]*model.KeyAuthCredential{}
	for _, c := range cfg.KeyAuthCredentials {
		byKey[c.Key] = c
	}
	if a := byKey["a"]; a == nil || a.TTL == nil || *a.TTL != 1900000000 {
		t.Fatalf("credential a: %+v; want ttl 1900000000", a)
	}
	if b := byKey["b"]; b == nil || b.TTL != nil {
		t.Fatalf("credential b: %+v; want no ttl", b)
	}
	if !byKey["a"].Expired(time.Unix(1900000000, 0)) || byKey["a"].Expired(time.Unix(1899999998, 0)) {
		t.Error("credential a: expiry not at 1900000000")
	}
	_, err := Parse([]byte(`{"_format_version":"3.0","consumers":[{"username":"u","keyauth_credentials":[{"key":"c","ttl":"soon"}]}]}`), testOpts())
	if err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("ttl \"soon\": error %v; want one naming ttl", err)
	}
}
