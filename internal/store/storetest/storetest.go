// Package storetest is the conformance suite every store.Store backend
// passes: Run it from the backend's tests with a constructor that returns an
// empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/store"
)

// Run runs the suite; newStore returns a fresh, empty store for each
// subtest (closing it is newStore's business, e.g. in t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CRUD", testCRUD},
		{"GetByKey", testGetByKey},
		{"Unique", testUnique},
		{"CacheKeyUnique", testCacheKeyUnique},
		{"ForeignKeyMissing", testForeignKeyMissing},
		{"DeleteRestrict", testDeleteRestrict},
		{"DeleteCascade", testDeleteCascade},
		{"Paging", testPaging},
		{"BadOffset", testBadOffset},
		{"Tags", testTags},
		{"Nested", testNested},
		{"Rollback", testRollback},
		{"VersionAndChanges", testVersionAndChanges},
		{"Notify", testNotify},
		{"Load", testLoad},
		{"ConcurrentWriters", testConcurrentWriters},
		{"LargeTransaction", testLargeTransaction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

var bg = context.Background()

func insert(t *testing.T, s store.Store, entity string, recs ...store.Record) {
	t.Helper()
	err := s.Update(bg, func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.Insert(bg, entity, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert %s: %v", entity, err)
	}
}

func write(s store.Store, fn func(tx store.Tx) error) error { return s.Update(bg, fn) }

func mustGet(t *testing.T, s store.Reader, entity, id string) store.Record {
	t.Helper()
	r, err := s.Get(bg, entity, id)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", entity, id, err)
	}
	return r
}

func wantNotFound(t *testing.T, s store.Reader, entity, id string) {
	t.Helper()
	if r, err := s.Get(bg, entity, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%s, %s) = %v, %v; want ErrNotFound", entity, id, r, err)
	}
}

func sameRecord(t *testing.T, got, want store.Record) {
	t.Helper()
	if g, w := normal(t, got), normal(t, want); !reflect.DeepEqual(g, w) {
		t.Fatalf("record:\ngot  %s\nwant %s", jsonString(g), jsonString(w))
	}
}

func count(t *testing.T, s store.Reader, entity string, opts store.ListOptions) int {
	t.Helper()
	ids := listAll(t, s, entity, opts)
	return len(ids)
}

// listAll pages through a collection and returns the ids in order.
func listAll(t *testing.T, s store.Reader, entity string, opts store.ListOptions) []string {
	t.Helper()
	var ids []string
	for i := 0; ; i++ {
		p, err := s.List(bg, entity, opts)
		if err != nil {
			t.Fatalf("List(%s, %+v): %v", entity, opts, err)
		}
		for _, r := range p.Records {
			ids = append(ids, r["id"].(string))
		}
		if p.Offset == "" {
			return ids
		}
		if i > 10000 {
			t.Fatal("paging does not end")
		}
		opts.Offset = p.Offset
	}
}

func service(t *testing.T, name string, tags ...string) store.Record {
	in := map[string]any{"host": "example.com"}
	if name != "" {
		in["name"] = name
	}
	if tags != nil {
		in["tags"] = anySlice(tags)
	}
	return Record(t, "services", in)
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func route(t *testing.T, svc store.Record, path string) store.Record {
	in := map[string]any{"paths": []any{path}}
	if svc != nil {
		in["service"] = ref(svc)
	}
	return Record(t, "routes", in)
}

func testCRUD(t *testing.T, s store.Store) {
	svc := service(t, "s1")
	insert(t, s, "services", svc)
	sameRecord(t, mustGet(t, s, "services", svc["id"].(string)), svc)

	upd := Record(t, "services", map[string]any{"name": "s1", "host": "other.example.com", "port": 8080})
	upd["id"] = svc["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", upd) }); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	got := mustGet(t, s, "services", svc["id"].(string))
	sameRecord(t, got, upd)
	if got["host"] != "other.example.com" {
		t.Fatalf("host after replace = %v; want other.example.com", got["host"])
	}

	missing := service(t, "nope")
	err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", missing) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Replace of a missing record: %v; want ErrNotFound", err)
	}
	wantNotFound(t, s, "services", missing["id"].(string))

	if err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", svc["id"].(string)) }); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "services", svc["id"].(string))
	if _, err := s.GetByKey(bg, "services", "name", "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetByKey after delete: %v; want ErrNotFound", err)
	}
	err = write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", svc["id"].(string)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete: %v; want ErrNotFound", err)
	}
	// The name is free again.
	insert(t, s, "services", service(t, "s1"))

	// Reads inside a transaction see its own writes.
	r := service(t, "s2")
	err = write(s, func(tx store.Tx) error {
		if err := tx.Insert(bg, "services", r); err != nil {
			return err
		}
		got, err := tx.Get(bg, "services", r["id"].(string))
		if err != nil {
			return fmt.Errorf("get in tx: %w", err)
		}
		if got["name"] != "s2" {
			return fmt.Errorf("get in tx: name %v; want s2", got["name"])
		}
		if _, err := tx.GetByKey(bg, "services", "name", "s2"); err != nil {
			return fmt.Errorf("get by key in tx: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testGetByKey(t *testing.T, s store.Store) {
	svc := service(t, "by-name")
	cons := Record(t, "consumers", map[string]any{"username": "alice", "custom_id": "c-1"})
	up := Record(t, "upstreams", map[string]any{"name": "up.internal"})
	tgt := Record(t, "targets", map[string]any{"target": "10.0.0.1:80", "upstream": ref(up)})
	key := Record(t, "keyauth_credentials", map[string]any{"key": "secret-key", "consumer": ref(cons)})
	insert(t, s, "services", svc)
	insert(t, s, "consumers", cons)
	insert(t, s, "upstreams", up)
	insert(t, s, "targets", tgt)
	insert(t, s, "keyauth_credentials", key)
	tests := []struct {
		entity, field, value string
		want                 store.Record
	}{
		{"services", "name", "by-name", svc},
		{"services", "id", svc["id"].(string), svc},
		{"consumers", "username", "alice", cons},
		{"consumers", "custom_id", "c-1", cons},
		{"upstreams", "name", "up.internal", up},
		{"targets", "target", "10.0.0.1:80", tgt},
		{"keyauth_credentials", "key", "secret-key", key},
	}
	for _, tt := range tests {
		got, err := s.GetByKey(bg, tt.entity, tt.field, tt.value)
		if err != nil {
			t.Fatalf("GetByKey(%s, %s, %s): %v", tt.entity, tt.field, tt.value, err)
		}
		sameRecord(t, got, tt.want)
	}
	for _, tt := range []struct{ entity, field, value string }{
		{"services", "name", "By-Name"},
		{"consumers", "username", "bob"},
		{"targets", "target", "10.0.0.2:80"},
		{"services", "id", "00000000-0000-0000-0000-000000000000"},
	} {
		if r, err := s.GetByKey(bg, tt.entity, tt.field, tt.value); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetByKey(%s, %s, %s) = %v, %v; want ErrNotFound", tt.entity, tt.field, tt.value, r, err)
		}
	}
	if _, err := s.Get(bg, "nosuchentity", "x"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of an unknown entity: %v; want an error other than ErrNotFound", err)
	}
}

func wantUnique(t *testing.T, err error, field string) {
	t.Helper()
	_ = uniqueOf(t, err, field)
}

func uniqueOf(t *testing.T, err error, field string) *store.UniqueError {
	t.Helper()
	var ue *store.UniqueError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T); want *store.UniqueError on %s", err, err, field)
	}
	if ue.Field != field {
		t.Fatalf("UniqueError field %q; want %q (%v)", ue.Field, field, ue)
	}
	return ue
}

