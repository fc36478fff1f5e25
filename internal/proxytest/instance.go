package proxytest

import (
	"encoding/json"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Instance builds one plugin instance for a unit test: cfg (JSON) goes
// through the plugin's schema (defaults filled, errors fail the test), then
// newFn builds the instance, which is returned as T.
func Instance[T any](t testing.TB, schema *model.Schema, newFn func(map[string]any, plugin.Deps) (any, error), cfg string) T {
	t.Helper()
	var in map[string]any
	if err := json.Unmarshal([]byte(cfg), &in); err != nil {
		t.Fatal(err)
	}
	rec, serr := schema.Process(in, nil)
	if serr != nil {
		t.Fatalf("Process(%s): %v", cfg, serr)
	}
	p, err := newFn(rec, plugin.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p.(T)
}
