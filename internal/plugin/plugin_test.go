package plugin

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"sluice/internal/model"
)

// registerRuns names each run's plugin apart: the registry is global and
// keeps what a previous run (-count=2) registered.
var registerRuns atomic.Int64

func TestRegisterLookup(t *testing.T) {
	name := fmt.Sprintf("test-plugin-%d", registerRuns.Add(1))
	d := Definition{Name: name, Priority: 5, Schema: &model.Schema{Name: name},
		New: func(map[string]any, Deps) (any, error) { return struct{}{}, nil }}
	Register(d)
	got, ok := Lookup(name)
	if !ok || got.Priority != 5 {
		t.Fatalf("Lookup = %+v, %v; want priority 5", got, ok)
	}
	if _, ok := SchemaLookup(map[string]bool{"other": true})(name); ok {
		t.Error("SchemaLookup found a plugin that is not enabled")
	}
	if _, ok := SchemaLookup(nil)(name); !ok {
		t.Error("SchemaLookup(nil) did not find a registered plugin")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a duplicate did not panic")
		}
	}()
	Register(d)
}

func FuzzJSONMessage(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te\back`, "ctl\x01\n\t", "ünïcode"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		var got struct{ Message string }
		if err := json.Unmarshal(JSONMessage(msg), &got); err != nil {
			t.Fatalf("JSONMessage(%q) is not JSON: %v", msg, err)
		}
		if utf8.ValidString(msg) && got.Message != msg {
			t.Errorf("round trip of %q gave %q", msg, got.Message)
		}
	})
}

func TestScopeRank(t *testing.T) {
	// Kong 3.4+ order without consumer groups, most specific first.
	order := []Scope{ScopeConsumer | ScopeRoute | ScopeService, ScopeConsumer | ScopeRoute, ScopeConsumer | ScopeService,
		ScopeRoute | ScopeService, ScopeConsumer, ScopeRoute, ScopeService, 0}
	for i := 1; i < len(order); i++ {
		if order[i-1].Rank() >= order[i].Rank() {
			t.Errorf("rank(%b) = %d not below rank(%b) = %d", order[i-1], order[i-1].Rank(), order[i], order[i].Rank())
		}
	}
}