func testUnique(t *testing.T, s store.Store) {
	a := service(t, "dup")
	insert(t, s, "services", a)
	v0, _ := s.Version(bg)

	b := service(t, "dup")
	other := service(t, "other")
	err := write(s, func(tx store.Tx) error {
		if err := tx.Insert(bg, "services", other); err != nil {
			return err
		}
		return tx.Insert(bg, "services", b)
	})
	ue := uniqueOf(t, err, "name")
	if ue.Entity != "services" || ue.Value != "dup" {
		t.Fatalf("UniqueError = %+v; want services name dup", ue)
	}
	if got, want := ue.Error(), `UNIQUE violation detected on '{name="dup"}'`; got != want {
		t.Fatalf("message %q; want %q", got, want)
	}
	wantNotFound(t, s, "services", b["id"].(string))
	wantNotFound(t, s, "services", other["id"].(string))
	if n := count(t, s, "services", store.ListOptions{}); n != 1 {
		t.Fatalf("%d services after the failed insert; want 1", n)
	}
	if v, _ := s.Version(bg); v != v0 {
		t.Fatalf("version %d after a failed write; want %d", v, v0)
	}

	// Same id.
	c := service(t, "c")
	c["id"] = a["id"]
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "services", c) }), "id")
	sameRecord(t, mustGet(t, s, "services", a["id"].(string)), a)

	// Replace into another record's name fails and leaves it as it was;
	// keeping one's own name is fine.
	d := service(t, "d")
	insert(t, s, "services", d)
	d2 := Record(t, "services", map[string]any{"name": "dup", "host": "d.example.com"})
	d2["id"] = d["id"]
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", d2) }), "name")
	sameRecord(t, mustGet(t, s, "services", d["id"].(string)), d)
	d3 := Record(t, "services", map[string]any{"name": "d", "host": "d3.example.com"})
	d3["id"] = d["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", d3) }); err != nil {
		t.Fatalf("Replace keeping its name: %v", err)
	}
	// Renaming frees the old name.
	d4 := Record(t, "services", map[string]any{"name": "d-renamed", "host": "d.example.com"})
	d4["id"] = d["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", d4) }); err != nil {
		t.Fatalf("rename: %v", err)
	}
	insert(t, s, "services", service(t, "d"))
	// Unnamed services do not clash.
	insert(t, s, "services", service(t, ""), service(t, ""))

	// Other unique fields.
	c1 := Record(t, "consumers", map[string]any{"username": "u1", "custom_id": "x"})
	insert(t, s, "consumers", c1)
	c2 := Record(t, "consumers", map[string]any{"username": "u2", "custom_id": "x"})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "consumers", c2) }), "custom_id")
	k1 := Record(t, "keyauth_credentials", map[string]any{"key": "k", "consumer": ref(c1)})
	insert(t, s, "keyauth_credentials", k1)
	k2 := Record(t, "keyauth_credentials", map[string]any{"key": "k", "consumer": ref(c1)})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "keyauth_credentials", k2) }), "key")
	// SNI names are unique (Kong's snis.name), as endpoint keys are.
	crt, key := testCert(t)
	crec := Record(t, "certificates", map[string]any{"cert": crt, "key": key})
	insert(t, s, "certificates", crec)
	insert(t, s, "snis", Record(t, "snis", map[string]any{"name": "a.example.com", "certificate": ref(crec)}))
	sni2 := Record(t, "snis", map[string]any{"name": "a.example.com", "certificate": ref(crec)})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "snis", sni2) }), "name")
	// The same CA certificate twice clashes on its digest.
	cert, _ := testCert(t)
	insert(t, s, "ca_certificates", Record(t, "ca_certificates", map[string]any{"cert": cert}))
	ca2 := Record(t, "ca_certificates", map[string]any{"cert": cert})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "ca_certificates", ca2) }), "cert_digest")
}

