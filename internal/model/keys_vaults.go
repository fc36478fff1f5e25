package model

// Kong's key_sets, keys and vaults entities (kong/db/schema/entities,
// 3.9). sluice stores and serves them as Kong does; keys are material for
// plugins that sign or verify (none of sluice's use them yet), and a vault
// entity names a configured env vault that {vault://<prefix>/...}
// references use (package vault).

// KeySet is Kong's key_sets entity (Admin API /key-sets).
type KeySet struct {
	ID        string   `json:"id"`
	Name      *string  `json:"name"`
	Tags      []string `json:"tags"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
}

// Key is Kong's keys entity: a JWK (a JSON string) or a PEM pair.
type Key struct {
	ID        string      `json:"id"`
	Set       *ForeignKey `json:"set"`
	Name      *string     `json:"name"`
	KID       string      `json:"kid"`
	JWK       *string     `json:"jwk"`
	PEM       *KeyPEM     `json:"pem"`
	Tags      []string    `json:"tags"`
	CreatedAt int64       `json:"created_at"`
	UpdatedAt int64       `json:"updated_at"`
}

// KeyPEM is a key's pem record.
type KeyPEM struct {
	PrivateKey *string `json:"private_key"`
	PublicKey  *string `json:"public_key"`
}

// Vault is Kong's vaults entity: a prefix under which references reach a
// vault (name, "env" in sluice) with its config.
type Vault struct {
	ID          string         `json:"id"`
	Prefix      string         `json:"prefix"`
	Name        string         `json:"name"`
	Description *string        `json:"description"`
	Config      map[string]any `json:"config"`
	CreatedAt   int64          `json:"created_at"`
	UpdatedAt   int64          `json:"updated_at"`
	Tags        []string       `json:"tags"`
}

// VaultNames are the vaults sluice has (Kong's bundled env vault); a vault
// entity's name must be one of them and its prefix none of them.
var VaultNames = []string{"env"}

func keySetsSchema() *Schema {
	return &Schema{
		Name: "key_sets", EndpointKey: "name", AdminName: "key-sets", AdminNestedName: "key-sets",
		Fields: []*Field{
			IDField(),
			{Name: "name", Type: TypeString, Unique: true},
			TagsField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
		},
	}
}

func keysSchema() *Schema {
	set := ForeignField("set", "key_sets")
	set.OnDelete = "cascade"
	formats := []string{"jwk", "pem"}
	return &Schema{
		Name: "keys", EndpointKey: "name", CacheKey: []string{"kid", "set"},
		Fields: []*Field{
			IDField(),
			set,
			{Name: "name", Type: TypeString, Unique: true},
			{Name: "kid", Type: TypeString, Required: true},
			{Name: "jwk", Type: TypeString, Referenceable: true, Encrypted: true},
			{Name: "pem", Type: TypeRecord, NoAutoRecord: true,
				Fields: []*Field{
					{Name: "private_key", Type: TypeString, Referenceable: true, Encrypted: true},
					{Name: "public_key", Type: TypeString, Referenceable: true},
				},
				Checks: []*Check{{AtLeastOneOf: []string{"private_key", "public_key"}}},
				Custom: func(v any) string {
					m, _ := v.(map[string]any)
					priv, _ := m["private_key"].(string)
					pub, _ := m["public_key"].(string)
					return checkPEM(priv, pub)
				}},
			TagsField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
		},
		Checks: []*Check{
			{MutuallyExclusive: formats},
			{AtLeastOneOf: formats},
			{Custom: &CustomCheck{Fields: []string{"jwk", "pem", "kid"}, Fn: checkKeyMaterial}},
		},
	}
}

// checkKeyMaterial is the keys entity's custom check: the jwk must decode,
// carry the entity's kid and load as a key (the pem record checks itself).
func checkKeyMaterial(rec map[string]any) ([]string, map[string]any) {
	jwk, ok := rec["jwk"].(string)
	if !ok {
		return nil, nil
	}
	kid, _ := rec["kid"].(string)
	if msg := checkJWK(jwk, kid); msg != "" {
		return []string{msg}, nil
	}
	return nil, nil
}

func vaultsSchema() *Schema {
	names := toAnySlice(VaultNames)
	return &Schema{
		Name: "vaults", EndpointKey: "prefix", CacheKey: []string{"prefix"}, AdminName: "vaults", AdminNestedName: "vaults",
		Fields: []*Field{
			IDField(),
			// Kong's pattern ^[a-z][a-z%d-]-[a-z%d]+$: a lower-case letter
			// first, a letter or digit last, dashes between.
			{Name: "prefix", Type: TypeString, Required: true, Unique: true,
				Match: `^[a-z][a-z0-9-]*[a-z0-9]$`, NotOneOf: names},
			{Name: "name", Type: TypeString, Required: true, Custom: func(v any) string {
				s, _ := v.(string)
				for _, n := range VaultNames {
					if s == n {
						return ""
					}
				}
				return "vault '" + s + "' is not installed"
			}},
			{Name: "description", Type: TypeString},
			// The env vault's config (kong/vaults/env/schema.lua).
			{Name: "config", Type: TypeRecord, Fields: []*Field{
				{Name: "prefix", Type: TypeString, Match: `^[A-Za-z_-][A-Za-z0-9_-]*$`},
			}},
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			TagsField(),
		},
	}
}
