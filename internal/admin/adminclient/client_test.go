package adminclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"sluice/internal/admin"
	"sluice/internal/admin/adminclient"
	"sluice/internal/store/embedded"
)

func TestClient(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(admin.New(admin.Options{Store: st, Database: "embedded", AdminToken: "tok"}))
	defer srv.Close()
	ctx := context.Background()

	c := adminclient.New(srv.URL)
	_, err = c.Get(ctx, "/services")
	var ae *adminclient.APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("without token: got %v; want a 401 APIError", err)
	}
	c.Token = "tok"
	for i := 0; i < 7; i++ {
		if _, err := c.Create(ctx, "/services", map[string]any{"name": fmt.Sprintf("s%d", i), "host": "a.com"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.List(ctx, "/services", 3)
	if err != nil || len(all) != 7 {
		t.Fatalf("List: %d entities, %v; want 7", len(all), err)
	}
	got, err := c.Patch(ctx, "/services/s1", map[string]any{"retries": 1})
	if err != nil || got["retries"] != 1.0 {
		t.Fatalf("Patch: %v %v", got, err)
	}
	if _, err := c.Put(ctx, "/services/s9", map[string]any{"host": "b.com"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/services/s9"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, "/services/s9")
	if !adminclient.IsNotFound(err) {
		t.Errorf("Get after Delete: %v; want not found", err)
	}
	_, err = c.Create(ctx, "/services", map[string]any{"name": "s1", "host": "a.com"})
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Body["code"] != 5.0 {
		t.Errorf("duplicate: %v; want 409 code 5", err)
	}
}
