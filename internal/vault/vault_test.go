package vault

import (
	"strings"
	"testing"
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
		{withPrefix, "{vault://env/redis-pass}", "s3", ""},
		{r, "{vault://env/creds/pass}", "p", ""},
		{r, "{vault://env/creds/port}", "6379", ""},
		{r, "{vault://env/missing}", "", "environment variable MISSING is not set"},
		{r, "{vault://env/creds/nope}", "", `no key "nope"`},
		{r, "{vault://env/my-secret/key}", "", "not a JSON object"},
		{r, "{vault://hcv/secret}", "", `vault "hcv" is not available`},
		{r, "{vault://env}", "", "want {vault://"},
		{r, "plain", "", "not a vault reference"},
	} {
		got, err := tt.r.Resolve(tt.ref)
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
