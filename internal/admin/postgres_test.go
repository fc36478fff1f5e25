package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"sluice/internal/store/postgres"
)

// newPGServer serves the Admin API on a PostgreSQL store in a database of
// its own (127.0.0.1:5432, user postgres), dropped afterwards. Without a
// server the test skips, except under CI=true where it fails.
func newPGServer(t *testing.T) *client {
	t.Helper()
	st := newPGStore(t)
	srv := httptest.NewServer(New(Options{Store: st, Database: "postgres", Now: func() time.Time { return fixedNow }}))
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL, st: st}
}

// newPGStore opens a PostgreSQL store in a database of its own, dropped
// afterwards (see newPGServer).
func newPGStore(t testing.TB) *postgres.Store {
	t.Helper()
	base := postgres.Options{Host: "127.0.0.1", Port: 5432, User: "postgres", Database: "postgres", Timeout: 2 * time.Second}
	cfg, err := base.ConnConfig()
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 is not answering (required under CI): %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 is not answering: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "sluice_admin_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	o := base
	o.Database = name
	if err := postgres.Bootstrap(context.Background(), o); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	st, err := postgres.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// The Kong spec cases that depend on the store, on PostgreSQL: paging in
// id order with Kong's tokens (10-services_routes_spec.lua), the primary
// key violation (09-routes_routes_spec.lua), restricted and referenced
// deletes.
func TestKongSpecOnPostgres(t *testing.T) {
	c := newPGServer(t)
	var ids []string
	for i := 0; i < 10; i++ {
		j := c.must(201, "POST", "/services", map[string]any{"name": fmt.Sprintf("svc-%d", i), "host": "a.test", "tags": []any{"t"}})
		ids = append(ids, j["id"].(string))
	}
	sort.Strings(ids)
	for _, q := range []string{"size=3", "size=3&tags=t"} {
		var got []string
		path := "/services?" + q
		for path != "" {
			j := c.must(200, "GET", path, nil)
			for _, d := range j["data"].([]any) {
				got = append(got, d.(map[string]any)["id"].(string))
			}
			next, _ := j["next"].(string)
			if next != "" {
				want := "/services?offset=" + url.QueryEscape(j["offset"].(string))
				if q != "size=3" {
					want += "&tags=t"
				}
				if next != want+"&size=3" {
					t.Errorf("next %q; want %q", next, want+"&size=3")
				}
			}
			path = next
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("%s: paged\n%v\nwant id order\n%v", q, got, ids)
		}
	}
	wantBody(t, c.do("GET", "/services?offset=Zm9vYmFy", nil), 400, `{"code":7,"name":"invalid offset","message":"'Zm9vYmFy' is not a valid offset: bad json encoding"}`)

	r := c.do("POST", "/services", map[string]any{"host": "b.test", "id": ids[0]})
	wantBody(t, r, 400, `{"code":3,"name":"primary key violation","message":"primary key violation on key '{id=\"`+ids[0]+`\"}'","fields":{"id":"`+ids[0]+`"}}`)
	c.must(201, "POST", "/routes", map[string]any{"paths": []any{"/x"}, "service": map[string]any{"id": ids[1]}})
	wantBody(t, c.do("DELETE", "/services/"+ids[1], nil), 400, `{"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}}`)

	ca, _ := selfSigned(t, "PG CA", true)
	caID := c.must(201, "POST", "/ca_certificates", map[string]any{"cert": ca})["id"].(string)
	c.must(200, "PATCH", "/services/"+ids[2], map[string]any{"protocol": "https", "ca_certificates": []any{caID}})
	wantBody(t, c.do("DELETE", "/ca_certificates/"+caID, nil), 400, `{"code":19,"name":"referenced by others","message":"ca certificate `+caID+` is still referenced by services (id = `+ids[2]+`)"}`)
}
