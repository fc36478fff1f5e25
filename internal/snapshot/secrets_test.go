package snapshot

import (
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/upstream"
	"sluice/internal/vault"
)

// TestVaultReferences: a referenceable plugin field and a certificate's
// cert and key given as {vault://env/...} are built with the environment's
// values, while the configuration keeps the references; a reference that
// cannot be resolved disables that plugin (its routes answer 500) and
// leaves that certificate out, without failing the build.
func TestVaultReferences(t *testing.T) {
	certPEM, keyPEM := pemCert(t, "secret.test")
	env := map[string]string{"LOG_TOKEN": "t0k3n", "TLS_CERT": certPEM, "TLS_KEY": keyPEM,
		"BAD_CERT": `-----BEGIN CERTIFICATE-----\nMIIB`, "BAD_KEY": keyPEM}
	resolver := &vault.Resolver{Lookup: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	var seen []string
	defs := func(name string) (*plugin.Definition, bool) {
		return &plugin.Definition{Name: name, Priority: 1,
			Schema: &model.Schema{Fields: []*model.Field{{Name: "token", Type: model.TypeString, Referenceable: true}}},
			New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
				seen = append(seen, cfg["token"].(string))
				return nop{}, nil
			}}, true
	}
	ref := "{vault://env/log-token}"
	cfg := &model.Config{
		Plugins: []*model.Plugin{
			{ID: "p1", Name: "with-secret", Enabled: true, Config: map[string]any{"token": ref}},
			{ID: "p2", Name: "missing-secret", Route: fk("r1"), Enabled: true, Config: map[string]any{"token": "{vault://env/nope}"}},
		},
		Routes: []*model.Route{{ID: "r1", Paths: []string{"/"}, Protocols: []string{"http"}}},
		Certificates: []*model.Certificate{
			{ID: "c1", Cert: "{vault://env/tls-cert}", Key: "{vault://env/tls-key}", UpdatedAt: 1},
			{ID: "c2", Cert: "{vault://env/gone-cert}", Key: "{vault://env/gone-key}", UpdatedAt: 1},
			{ID: "c3", Cert: "{vault://env/bad-cert}", Key: "{vault://env/bad-key}", UpdatedAt: 1},
		},
		SNIs: []*model.SNI{{ID: "s1", Name: "secret.test", Certificate: fk("c1")}, {ID: "s2", Name: "gone.test", Certificate: fk("c2")},
			{ID: "s3", Name: "bad.test", Certificate: fk("c3")}},
	}
	def, err := SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Pool: upstream.NewPool(), Plugins: defs, DefaultCert: def, Secrets: resolver.Resolve}
	defer e.Pool.Close()
	s, err := Build(nil, cfg, "h", e)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if len(seen) != 1 || seen[0] != "t0k3n" {
		t.Errorf("plugin configs seen by New: %q; want the resolved token once", seen)
	}
	if cfg.Plugins[0].Config["token"] != ref {
		t.Errorf("the configuration lost its reference: %v", cfg.Plugins[0].Config["token"])
	}
	var missing *plugin.Instance
	for _, in := range s.plugins.instances {
		if in.Entity.ID == "p2" {
			missing = in
		}
	}
	if missing == nil || missing.Err == nil || !strings.Contains(missing.Err.Error(), "NOPE is not set") {
		t.Errorf("plugin with an unresolvable reference: %+v; want an error naming NOPE", missing)
	}
	if got := cnOf(t, s.Certs.Get("secret.test")); got != "secret.test" {
		t.Errorf("certificate from the environment: served %q", got)
	}
	if got := s.Certs.Get("gone.test"); got != def {
		t.Errorf("SNI of an unresolvable certificate: got %v; want the default certificate", cnOf(t, got))
	}
	if got := s.Certs.Get("bad.test"); got != def {
		t.Errorf("SNI of a certificate whose secret is not PEM: got %v; want the default certificate", cnOf(t, got))
	}
}

// TestVaultEntityReferences: a reference through a vaults entity's prefix
// reads the env vault with that entity's config.prefix; when the vaults
// change, a certificate naming one is read again though it did not change.
func TestVaultEntityReferences(t *testing.T) {
	certA, keyA := pemCert(t, "a.test")
	certB, keyB := pemCert(t, "b.test")
	env := map[string]string{"ONE_CERT": certA, "ONE_KEY": keyA, "TWO_CERT": certB, "TWO_KEY": keyB, "ONE_TOKEN": "t1"}
	resolver := &vault.Resolver{Lookup: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	var seen []string
	defs := func(name string) (*plugin.Definition, bool) {
		return &plugin.Definition{Name: name, Priority: 1,
			Schema: &model.Schema{Fields: []*model.Field{{Name: "token", Type: model.TypeString, Referenceable: true}}},
			New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
				seen = append(seen, cfg["token"].(string))
				return nop{}, nil
			}}, true
	}
	cert := &model.Certificate{ID: "c1", Cert: "{vault://site/cert}", Key: "{vault://site/key}", UpdatedAt: 1}
	cfg := &model.Config{
		Vaults:       []*model.Vault{{ID: "v1", Prefix: "site", Name: "env", Config: map[string]any{"prefix": "one_"}}},
		Plugins:      []*model.Plugin{{ID: "p1", Name: "with-secret", Enabled: true, Config: map[string]any{"token": "{vault://site/token}"}}},
		Certificates: []*model.Certificate{cert},
		SNIs:         []*model.SNI{{ID: "s1", Name: "site.test", Certificate: fk("c1")}},
	}
	def, err := SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Pool: upstream.NewPool(), Plugins: defs, DefaultCert: def, Secrets: resolver.Resolve}
	defer e.Pool.Close()
	s1, err := Build(nil, cfg, "h1", e)
	if err != nil {
		t.Fatal(err)
	}
	if got := cnOf(t, s1.Certs.Get("site.test")); got != "a.test" {
		t.Errorf("certificate through the vault entity: served %q, want a.test", got)
	}
	if len(seen) != 1 || seen[0] != "t1" {
		t.Errorf("plugin saw %q, want the token ONE_TOKEN", seen)
	}
	// The same certificate entity, the vault's prefix changed.
	next := *cfg
	next.Vaults = []*model.Vault{{ID: "v1", Prefix: "site", Name: "env", Config: map[string]any{"prefix": "two_"}, UpdatedAt: 2}}
	s2, err := Build(s1, &next, "h2", e)
	if err != nil {
		t.Fatal(err)
	}
	if got := cnOf(t, s2.Certs.Get("site.test")); got != "b.test" {
		t.Errorf("after the vault changed: served %q, want b.test", got)
	}
}