func testCacheKeyUnique(t *testing.T, s store.Store) {
	svc := service(t, "s")
	cons := Record(t, "consumers", map[string]any{"username": "u"})
	insert(t, s, "services", svc)
	insert(t, s, "consumers", cons)
	p1 := Record(t, "plugins", map[string]any{"name": "key-auth", "config": map[string]any{}, "service": ref(svc)})
	insert(t, s, "plugins", p1)
	p2 := Record(t, "plugins", map[string]any{"name": "key-auth", "config": map[string]any{}, "service": ref(svc)})
	ue := uniqueOf(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "plugins", p2) }), "@cache_key")
	wantValues := map[string]any{"name": "key-auth", "service": map[string]any{"id": svc["id"]}, "route": nil, "consumer": nil}
	if !reflect.DeepEqual(ue.Values, wantValues) {
		t.Fatalf("UniqueError values %v; want %v", ue.Values, wantValues)
	}
	if !strings.Contains(ue.Error(), `name="key-auth"`) || !strings.Contains(ue.Error(), `route=null`) {
		t.Fatalf("message %q lacks the key components", ue.Error())
	}
	// Same plugin on another scope, or another plugin, is fine.
	insert(t, s, "plugins",
		Record(t, "plugins", map[string]any{"name": "key-auth", "config": map[string]any{}, "service": ref(svc), "consumer": ref(cons)}),
		Record(t, "plugins", map[string]any{"name": "key-auth", "config": map[string]any{}}),
		Record(t, "plugins", map[string]any{"name": "cors", "config": map[string]any{}, "service": ref(svc)}))
	g2 := Record(t, "plugins", map[string]any{"name": "key-auth", "config": map[string]any{}})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "plugins", g2) }), "@cache_key")

	up1 := Record(t, "upstreams", map[string]any{"name": "up1"})
	up2 := Record(t, "upstreams", map[string]any{"name": "up2"})
	insert(t, s, "upstreams", up1, up2)
	insert(t, s, "targets", Record(t, "targets", map[string]any{"target": "10.0.0.1:80", "upstream": ref(up1)}),
		Record(t, "targets", map[string]any{"target": "10.0.0.1:80", "upstream": ref(up2)}))
	t3 := Record(t, "targets", map[string]any{"target": "10.0.0.1:80", "upstream": ref(up1)})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "targets", t3) }), "@cache_key")

	insert(t, s, "acls", Record(t, "acls", map[string]any{"group": "admins", "consumer": ref(cons)}))
	a2 := Record(t, "acls", map[string]any{"group": "admins", "consumer": ref(cons)})
	wantUnique(t, write(s, func(tx store.Tx) error { return tx.Insert(bg, "acls", a2) }), "@cache_key")
	if n := count(t, s, "acls", store.ListOptions{}); n != 1 {
		t.Fatalf("%d acls; want 1", n)
	}
}

func testForeignKeyMissing(t *testing.T, s store.Store) {
	ghost := service(t, "ghost") // never inserted
	r := route(t, ghost, "/x")
	err := write(s, func(tx store.Tx) error { return tx.Insert(bg, "routes", r) })
	var fe *store.ForeignKeyError
	if !errors.As(err, &fe) {
		t.Fatalf("insert with a missing parent: %v (%T); want *store.ForeignKeyError", err, err)
	}
	if fe.Field != "service" || fe.ParentEntity != "services" || fe.ParentID != ghost["id"] || fe.ReferencedBy != "" {
		t.Fatalf("ForeignKeyError = %+v", fe)
	}
	want := fmt.Sprintf(`the foreign key '{id=%q}' does not reference an existing 'services' entity.`, ghost["id"])
	if fe.Error() != want {
		t.Fatalf("message %q; want %q", fe.Error(), want)
	}
	wantNotFound(t, s, "routes", r["id"].(string))

	// Replace to a missing parent fails too and keeps the old record.
	svc := service(t, "real")
	insert(t, s, "services", svc)
	r2 := route(t, svc, "/y")
	insert(t, s, "routes", r2)
	r3 := route(t, ghost, "/y")
	r3["id"] = r2["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "routes", r3) }); !errors.As(err, &fe) {
		t.Fatalf("replace with a missing parent: %v; want *store.ForeignKeyError", err)
	}
	sameRecord(t, mustGet(t, s, "routes", r2["id"].(string)), r2)

	// A route without a service is valid.
	insert(t, s, "routes", route(t, nil, "/z"))
}

func wantRestricted(t *testing.T, err error, entity, child string) {
	t.Helper()
	var fe *store.ForeignKeyError
	if !errors.As(err, &fe) {
		t.Fatalf("restricted delete: %v (%T); want *store.ForeignKeyError", err, err)
	}
	if fe.Entity != entity || fe.ReferencedBy != child {
		t.Fatalf("ForeignKeyError = %+v; want entity %s referenced by %s", fe, entity, child)
	}
	want := fmt.Sprintf("an existing '%s' entity references this '%s' entity", child, entity)
	if fe.Error() != want {
		t.Fatalf("message %q; want %q", fe.Error(), want)
	}
}

