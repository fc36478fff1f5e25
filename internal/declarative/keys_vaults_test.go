package declarative

import (
	"reflect"
	"strings"
	"testing"
)

// A kong.yml may declare vaults, key_sets with their keys nested, and keys
// naming their set by name, as Kong's declarative config does.
func TestParseVaultsAndKeys(t *testing.T) {
	src := `_format_version: "3.0"
vaults:
- prefix: my-env
  name: env
  config: {prefix: SECRET_}
  description: app secrets
key_sets:
- name: signing
  keys:
  - name: k1
    kid: k1
    pem: {public_key: "{vault://my-env/pub}"}
keys:
- name: k2
  kid: k2
  set: signing
  jwk: "{vault://env/jwk}"
- kid: k3
  jwk: "{vault://env/jwk3}"
`
	cfg, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Vaults) != 1 || cfg.Vaults[0].Prefix != "my-env" || cfg.Vaults[0].Name != "env" ||
		cfg.Vaults[0].Config["prefix"] != "SECRET_" || cfg.Vaults[0].ID != kongID("vaults", "vaults:*:my-env") {
		t.Errorf("vaults = %+v", *cfg.Vaults[0])
	}
	if len(cfg.KeySets) != 1 || len(cfg.Keys) != 3 {
		t.Fatalf("key_sets %d, keys %d; want 1 and 3", len(cfg.KeySets), len(cfg.Keys))
	}
	setID := cfg.KeySets[0].ID
	if setID != kongID("key_sets", "signing") {
		t.Errorf("key set id %s, want the one Kong derives from its name", setID)
	}
	for i, k := range cfg.Keys[:2] {
		if k.Set == nil || k.Set.ID != setID {
			t.Errorf("keys[%d] (%s) set = %v, want %s", i, k.KID, k.Set, setID)
		}
	}
	if want := kongID("keys", "keys:*:k1:"+setID); cfg.Keys[0].ID != want {
		t.Errorf("nested key id %s, want %s (Kong's cache key: kid and set)", cfg.Keys[0].ID, want)
	}
	if cfg.Keys[2].Set != nil || cfg.Keys[2].ID != kongID("keys", "keys:*:k3:") {
		t.Errorf("keys[2] = %+v, want no set and the id of its kid", cfg.Keys[2])
	}
	if cfg.Keys[2].Set != nil || cfg.Keys[2].ID == "" {
		t.Errorf("keys[2] = %+v, want no set and an id", cfg.Keys[2])
	}
	if cfg.Keys[0].PEM == nil || cfg.Keys[0].PEM.PublicKey == nil || *cfg.Keys[0].PEM.PublicKey != "{vault://my-env/pub}" || cfg.Keys[0].JWK != nil {
		t.Errorf("keys[0] = %+v", cfg.Keys[0])
	}

	// An export parses back to the same entities.
	out, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(again.Vaults, cfg.Vaults) || !reflect.DeepEqual(again.KeySets, cfg.KeySets) || !reflect.DeepEqual(again.Keys, cfg.Keys) {
		t.Errorf("export does not parse back the same:\n%s", out)
	}
}

func TestParseVaultsAndKeysErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"unknown set", "keys:\n- {kid: a, set: nope, jwk: '{vault://env/x}'}\n",
			"invalid reference 'set: nope' (no such entry in 'key_sets')"},
		{"vault prefix env", "vaults:\n- {prefix: env, name: env}\n", "prefix: must not be one of: env"},
		{"vault not installed", "vaults:\n- {prefix: hcv-1, name: hcv}\n", "name: vault 'hcv' is not installed"},
		{"duplicate prefix", "vaults:\n- {prefix: a-1, name: env}\n- {prefix: a-1, name: env}\n",
			"uniqueness violation: 'vaults' entity with prefix set to 'a-1' already declared"},
		{"duplicate key-set name", "key_sets:\n- {name: s}\n- {name: s}\n",
			"uniqueness violation: 'key_sets' entity with name set to 's' already declared"},
		{"key with two formats", "keys:\n- {kid: a, jwk: '{vault://env/x}', pem: {public_key: '{vault://env/y}'}}\n",
			"only one or none of these fields must be set: 'jwk', 'pem'"},
		{"bad jwk", "keys:\n- {kid: a, jwk: 'not json'}\n", "could not json decode jwk string"},
	} {
		_, err := Parse([]byte("_format_version: \"3.0\"\n"+tt.src), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v\nwant an error with %q", tt.name, err, tt.want)
		}
	}
}
