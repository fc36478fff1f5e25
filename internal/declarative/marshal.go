package declarative

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"sluice/internal/model"
)

// EmptyHash is Kong's configuration_hash before any configuration is loaded.
const EmptyHash = "00000000000000000000000000000000"

// Hash returns the configuration hash of a declarative file as Kong computes
// it when loading one: the hex MD5 of the file's bytes, exactly as received.
// Two uploads of the same text have the same hash (POST /config?check_hash=1).
func Hash(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// ConfigHash returns the hash of a configuration that has no source text
// (e.g. built from a store): Hash of its Marshal form, so it changes exactly
// when the exported configuration changes.
func ConfigHash(cfg *model.Config) (string, error) {
	b, err := Marshal(cfg)
	if err != nil {
		return "", err
	}
	return Hash(b), nil
}

// exportSection is one top-level array of the exported file.
type exportSection struct {
	name string
	list func(*model.Config) []any
}

func asAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

var exportSections = []exportSection{
	{"services", func(c *model.Config) []any { return asAny(c.Services) }},
	{"routes", func(c *model.Config) []any { return asAny(c.Routes) }},
	{"consumers", func(c *model.Config) []any { return asAny(c.Consumers) }},
	{"plugins", func(c *model.Config) []any { return asAny(c.Plugins) }},
	{"upstreams", func(c *model.Config) []any { return asAny(c.Upstreams) }},
	{"targets", func(c *model.Config) []any { return asAny(c.Targets) }},
	{"certificates", func(c *model.Config) []any { return asAny(c.Certificates) }},
	{"snis", func(c *model.Config) []any { return asAny(c.SNIs) }},
	{"ca_certificates", func(c *model.Config) []any { return asAny(c.CACertificates) }},
	{"keyauth_credentials", func(c *model.Config) []any { return asAny(c.KeyAuthCredentials) }},
	{"basicauth_credentials", func(c *model.Config) []any { return asAny(c.BasicAuthCredentials) }},
	{"hmacauth_credentials", func(c *model.Config) []any { return asAny(c.HMACAuthCredentials) }},
	{"jwt_secrets", func(c *model.Config) []any { return asAny(c.JWTSecrets) }},
	{"acls", func(c *model.Config) []any { return asAny(c.ACLs) }},
	{"oauth2_credentials", func(c *model.Config) []any { return asAny(c.OAuth2Credentials) }},
	{"vaults", func(c *model.Config) []any { return asAny(c.Vaults) }},
	{"key_sets", func(c *model.Config) []any { return asAny(c.KeySets) }},
	{"keys", func(c *model.Config) []any { return asAny(c.Keys) }},
}

// Marshal exports cfg as a flat declarative file (YAML, _format_version
// "3.0"): one array per entity type, references as ids, unset fields left
// out, keys sorted with id first. _transform is false because basic-auth
// passwords are already hashed. Parse(Marshal(cfg)) yields cfg again.
func Marshal(cfg *model.Config) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content,
		strNode("_format_version"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "3.0", Style: yaml.DoubleQuotedStyle},
		strNode("_transform"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
	if cfg != nil {
		for _, sec := range exportSections {
			list := sec.list(cfg)
			if len(list) == 0 {
				continue
			}
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, e := range list {
				m, err := toGeneric(e)
				if err != nil {
					return nil, fmt.Errorf("exporting %s: %w", sec.name, err)
				}
				if sec.name == "certificates" {
					delete(m, "snis") // exported as snis entities
				}
				flattenRefs(sec.name, m)
				seq.Content = append(seq.Content, valueNode(m, true))
			}
			root.Content = append(root.Content, strNode(sec.name), seq)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toGeneric turns a typed entity into generic values, numbers kept exact.
func toGeneric(e any) (map[string]any, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// flattenRefs writes foreign keys as the referenced id.
func flattenRefs(section string, m map[string]any) {
	k := kindByName[section]
	if k == nil {
		return
	}
	for _, fk := range k.fks {
		if ref, ok := m[fk.name].(map[string]any); ok {
			if id, ok := ref["id"].(string); ok {
				m[fk.name] = id
			}
		}
	}
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// valueNode builds the YAML node of a generic value; nulls are left out of
// mappings. top puts "id" first in an entity.
func valueNode(v any, top bool) *yaml.Node {
	switch t := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		return strNode(t)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}
	case json.Number:
		if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: string(t)}
		}
		f, _ := t.Float64()
		return floatNode(f)
	case float64:
		return floatNode(t)
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(t)}
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range t {
			n.Content = append(n.Content, valueNode(e, false))
		}
		if len(t) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := make([]string, 0, len(t))
		for k, e := range t {
			if e == nil {
				continue
			}
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if top && (keys[i] == "id") != (keys[j] == "id") {
				return keys[i] == "id"
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			n.Content = append(n.Content, strNode(k), valueNode(t[k], false))
		}
		if len(keys) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	default:
		return strNode(fmt.Sprint(t))
	}
}

// floatNode writes a float so that it reads back as a float (never as an
// integer): 60 becomes "60.0".
func floatNode(f float64) *yaml.Node {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = ".inf"
	case math.IsInf(f, -1):
		s = "-.inf"
	case math.IsNaN(f):
		s = ".nan"
	default:
		s = strconv.FormatFloat(f, 'f', -1, 64)
		if f == math.Trunc(f) {
			s += ".0"
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
}