func testDeleteRestrict(t *testing.T, s store.Store) {
	svc := service(t, "s")
	r := route(t, svc, "/a")
	insert(t, s, "services", svc)
	insert(t, s, "routes", r)
	v0, _ := s.Version(bg)
	err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", svc["id"].(string)) })
	wantRestricted(t, err, "services", "routes")
	mustGet(t, s, "services", svc["id"].(string))
	mustGet(t, s, "routes", r["id"].(string))
	if v, _ := s.Version(bg); v != v0 {
		t.Fatalf("version %d after a refused delete; want %d", v, v0)
	}

	// A service with plugins and a route: the refusal deletes no plugin,
	// even when fn carries on and commits something else.
	p := Record(t, "plugins", map[string]any{"name": "cors", "config": map[string]any{}, "service": ref(svc)})
	insert(t, s, "plugins", p)
	other := service(t, "other")
	err = write(s, func(tx store.Tx) error {
		if err := tx.Delete(bg, "services", svc["id"].(string)); err == nil {
			return errors.New("delete of a referenced service succeeded")
		}
		return tx.Insert(bg, "services", other)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "plugins", p["id"].(string))
	mustGet(t, s, "services", other["id"].(string))

	// client_certificate restricts too.
	cert, key := testCert(t)
	c := Record(t, "certificates", map[string]any{"cert": cert, "key": key})
	insert(t, s, "certificates", c)
	svc2 := Record(t, "services", map[string]any{"host": "x.example.com", "protocol": "https", "client_certificate": ref(c)})
	insert(t, s, "services", svc2)
	wantRestricted(t, write(s, func(tx store.Tx) error { return tx.Delete(bg, "certificates", c["id"].(string)) }), "certificates", "services")

	// A CA certificate listed by a service cannot go (Kong's
	// ca_certificates DAO); unlisted, it can.
	ca := Record(t, "ca_certificates", map[string]any{"cert": cert})
	cert2, _ := newCert(t)
	ca2 := Record(t, "ca_certificates", map[string]any{"cert": cert2})
	insert(t, s, "ca_certificates", ca, ca2)
	svc3 := Record(t, "services", map[string]any{"host": "ca.example.com", "protocol": "https", "ca_certificates": []any{ca2["id"], ca["id"]}})
	insert(t, s, "services", svc3)
	err = write(s, func(tx store.Tx) error { return tx.Delete(bg, "ca_certificates", ca["id"].(string)) })
	var re *store.ReferencedError
	if !errors.As(err, &re) || re.ReferencedBy != "services" || re.ReferencedByID != svc3["id"] {
		t.Fatalf("delete of a listed CA certificate: %v; want *store.ReferencedError by services %s", err, svc3["id"])
	}
	if want := fmt.Sprintf("ca certificate %s is still referenced by services (id = %s)", ca["id"], svc3["id"]); re.Error() != want {
		t.Fatalf("message %q; want %q", re.Error(), want)
	}
	mustGet(t, s, "ca_certificates", ca["id"].(string))
	svc3b := Record(t, "services", map[string]any{"host": "ca.example.com", "protocol": "https", "ca_certificates": []any{ca2["id"]}})
	svc3b["id"] = svc3["id"]
	if err := write(s, func(tx store.Tx) error {
		if err := tx.Replace(bg, "services", svc3b); err != nil {
			return err
		}
		return tx.Delete(bg, "ca_certificates", ca["id"].(string))
	}); err != nil {
		t.Fatalf("delete of an unlisted CA certificate: %v", err)
	}

	// Once the route is gone the service can go.
	if err := write(s, func(tx store.Tx) error {
		if err := tx.Delete(bg, "routes", r["id"].(string)); err != nil {
			return err
		}
		return tx.Delete(bg, "services", svc["id"].(string))
	}); err != nil {
		t.Fatalf("delete route then service: %v", err)
	}
	wantNotFound(t, s, "plugins", p["id"].(string))
}

func testDeleteCascade(t *testing.T, s store.Store) {
	cons := Record(t, "consumers", map[string]any{"username": "u"})
	keep := Record(t, "consumers", map[string]any{"username": "keep"})
	insert(t, s, "consumers", cons, keep)
	ka := Record(t, "keyauth_credentials", map[string]any{"consumer": ref(cons)})
	ba := Record(t, "basicauth_credentials", map[string]any{"username": "u", "password": "p", "consumer": ref(cons)})
	jw := Record(t, "jwt_secrets", map[string]any{"consumer": ref(cons)})
	acl := Record(t, "acls", map[string]any{"group": "g", "consumer": ref(cons)})
	kaKeep := Record(t, "keyauth_credentials", map[string]any{"consumer": ref(keep)})
	plug := Record(t, "plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{}, "consumer": ref(cons)})
	insert(t, s, "keyauth_credentials", ka, kaKeep)
	insert(t, s, "basicauth_credentials", ba)
	insert(t, s, "jwt_secrets", jw)
	insert(t, s, "acls", acl)
	insert(t, s, "plugins", plug)

	up := Record(t, "upstreams", map[string]any{"name": "up"})
	insert(t, s, "upstreams", up)
	t1 := Record(t, "targets", map[string]any{"target": "10.0.0.1:80", "upstream": ref(up)})
	t2 := Record(t, "targets", map[string]any{"target": "10.0.0.2:80", "upstream": ref(up)})
	insert(t, s, "targets", t1, t2)

	cert, key := testCert(t)
	c := Record(t, "certificates", map[string]any{"cert": cert, "key": key})
	insert(t, s, "certificates", c)
	sni := Record(t, "snis", map[string]any{"name": "a.example.com", "certificate": ref(c)})
	insert(t, s, "snis", sni)

	svc := service(t, "s")
	rt := route(t, svc, "/r")
	insert(t, s, "services", svc)
	insert(t, s, "routes", rt)
	rp := Record(t, "plugins", map[string]any{"name": "cors", "config": map[string]any{}, "route": ref(rt)})
	insert(t, s, "plugins", rp)

	v0, _ := s.Version(bg)
	err := write(s, func(tx store.Tx) error {
		for _, d := range []struct{ entity, id string }{
			{"consumers", cons["id"].(string)},
			{"upstreams", up["id"].(string)},
			{"certificates", c["id"].(string)},
			{"routes", rt["id"].(string)},
		} {
			if err := tx.Delete(bg, d.entity, d.id); err != nil {
				return fmt.Errorf("delete %s: %w", d.entity, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]store.Record{"consumers": cons, "keyauth_credentials": ka, "basicauth_credentials": ba,
		"jwt_secrets": jw, "acls": acl, "upstreams": up, "certificates": c, "snis": sni, "routes": rt}
	for entity, r := range gone {
		wantNotFound(t, s, entity, r["id"].(string))
	}
	for _, r := range []store.Record{plug, rp} {
		wantNotFound(t, s, "plugins", r["id"].(string))
	}
	for _, r := range []store.Record{t1, t2} {
		wantNotFound(t, s, "targets", r["id"].(string))
	}
	mustGet(t, s, "consumers", keep["id"].(string))
	mustGet(t, s, "keyauth_credentials", kaKeep["id"].(string))
	mustGet(t, s, "services", svc["id"].(string))
	if _, err := s.GetByKey(bg, "snis", "name", "a.example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sni name still claimed: %v", err)
	}

	changes, v, err := s.ChangesSince(bg, v0)
	if err != nil {
		t.Fatal(err)
	}
	if v != v0+1 {
		t.Fatalf("version %d after one transaction; want %d", v, v0+1)
	}
	var got []string
	for _, ch := range changes {
		if ch.Op != store.OpDelete || ch.Version != v {
			t.Fatalf("change %+v; want a delete at version %d", ch, v)
		}
		got = append(got, ch.Entity+"/"+ch.ID)
	}
	var want []string
	for entity, r := range gone {
		want = append(want, entity+"/"+r["id"].(string))
	}
	for _, r := range []store.Record{plug, rp} {
		want = append(want, "plugins/"+r["id"].(string))
	}
	for _, r := range []store.Record{t1, t2} {
		want = append(want, "targets/"+r["id"].(string))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deletes in the feed:\ngot  %v\nwant %v", got, want)
	}
	// Children are reported before their parent.
	pos := map[string]int{}
	for i, ch := range changes {
		pos[ch.Entity+"/"+ch.ID] = i
	}
	if pos["keyauth_credentials/"+ka["id"].(string)] > pos["consumers/"+cons["id"].(string)] {
		t.Fatalf("credential deleted after its consumer in the feed: %v", changes)
	}
}

func testPaging(t *testing.T, s store.Store) {
	const n = 250
	want := make([]string, 0, n)
	err := write(s, func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			r := service(t, fmt.Sprintf("svc-%03d", i))
			want = append(want, r["id"].(string))
			if err := tx.Insert(bg, "services", r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Kong's PostgreSQL strategy pages ORDER BY the primary key
	// (kong/db/strategies/postgres/init.lua), not in creation order.
	sort.Strings(want)
	for _, size := range []int{1, 7, 100, 249, 250, 251, 1000} {
		var ids []string
		opts := store.ListOptions{Size: size}
		pages := 0
		for {
			p, err := s.List(bg, "services", opts)
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			pages++
			if len(p.Records) > size {
				t.Fatalf("size %d: page of %d", size, len(p.Records))
			}
			if p.Offset != "" && len(p.Records) != size {
				t.Fatalf("size %d: short page (%d) with a next offset", size, len(p.Records))
			}
			for _, r := range p.Records {
				ids = append(ids, r["id"].(string))
			}
			if p.Offset == "" {
				break
			}
			opts.Offset = p.Offset
		}
		if !reflect.DeepEqual(ids, want) {
			t.Fatalf("size %d: %d ids (in id order?) ; want the %d inserted", size, len(ids), n)
		}
		if wantPages := (n + size - 1) / size; pages != wantPages {
			t.Fatalf("size %d: %d pages; want %d", size, pages, wantPages)
		}
	}
	// Default size is Kong's 100.
	p, err := s.List(bg, "services", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 100 || p.Offset == "" {
		t.Fatalf("default page: %d records, offset %q; want 100 and a next offset", len(p.Records), p.Offset)
	}
	// Records deleted between pages are skipped, not repeated.
	p1, _ := s.List(bg, "services", store.ListOptions{Size: 10})
	if err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", want[10]) }); err != nil {
		t.Fatal(err)
	}
	p2, err := s.List(bg, "services", store.ListOptions{Size: 10, Offset: p1.Offset})
	if err != nil {
		t.Fatal(err)
	}
	if got := p2.Records[0]["id"]; got != want[11] {
		t.Fatalf("first id after a deletion %v; want %s", got, want[11])
	}
	// An empty collection.
	p, err = s.List(bg, "routes", store.ListOptions{})
	if err != nil || len(p.Records) != 0 || p.Offset != "" {
		t.Fatalf("empty list = %+v, %v", p, err)
	}
}

func testBadOffset(t *testing.T, s store.Store) {
	var recs []store.Record
	for i := 0; i < 3; i++ {
		recs = append(recs, service(t, fmt.Sprintf("s%d", i)))
	}
	insert(t, s, "services", recs...)
	insert(t, s, "consumers", Record(t, "consumers", map[string]any{"username": "a"}), Record(t, "consumers", map[string]any{"username": "b"}))
	p, err := s.List(bg, "consumers", store.ListOptions{Size: 1})
	if err != nil || p.Offset == "" {
		t.Fatalf("consumers page: %+v, %v", p, err)
	}
	// Kong's tokens name the last id only, so a consumers token pages
	// services too (from that id on), as in Kong.
	if _, err := s.List(bg, "services", store.ListOptions{Offset: p.Offset}); err != nil {
		t.Fatalf("a consumers token on services: %v", err)
	}
	for _, off := range []string{"garbage!", "Zm9vYmFy", "%%%", "MTAw", strings.Repeat("A", 500)} {
		if _, err := s.List(bg, "services", store.ListOptions{Offset: off}); !errors.Is(err, store.ErrInvalidOffset) {
			t.Fatalf("offset %q: %v; want ErrInvalidOffset", off, err)
		}
	}
}

func testTags(t *testing.T, s store.Store) {
	a := service(t, "a", "red")
	ab := service(t, "ab", "red", "blue")
	b := service(t, "b", "blue")
	c := service(t, "c", "green")
	none := service(t, "none")
	insert(t, s, "services", a, ab, b, c, none)
	// Pages come in id order (Kong's ORDER BY primary key).
	ids := func(rs ...store.Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r["id"].(string))
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		tags []string
		or   bool
		want []string
	}{
		{[]string{"red"}, false, ids(a, ab)},
		{[]string{"red", "blue"}, false, ids(ab)},
		{[]string{"red", "blue"}, true, ids(a, ab, b)},
		{[]string{"green", "red"}, true, ids(a, ab, c)},
		{[]string{"green", "red"}, false, nil},
		{[]string{"nosuch"}, true, nil},
	}
	for _, tt := range tests {
		got := listAll(t, s, "services", store.ListOptions{Tags: tt.tags, TagsOr: tt.or})
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("tags %v or=%v: got %v; want %v", tt.tags, tt.or, got, tt.want)
		}
		// Paged one by one, the same.
		got = listAll(t, s, "services", store.ListOptions{Size: 1, Tags: tt.tags, TagsOr: tt.or})
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("tags %v or=%v size 1: got %v; want %v", tt.tags, tt.or, got, tt.want)
		}
	}
	// Retagging moves the record between filters.
	ab2 := service(t, "ab", "green")
	ab2["id"] = ab["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", ab2) }); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, "services", store.ListOptions{Tags: []string{"green"}}); !reflect.DeepEqual(got, ids(ab, c)) {
		t.Fatalf("green after retag: %v; want %v", got, ids(ab, c))
	}
	if got := listAll(t, s, "services", store.ListOptions{Tags: []string{"blue"}}); !reflect.DeepEqual(got, ids(b)) {
		t.Fatalf("blue after retag: %v; want %v", got, ids(b))
	}
}

func testNested(t *testing.T, s store.Store) {
	s1, s2 := service(t, "s1"), service(t, "s2")
	insert(t, s, "services", s1, s2)
	var r1, r2 []string
	for i := 0; i < 5; i++ {
		a, b := route(t, s1, fmt.Sprintf("/a%d", i)), route(t, s2, fmt.Sprintf("/b%d", i))
		insert(t, s, "routes", a, b)
		r1 = append(r1, a["id"].(string))
		r2 = append(r2, b["id"].(string))
	}
	insert(t, s, "routes", route(t, nil, "/loose"))
	sort.Strings(r1) // pages come in id order
	sort.Strings(r2)
	if got := listAll(t, s, "routes", store.ListOptions{Size: 2, Foreign: &store.Foreign{Field: "service", ID: s1["id"].(string)}}); !reflect.DeepEqual(got, r1) {
		t.Fatalf("routes of s1: %v; want %v", got, r1)
	}
	if got := listAll(t, s, "routes", store.ListOptions{Foreign: &store.Foreign{Field: "service", ID: s2["id"].(string)}}); !reflect.DeepEqual(got, r2) {
		t.Fatalf("routes of s2: %v; want %v", got, r2)
	}
	if n := count(t, s, "routes", store.ListOptions{}); n != 11 {
		t.Fatalf("%d routes; want 11", n)
	}
	// Moving a route to the other service.
	moved := route(t, s2, "/a0")
	moved["id"] = r1[0]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "routes", moved) }); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "routes", store.ListOptions{Foreign: &store.Foreign{Field: "service", ID: s1["id"].(string)}}); n != 4 {
		t.Fatalf("%d routes left on s1; want 4", n)
	}
	if n := count(t, s, "routes", store.ListOptions{Foreign: &store.Foreign{Field: "service", ID: s2["id"].(string)}}); n != 6 {
		t.Fatalf("%d routes on s2; want 6", n)
	}
	// Plugins by consumer, with tags.
	cons := Record(t, "consumers", map[string]any{"username": "u"})
	insert(t, s, "consumers", cons)
	p := Record(t, "plugins", map[string]any{"name": "cors", "config": map[string]any{}, "consumer": ref(cons), "tags": []any{"t"}})
	insert(t, s, "plugins", p, Record(t, "plugins", map[string]any{"name": "cors", "config": map[string]any{}, "tags": []any{"t"}}))
	got := listAll(t, s, "plugins", store.ListOptions{Tags: []string{"t"}, Foreign: &store.Foreign{Field: "consumer", ID: cons["id"].(string)}})
	if !reflect.DeepEqual(got, []string{p["id"].(string)}) {
		t.Fatalf("plugins of the consumer: %v; want [%s]", got, p["id"])
	}
	if _, err := s.List(bg, "routes", store.ListOptions{Foreign: &store.Foreign{Field: "paths", ID: "x"}}); err == nil {
		t.Fatal("List with a non-foreign field as parent succeeded")
	}
}

