// Package vault resolves Kong's secret references, written in place of a
// value in the fields Kong marks referenceable (a certificate's key, a
// Redis password, an http-log endpoint):
//
//	{vault://env/<resource>[/<key>][?prefix=<prefix>]}
//
// Only Kong's env vault exists here, reached by its name or through a
// vaults entity's prefix: the value is the environment variable named by
// the resource, with the prefix (the reference's, else the vaults entity's
// config.prefix, else vault_env_prefix) in front, upper-cased, "-" as "_". With a key, the variable
// holds a JSON object and the value is that key's. The configuration keeps
// the reference (the Admin API and exports show it); the snapshot is built
// with the value.
package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"sluice/internal/model"
)

// Ref is a parsed reference.
type Ref struct {
	Name     string // the vault: "env"
	Resource string
	Key      string // "" for the whole value
	Prefix   string // ?prefix=, "" when absent
}

// Parse reads a reference; it must be the whole value, braces included.
func Parse(s string) (Ref, error) {
	if !strings.HasPrefix(s, "{vault://") || !strings.HasSuffix(s, "}") {
		return Ref{}, errors.New("not a vault reference: " + strconv.Quote(s))
	}
	body := s[len("{vault://") : len(s)-1]
	body, query, _ := strings.Cut(body, "?")
	name, path, ok := strings.Cut(body, "/")
	if !ok || name == "" || path == "" {
		return Ref{}, fmt.Errorf("vault reference %q: want {vault://<vault>/<resource>[/<key>]}", s)
	}
	r := Ref{Name: name}
	r.Resource, r.Key, _ = strings.Cut(path, "/")
	if r.Resource == "" {
		return Ref{}, fmt.Errorf("vault reference %q: no resource", s)
	}
	r.Key = strings.TrimSuffix(r.Key, "/")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return Ref{}, fmt.Errorf("vault reference %q: %w", s, err)
		}
		r.Prefix = q.Get("prefix")
	}
	return r, nil
}

// Resolver resolves references against the environment.
type Resolver struct {
	// Lookup reads an environment variable (os.LookupEnv).
	Lookup func(name string) (string, bool)
	// Prefix is vault_env_prefix, used when a reference names none.
	Prefix string
}

// Resolve returns the value a reference stands for. The reference's vault
// is the env vault itself ("env", with vault_env_prefix) or, as in Kong,
// a vaults entity of the configuration named by its prefix, whose config
// (its own env prefix) is used.
func (r *Resolver) Resolve(s string, vaults []*model.Vault) (string, error) {
	ref, err := Parse(s)
	if err != nil {
		return "", err
	}
	prefix := r.Prefix
	if ref.Name != "env" {
		var found *model.Vault
		for _, v := range vaults {
			if v.Prefix == ref.Name {
				found = v
				break
			}
		}
		if found == nil {
			return "", fmt.Errorf("vault reference %s: could not find vault (%s): sluice has Kong's env vault and the vaults entities of the configuration", s, ref.Name)
		}
		if found.Name != "env" {
			return "", fmt.Errorf("vault reference %s: vault %q is not installed", s, found.Name)
		}
		prefix, _ = found.Config["prefix"].(string)
	}
	if ref.Prefix != "" {
		prefix = ref.Prefix
	}
	name := strings.ToUpper(strings.ReplaceAll(prefix+ref.Resource, "-", "_")) // Kong replaces the prefix's dashes too
	v, ok := r.Lookup(name)
	if !ok {
		return "", fmt.Errorf("vault reference %s: environment variable %s is not set", s, name)
	}
	if ref.Key == "" {
		return v, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		return "", fmt.Errorf("vault reference %s: environment variable %s is not a JSON object", s, name)
	}
	switch x := obj[ref.Key].(type) {
	case string:
		return x, nil
	case float64, bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("vault reference %s: no key %q in environment variable %s", s, ref.Key, name)
}
