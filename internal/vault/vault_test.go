package vault

import (
	"strings"
	"testing"

	"sluice/internal/model"
)

func TestResolve(t *testing.T) {
	env := map[string]string{
		"MY_SECRET":       "s1",
		"SECURE_DB_PASS":  "s2",
		"KONG_REDIS_PASS": "s3",
		"CREDS":           `{"user":"u","pass":"p","port":6379}`,
	}
	r := &Resolver{Lookup: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	withPrefix := &Resolver{Lookup: r.Lookup, Prefix: "kong_"}
	for _, tt := range []struct {
		r        *Resolver
		ref, out string
		err      string
	}{
		{r, "{vault://env/my-secret}", "s1", ""},
		{r, "{vault://env/MY_SECRET}", "s1", ""},
		{r, "{vault://env/db-pass?prefix=secure_}", "s2", ""},
		{r, "{vault://env/db-pass?prefix=secure-}", "s2", ""}, // Kong's spec: test- reads TEST_ENV
		{withPrefix, "{vault://env/redis-pass}", "s3", ""},
		{r, "{vault://env/creds/pass}", "p", ""},
		{r, "{vault://env/creds/port}", "6379", ""},
		{r, "{vault://env/missing}", "", "environment variable MISSING is not set"},
		{r, "{vault://env/creds/nope}", "", `no key "nope"`},
		{r, "{vault://env/my-secret/key}", "", "not a JSON object"},
		{r, "{vault://hcv/secret}", "", `could not find vault (hcv)`},
		{r, "{vault://env}", "", "want {vault://"},
		{r, "plain", "", "not a vault reference"},
	} {
		got, err := tt.r.Resolve(tt.ref, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tt.ref, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.out {
			t.Errorf("%s: %q, %v; want %q", tt.ref, got, err, tt.out)
		}
	}
}

// FuzzParse: any string parses or is refused without panicking; a parse
// has a vault name and a resource.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"{vault://env/a}", "{vault://env/a/b?prefix=x}", "{vault://}", "{vault://e/?%zz}", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err == nil && (r.Name == "" || r.Resource == "") {
			t.Errorf("%q: parsed without a name or resource: %+v", s, r)
		}
	})
}

// TestResolveThroughVaultEntity: a reference whose vault is a vaults
// entity's prefix reads the env vault with the entity's config.prefix,
// which the reference's ?prefix= overrides; the env vault itself keeps
// vault_env_prefix.
func TestResolveThroughVaultEntity(t *testing.T) {
	env := map[string]string{"SECRET_FOO_BAR": "a", "OTHER_FOO_BAR": "b", "KONG_FOO_BAR": "c", "FOO_BAR": "d",
		"SECRET_DB": `{"password":"pw"}`}
	r := &Resolver{Lookup: func(n string) (string, bool) { v, ok := env[n]; return v, ok }, Prefix: "kong_"}
	vaults := []*model.Vault{
		{Prefix: "my-env", Name: "env", Config: map[string]any{"prefix": "SECRET_"}},
		{Prefix: "bare", Name: "env", Config: map[string]any{"prefix": nil}},
		{Prefix: "aws-ish", Name: "aws"},
	}
	for _, tt := range []struct{ ref, out, err string }{
		{"{vault://my-env/foo-bar}", "a", ""},
		{"{vault://my-env/foo-bar?prefix=other_}", "b", ""},
		{"{vault://env/foo-bar}", "c", ""},
		{"{vault://bare/foo-bar}", "d", ""},
		{"{vault://my-env/db/password}", "pw", ""},
		{"{vault://nope/foo}", "", "could not find vault (nope)"},
		{"{vault://aws-ish/foo}", "", `vault "aws" is not installed`},
	} {
		got, err := r.Resolve(tt.ref, vaults)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tt.ref, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.out {
			t.Errorf("%s: %q, %v; want %q", tt.ref, got, err, tt.out)
		}
	}
}