func testRollback(t *testing.T, s store.Store) {
	v0, err := s.Version(bg)
	if err != nil {
		t.Fatal(err)
	}
	svc := service(t, "s")
	r := route(t, svc, "/a")
	cons := Record(t, "consumers", map[string]any{"username": "u"})
	boom := errors.New("boom")
	err = write(s, func(tx store.Tx) error {
		for _, w := range []struct {
			entity string
			rec    store.Record
		}{{"services", svc}, {"routes", r}, {"consumers", cons}} {
			if err := tx.Insert(bg, w.entity, w.rec); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v; want fn's error", err)
	}
	wantNotFound(t, s, "services", svc["id"].(string))
	wantNotFound(t, s, "routes", r["id"].(string))
	wantNotFound(t, s, "consumers", cons["id"].(string))
	if _, err := s.GetByKey(bg, "services", "name", "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("name of a rolled-back service still claimed: %v", err)
	}
	if v, _ := s.Version(bg); v != v0 {
		t.Fatalf("version %d after rollback; want %d", v, v0)
	}
	if ch, _, err := s.ChangesSince(bg, v0); err != nil || len(ch) != 0 {
		t.Fatalf("changes after rollback: %v, %v", ch, err)
	}
	// The same records can then be written.
	insert(t, s, "services", svc)
	insert(t, s, "routes", r)

	// A rolled-back delete and replace leave the records as they were.
	r2 := route(t, svc, "/changed")
	r2["id"] = r["id"]
	err = write(s, func(tx store.Tx) error {
		if err := tx.Replace(bg, "routes", r2); err != nil {
			return err
		}
		if err := tx.Delete(bg, "routes", r["id"].(string)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v; want boom", err)
	}
	sameRecord(t, mustGet(t, s, "routes", r["id"].(string)), r)
	if n := count(t, s, "routes", store.ListOptions{Foreign: &store.Foreign{Field: "service", ID: svc["id"].(string)}}); n != 1 {
		t.Fatalf("%d routes of the service after rollback; want 1", n)
	}
}

func testVersionAndChanges(t *testing.T, s store.Store) {
	v0, err := s.Version(bg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := service(t, "a"), service(t, "b")
	insert(t, s, "services", a, b)
	v1, _ := s.Version(bg)
	if v1 <= v0 {
		t.Fatalf("version %d after a write; want > %d", v1, v0)
	}
	a2 := service(t, "a2")
	a2["id"] = a["id"]
	if err := write(s, func(tx store.Tx) error { return tx.Replace(bg, "services", a2) }); err != nil {
		t.Fatal(err)
	}
	if err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", b["id"].(string)) }); err != nil {
		t.Fatal(err)
	}
	v3, _ := s.Version(bg)
	if v3 != v1+2 {
		t.Fatalf("version %d after two more writes; want %d", v3, v1+2)
	}
	// A transaction that only reads does not bump the version.
	if err := write(s, func(tx store.Tx) error { _, err := tx.Get(bg, "services", a["id"].(string)); return err }); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Version(bg); v != v3 {
		t.Fatalf("version %d after a read-only transaction; want %d", v, v3)
	}

	ch, cur, err := s.ChangesSince(bg, v0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Change{
		{Version: v1, Op: store.OpCreate, Entity: "services", ID: a["id"].(string)},
		{Version: v1, Op: store.OpCreate, Entity: "services", ID: b["id"].(string)},
		{Version: v1 + 1, Op: store.OpUpdate, Entity: "services", ID: a["id"].(string)},
		{Version: v3, Op: store.OpDelete, Entity: "services", ID: b["id"].(string)},
	}
	if cur != v3 || !reflect.DeepEqual(ch, want) {
		t.Fatalf("ChangesSince(%d) = %+v, %d;\nwant %+v, %d", v0, ch, cur, want, v3)
	}
	ch, cur, err = s.ChangesSince(bg, v1)
	if err != nil || cur != v3 || !reflect.DeepEqual(ch, want[2:]) {
		t.Fatalf("ChangesSince(%d) = %+v, %d, %v; want %+v", v1, ch, cur, err, want[2:])
	}
	ch, cur, err = s.ChangesSince(bg, v3)
	if err != nil || cur != v3 || len(ch) != 0 {
		t.Fatalf("ChangesSince(current) = %+v, %d, %v; want nothing", ch, cur, err)
	}

	// ChangedRecords: the same feed, with the latest record of each entity
	// that still exists (a's replacement; b is gone).
	ch, recs, cur, err := s.ChangedRecords(bg, v0)
	if err != nil || cur != v3 || !reflect.DeepEqual(ch, want) {
		t.Fatalf("ChangedRecords(%d) = %+v, %d, %v;\nwant %+v, %d", v0, ch, cur, err, want, v3)
	}
	aRef := store.EntityRef{Entity: "services", ID: a["id"].(string)}
	if len(recs) != 1 || recs[aRef] == nil {
		t.Fatalf("ChangedRecords(%d) records = %v; want only %v", v0, recs, aRef)
	}
	sameRecord(t, recs[aRef], a2)
	ch, recs, cur, err = s.ChangedRecords(bg, v1+1)
	if err != nil || cur != v3 || !reflect.DeepEqual(ch, want[3:]) || len(recs) != 0 {
		t.Fatalf("ChangedRecords(%d) = %+v, %v, %d, %v; want %+v and no records", v1+1, ch, recs, cur, err, want[3:])
	}
	ch, recs, cur, err = s.ChangedRecords(bg, v3)
	if err != nil || cur != v3 || len(ch) != 0 || len(recs) != 0 {
		t.Fatalf("ChangedRecords(current) = %+v, %v, %d, %v; want nothing", ch, recs, cur, err)
	}

	// Many records at once (read in chunks).
	var many []store.Record
	for i := range 301 {
		many = append(many, Record(t, "consumers", map[string]any{"custom_id": fmt.Sprintf("many-%d", i)}))
	}
	insert(t, s, "consumers", many...)
	ch, recs, _, err = s.ChangedRecords(bg, v3)
	if err != nil || len(ch) != len(many) || len(recs) != len(many) {
		t.Fatalf("ChangedRecords after %d inserts: %d changes, %d records, %v", len(many), len(ch), len(recs), err)
	}
	for _, c := range many {
		got := recs[store.EntityRef{Entity: "consumers", ID: c["id"].(string)}]
		if got == nil || got["custom_id"] != c["custom_id"] {
			t.Fatalf("record of %v: %v", c["id"], got)
		}
	}
}

func testNotify(t *testing.T, s store.Store) {
	ch := s.Notify()
	ch2 := s.Notify()
	// Drain anything pending from setup.
	for drained := false; !drained; {
		select {
		case <-ch:
		case <-ch2:
		case <-time.After(50 * time.Millisecond):
			drained = true
		}
	}
	insert(t, s, "services", service(t, "n"))
	for i, c := range []<-chan struct{}{ch, ch2} {
		select {
		case <-c:
		case <-time.After(time.Second):
			t.Fatalf("subscriber %d not notified within 1s of a commit", i)
		}
	}
	// A burst coalesces: the writer never blocks on an unread channel.
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			err = write(s, func(tx store.Tx) error { return tx.Insert(bg, "services", service(t, fmt.Sprintf("burst-%d", i))) })
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("writes blocked by unread notifications")
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("no notification after a burst")
	}
}

func testLoad(t *testing.T, s store.Store) {
	cert, key := testCert(t)
	svc := Record(t, "services", map[string]any{"name": "svc", "url": "https://api.example.com:8443/base", "tags": []any{"x"}})
	rt := Record(t, "routes", map[string]any{"name": "r", "hosts": []any{"example.com"}, "paths": []any{"/api"},
		"methods": []any{"GET"}, "headers": map[string]any{"x-v": []any{"1"}}, "service": ref(svc)})
	cons := Record(t, "consumers", map[string]any{"username": "alice"})
	plug := Record(t, "plugins", map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": 5}, "route": ref(rt)})
	up := Record(t, "upstreams", map[string]any{"name": "backend"})
	tgt := Record(t, "targets", map[string]any{"target": "10.0.0.1:8080", "weight": 50, "upstream": ref(up)})
	crt := Record(t, "certificates", map[string]any{"cert": cert, "key": key})
	sni := Record(t, "snis", map[string]any{"name": "example.com", "certificate": ref(crt)})
	ka := Record(t, "keyauth_credentials", map[string]any{"key": "k", "consumer": ref(cons)})
	acl := Record(t, "acls", map[string]any{"group": "g", "consumer": ref(cons)})
	order := []struct {
		entity string
		rec    store.Record
	}{
		{"services", svc}, {"routes", rt}, {"consumers", cons}, {"plugins", plug}, {"upstreams", up},
		{"targets", tgt}, {"certificates", crt}, {"snis", sni}, {"keyauth_credentials", ka}, {"acls", acl},
	}
	for _, o := range order {
		insert(t, s, o.entity, o.rec)
	}
	// A deleted record is not loaded.
	extra := service(t, "extra")
	insert(t, s, "services", extra)
	if err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "services", extra["id"].(string)) }); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Version(bg)

	cfg, lv, err := s.Load(bg)
	if err != nil {
		t.Fatal(err)
	}
	if lv != v {
		t.Fatalf("Load version %d; want %d", lv, v)
	}
	want := &model.Config{}
	for _, o := range order {
		var dst any
		switch o.entity {
		case "services":
			dst = appendNew(&want.Services)
		case "routes":
			dst = appendNew(&want.Routes)
		case "consumers":
			dst = appendNew(&want.Consumers)
		case "plugins":
			dst = appendNew(&want.Plugins)
		case "upstreams":
			dst = appendNew(&want.Upstreams)
		case "targets":
			dst = appendNew(&want.Targets)
		case "certificates":
			dst = appendNew(&want.Certificates)
		case "snis":
			dst = appendNew(&want.SNIs)
		case "keyauth_credentials":
			dst = appendNew(&want.KeyAuthCredentials)
		case "acls":
			dst = appendNew(&want.ACLs)
		}
		if err := model.Decode(o.rec, dst); err != nil {
			t.Fatalf("decode %s: %v", o.entity, err)
		}
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load:\ngot  %s\nwant %s", jsonString(cfg), jsonString(want))
	}
	if cfg.Services[0].Port != 8443 || cfg.Routes[0].Service == nil || cfg.Routes[0].Service.ID != svc["id"] {
		t.Fatalf("decoded service/route wrong: %+v %+v", cfg.Services[0], cfg.Routes[0])
	}
}

// appendNew appends a new zero entity to list and returns it.
func appendNew[T any](list *[]*T) *T {
	e := new(T)
	*list = append(*list, e)
	return e
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, each = 4, 10
	v0, _ := s.Version(bg)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := service(t, fmt.Sprintf("w%d-%d", w, i))
				if err := write(s, func(tx store.Tx) error { return tx.Insert(bg, "services", r) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, _ := s.Version(bg)
	if v != v0+writers*each {
		t.Fatalf("version %d; want %d", v, v0+writers*each)
	}
	ch, _, err := s.ChangesSince(bg, v0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for _, c := range ch {
		if seen[c.Version] {
			t.Fatalf("two changes at version %d", c.Version)
		}
		seen[c.Version] = true
	}
	if len(ch) != writers*each {
		t.Fatalf("%d changes; want %d", len(ch), writers*each)
	}
	if n := count(t, s, "services", store.ListOptions{Size: 1000}); n != writers*each {
		t.Fatalf("%d services; want %d", n, writers*each)
	}
}

// testLargeTransaction writes thousands of records in one transaction and
// deletes them by one cascade (a config import, a consumer with many
// credentials): however the store batches its statements, they stay
// within the database's limits, and the feed holds every change in order.
func testLargeTransaction(t *testing.T, s store.Store) {
	const n = 7000
	cons := Record(t, "consumers", map[string]any{"username": "many"})
	creds := make([]store.Record, n)
	for i := range creds {
		creds[i] = Record(t, "keyauth_credentials", map[string]any{"key": fmt.Sprintf("key-%d", i), "consumer": ref(cons), "tags": []any{"bulk"}})
	}
	v0, _ := s.Version(bg)
	err := write(s, func(tx store.Tx) error {
		if err := tx.Insert(bg, "consumers", cons); err != nil {
			return err
		}
		for _, c := range creds {
			if err := tx.Insert(bg, "keyauth_credentials", c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inserting %d credentials in one transaction: %v", n, err)
	}
	if got := count(t, s, "keyauth_credentials", store.ListOptions{Tags: []string{"bulk"}}); got != n {
		t.Fatalf("%d credentials tagged bulk; want %d", got, n)
	}
	if got, err := s.GetByKey(bg, "keyauth_credentials", "key", "key-6999"); err != nil || got["id"] != creds[n-1]["id"] {
		t.Fatalf("key-6999: %v, %v", got["id"], err)
	}
	if err := write(s, func(tx store.Tx) error { return tx.Delete(bg, "consumers", cons["id"].(string)) }); err != nil {
		t.Fatalf("deleting a consumer with %d credentials: %v", n, err)
	}
	if got := count(t, s, "keyauth_credentials", store.ListOptions{}); got != 0 {
		t.Fatalf("%d credentials left after the cascade", got)
	}
	ch, _, err := s.ChangesSince(bg, v0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2*(n+1) {
		t.Fatalf("%d changes; want %d", len(ch), 2*(n+1))
	}
	if ch[0].ID != cons["id"] || ch[1].ID != creds[0]["id"] || ch[n].ID != creds[n-1]["id"] {
		t.Fatalf("insert changes out of order: %v %v %v", ch[0], ch[1], ch[n])
	}
	for _, c := range ch[n+1:] {
		if c.Op != store.OpDelete {
			t.Fatalf("change %v in the cascade; want deletes", c)
		}
	}
	if last := ch[len(ch)-1]; last.ID != cons["id"] {
		t.Fatalf("the cascade's last change is %v; want the consumer after its credentials", last)
	}
}
