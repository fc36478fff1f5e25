package plugin

import (
	"testing"

	"sluice/internal/model"
)

func TestRegisterLookup(t *testing.T) {
	d := Definition{Name: "test-plugin", Priority: 5, Schema: &model.Schema{Name: "test-plugin"},
		New: func(map[string]any, Deps) (any, error) { return struct{}{}, nil }}
	Register(d)
	got, ok := Lookup("test-plugin")
	if !ok || got.Priority != 5 {
		t.Fatalf("Lookup = %+v, %v; want priority 5", got, ok)
	}
	if _, ok := SchemaLookup(map[string]bool{"other": true})("test-plugin"); ok {
		t.Error("SchemaLookup found a plugin that is not enabled")
	}
	if _, ok := SchemaLookup(nil)("test-plugin"); !ok {
		t.Error("SchemaLookup(nil) did not find a registered plugin")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a duplicate did not panic")
		}
	}()
	Register(d)
}
