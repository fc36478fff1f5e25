package snapshot

import (
	"errors"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/upstream"
)

type nop struct{}

func (nop) Access(*plugin.Ctx) {}

func testDefs(name string) (*plugin.Definition, bool) {
	switch name {
	case "a":
		return &plugin.Definition{Name: "a", Priority: 10, New: func(map[string]any, plugin.Deps) (any, error) { return nop{}, nil }}, true
	case "b":
		return &plugin.Definition{Name: "b", Priority: 20, New: func(cfg map[string]any, _ plugin.Deps) (any, error) {
			if cfg["fail"] == true {
				return nil, errors.New("bad config")
			}
			return nop{}, nil
		}}, true
	}
	return nil, false
}

func fk(id string) *model.ForeignKey { return &model.ForeignKey{ID: id} }

func TestBuildChains(t *testing.T) {
	svc := &model.Service{ID: "s1", Host: "example.com", Port: 80, Protocol: "http", Enabled: true}
	routes := []*model.Route{
		{ID: "r1", Service: fk("s1"), Paths: []string{"/1"}, Protocols: []string{"http"}},
		{ID: "r2", Service: fk("s1"), Paths: []string{"/2"}, Protocols: []string{"http"}},
		{ID: "r3", Service: fk("s1"), Paths: []string{"/3"}, Protocols: []string{"http"}},
		{ID: "r4", Paths: []string{"/4"}, Protocols: []string{"http"}},
	}
	alice := &model.Consumer{ID: "c1"}
	cfg := &model.Config{Services: []*model.Service{svc}, Routes: routes, Consumers: []*model.Consumer{alice},
		KeyAuthCredentials: []*model.KeyAuthCredential{{ID: "k1", Consumer: fk("c1"), Key: "secret"}},
		Plugins: []*model.Plugin{
			{ID: "p1", Name: "a", Service: fk("s1"), Enabled: true},
			{ID: "p2", Name: "b", Route: fk("r1"), Enabled: true},
			{ID: "p3", Name: "a", Route: fk("r1"), Consumer: fk("c1"), Enabled: true},
			{ID: "p4", Name: "b", Route: fk("r3"), Enabled: true, Config: map[string]any{"fail": true}},
			{ID: "p5", Name: "a", Route: fk("r2"), Enabled: false},
		}}
	state := plugin.NewStatePool()
	state.Get("p1", func() any { return 1 })
	state.Get("gone/x", func() any { return 2 })
	env := &Env{Pool: upstream.NewPool(), Plugins: testDefs, State: state}
	defer env.Pool.Close()
	s, err := Build(nil, cfg, "h", env)
	if err != nil {
		t.Fatal(err)
	}
	// r1: b (route, priority 20) then a (service; consumer c1 gets p3).
	ch := s.Chains["r1"]
	if ch.Len() != 2 {
		t.Fatalf("r1 chain has %d entries; want 2", ch.Len())
	}
	es := ch.Entries()
	if es[0].Name != "b" || es[0].Base.Entity.ID != "p2" || es[1].Name != "a" || es[1].Base.Entity.ID != "p1" {
		t.Errorf("r1 entries = %s/%v, %s/%v; want b/p2, a/p1", es[0].Name, es[0].Base.Entity.ID, es[1].Name, es[1].Base.Entity.ID)
	}
	if in := es[1].Consumer["c1"]; in == nil || in.Entity.ID != "p3" {
		t.Errorf("r1 consumer c1 instance = %v; want p3", in)
	}
	// r2: the disabled route instance is ignored; r2 shares the service chain.
	if s.Chains["r2"] == nil || s.Chains["r2"].Entries()[0].Base.Entity.ID != "p1" {
		t.Errorf("r2 chain does not apply the service plugin p1")
	}
	// r3: the failing instance is kept with its error (its route answers 500).
	var failed bool
	for _, e := range s.Chains["r3"].Entries() {
		if e.Name == "b" && e.Base.Err != nil {
			failed = true
		}
	}
	if !failed {
		t.Error("r3 chain lacks the failed instance")
	}
	if s.Chains["r4"] != nil {
		t.Error("r4 (no service, no plugins) has a chain")
	}
	if c := s.Entities.KeyAuthCredential("secret"); c == nil || c.ID != "k1" {
		t.Errorf("credential index: %v; want k1", c)
	}
	if state.Len() != 1 {
		t.Errorf("state pool holds %d values after the build; want 1 (p1)", state.Len())
	}

	// Unchanged consumers and credentials: the indexes are reused.
	cfg2 := *cfg
	s2, err := Build(s, &cfg2, "h2", env)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Entities.keys != s.Entities.keys || s2.Entities.consumers != s.Entities.consumers {
		t.Error("unchanged credentials were re-indexed")
	}
	cfg3 := cfg2
	cfg3.KeyAuthCredentials = []*model.KeyAuthCredential{{ID: "k2", Consumer: fk("c1"), Key: "other"}}
	s3, err := Build(s2, &cfg3, "h3", env)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Entities.keys == s2.Entities.keys || s3.Entities.KeyAuthCredential("secret") != nil || s3.Entities.KeyAuthCredential("other") == nil {
		t.Error("changed credentials were not re-indexed")
	}
	if s3.Entities.consumers != s2.Entities.consumers {
		t.Error("unchanged consumers were re-indexed")
	}
}
