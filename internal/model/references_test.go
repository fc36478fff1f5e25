package model

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveReferences(t *testing.T) {
	fields := []*Field{
		{Name: "password", Type: TypeString, Referenceable: true},
		{Name: "plain", Type: TypeString},
		{Name: "headers", Type: TypeMap, Keys: &Field{Type: TypeString}, Values: &Field{Type: TypeString, Referenceable: true}},
		{Name: "list", Type: TypeArray, Elements: &Field{Type: TypeString, Referenceable: true}},
		{Name: "redis", Type: TypeRecord, Fields: []*Field{{Name: "password", Type: TypeString, Referenceable: true}}},
	}
	resolve := func(ref string) (string, error) {
		if strings.Contains(ref, "missing") {
			return "", errors.New("not set")
		}
		return "resolved:" + ref[len("{vault://env/"):len(ref)-1], nil
	}
	cfg := map[string]any{
		"password": "{vault://env/a}",
		"plain":    "{vault://env/not-referenceable}",
		"headers":  map[string]any{"x-key": "{vault://env/b}", "x-other": "literal"},
		"list":     []any{"x", "{vault://env/c}"},
		"redis":    map[string]any{"password": "{vault://env/d}"},
	}
	out, _, err := ResolveReferences(fields, cfg, resolve)
	if err != nil {
		t.Fatal(err)
	}
	h := out["headers"].(map[string]any)
	if out["password"] != "resolved:a" || out["plain"] != "{vault://env/not-referenceable}" || h["x-key"] != "resolved:b" ||
		h["x-other"] != "literal" || out["list"].([]any)[1] != "resolved:c" || out["redis"].(map[string]any)["password"] != "resolved:d" {
		t.Errorf("resolved config: %v", out)
	}
	if cfg["password"] != "{vault://env/a}" || cfg["headers"].(map[string]any)["x-key"] != "{vault://env/b}" ||
		cfg["list"].([]any)[1] != "{vault://env/c}" || cfg["redis"].(map[string]any)["password"] != "{vault://env/d}" {
		t.Errorf("the input was modified: %v", cfg)
	}

	plain := map[string]any{"password": "literal"}
	if got, _, err := ResolveReferences(fields, plain, resolve); err != nil || got["password"] != "literal" {
		t.Errorf("no reference: %v %v", got, err)
	}
	if _, _, err := ResolveReferences(fields, map[string]any{"password": "{vault://env/missing}"}, resolve); err == nil {
		t.Error("an unresolvable reference gave no error")
	}
}
