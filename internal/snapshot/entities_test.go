package snapshot

import (
	"slices"
	"testing"

	"sluice/internal/model"
	"sluice/internal/upstream"
)

// TestCredentialIndexes checks the basic-auth, jwt and acl indexes and
// their reuse when the entities are the same pointers.
func TestCredentialIndexes(t *testing.T) {
	pool := upstream.NewPool()
	defer pool.Close()
	env := &Env{Pool: pool, Plugins: testDefs}
	cfg := &model.Config{
		Consumers:            []*model.Consumer{{ID: "c1"}, {ID: "c2"}},
		BasicAuthCredentials: []*model.BasicAuthCredential{{ID: "b1", Consumer: fk("c1"), Username: "alice", Password: "h"}},
		JWTSecrets:           []*model.JWTSecret{{ID: "j1", Consumer: fk("c2"), Key: "iss-1", Secret: "s", Algorithm: "HS256"}},
		ACLs: []*model.ACL{{ID: "a1", Consumer: fk("c1"), Group: "admin"}, {ID: "a2", Consumer: fk("c2"), Group: "dev"},
			{ID: "a3", Consumer: fk("c1"), Group: "ops"}},
	}
	s, err := Build(nil, cfg, "h1", env)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Entities
	if b := e.BasicAuthCredential("alice"); b == nil || b.ID != "b1" {
		t.Errorf("BasicAuthCredential(alice) = %v; want b1", b)
	}
	if b := e.BasicAuthCredential("bob"); b != nil {
		t.Errorf("BasicAuthCredential(bob) = %v; want nil", b)
	}
	if j := e.JWTSecret("iss-1"); j == nil || j.ID != "j1" {
		t.Errorf("JWTSecret(iss-1) = %v; want j1", j)
	}
	if j := e.JWTSecret("nope"); j != nil {
		t.Errorf("JWTSecret(nope) = %v; want nil", j)
	}
	for _, tt := range []struct {
		id   string
		want []string
	}{{"c1", []string{"admin", "ops"}}, {"c2", []string{"dev"}}, {"c3", nil}} {
		if got := e.ConsumerGroups(tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("ConsumerGroups(%s) = %v; want %v", tt.id, got, tt.want)
		}
	}

	cfg2 := *cfg
	s2, err := Build(s, &cfg2, "h2", env)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Entities.basic != e.basic || s2.Entities.jwts != e.jwts || s2.Entities.acls != e.acls {
		t.Error("unchanged credentials were re-indexed")
	}
	cfg3 := cfg2
	cfg3.ACLs = []*model.ACL{{ID: "a4", Consumer: fk("c2"), Group: "admin"}}
	cfg3.JWTSecrets = nil
	s3, err := Build(s2, &cfg3, "h3", env)
	if err != nil {
		t.Fatal(err)
	}
	if s3.Entities.acls == e.acls || s3.Entities.ConsumerGroups("c1") != nil || !slices.Equal(s3.Entities.ConsumerGroups("c2"), []string{"admin"}) {
		t.Errorf("changed acls: c1 %v, c2 %v; want [], [admin]", s3.Entities.ConsumerGroups("c1"), s3.Entities.ConsumerGroups("c2"))
	}
	if s3.Entities.JWTSecret("iss-1") != nil {
		t.Error("removed jwt secret still indexed")
	}
	if s3.Entities.basic != e.basic {
		t.Error("unchanged basic-auth credentials were re-indexed")
	}
}
