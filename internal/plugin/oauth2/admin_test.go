package oauth2

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

func call(t *testing.T, h func(context.Context, *plugin.AdminRequest) (int, any, error), params map[string]string, in map[string]any, q url.Values) (int, map[string]any) {
	t.Helper()
	st, body, err := h(context.Background(), &plugin.AdminRequest{Params: params, Input: in, Query: q})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := body.(map[string]any)
	return st, m
}

// TestAdminTokens: Kong's /oauth2_tokens over the token table: create
// (validated), read by id and by access token, patch, put by access token,
// list in pages, delete; a created token authenticates proxied requests.
func TestAdminTokens(t *testing.T) {
	ep := map[string]map[string]func(context.Context, *plugin.AdminRequest) (int, any, error){}
	for _, e := range AdminEndpoints {
		ep[e.Pattern] = map[string]func(context.Context, *plugin.AdminRequest) (int, any, error){}
		for m, h := range e.Methods {
			ep[e.Pattern][m] = h
		}
	}
	coll, item := ep["/oauth2_tokens"], ep["/oauth2_tokens/{token}"]
	const cred = "00000000-0000-4000-8000-0000000000a1"

	st, m := call(t, coll[http.MethodPost], nil, map[string]any{"credential": map[string]any{"id": "nope"}, "expires_in": "x"}, nil)
	if st != 400 || m["message"] != "2 schema violations (credential.id: expected a valid UUID; expires_in: expected an integer)" {
		t.Errorf("invalid token: %d %v", st, m)
	}
	st, m = call(t, coll[http.MethodPost], nil, map[string]any{}, nil)
	if st != 400 || m["message"] != "2 schema violations (credential: required field missing; expires_in: required field missing)" {
		t.Errorf("empty token: %d %v", st, m)
	}
	st, m = call(t, coll[http.MethodPost], nil, map[string]any{"credential": map[string]any{"id": cred}, "expires_in": float64(10), "scope": "read"}, nil)
	id, _ := m["id"].(string)
	access, _ := m["access_token"].(string)
	if st != 201 || !model.IsUUID(id) || len(access) != 32 || m["token_type"] != "bearer" || m["refresh_token"] != nil || m["scope"] != "read" {
		t.Fatalf("POST: %d %v", st, m)
	}
	for _, key := range []string{id, access} {
		if st, m := call(t, item[http.MethodGet], map[string]string{"token": key}, nil, nil); st != 200 || m["id"] != id {
			t.Errorf("GET by %s: %d %v", key, st, m)
		}
	}
	st, m = call(t, item[http.MethodPatch], map[string]string{"token": id}, map[string]any{"expires_in": "20"}, nil)
	if st != 200 || m["expires_in"] != int64(20) || m["access_token"] != access {
		t.Errorf("PATCH: %d %v", st, m)
	}
	st, m = call(t, item[http.MethodPut], map[string]string{"token": "foobar"}, map[string]any{"credential": map[string]any{"id": cred}, "expires_in": float64(5)}, nil)
	if st != 200 || m["access_token"] != "foobar" {
		t.Errorf("PUT /oauth2_tokens/foobar: %d %v", st, m)
	}
	if tok := shared.token("foobar"); tok == nil || tok.Credential != cred {
		t.Error("the PUT token is not in the table")
	}
	st, m = call(t, coll[http.MethodGet], nil, nil, url.Values{"size": {"1"}})
	if data, _ := m["data"].([]any); st != 200 || len(data) != 1 || m["offset"] == nil {
		t.Fatalf("list, size 1: %d %v", st, m)
	}
	st, m2 := call(t, coll[http.MethodGet], nil, nil, url.Values{"size": {"1"}, "offset": {m["offset"].(string)}})
	if data, _ := m2["data"].([]any); st != 200 || len(data) == 0 || data[0].(map[string]any)["id"] == m["data"].([]any)[0].(map[string]any)["id"] {
		t.Errorf("second page: %d %v", st, m2)
	}
	if st, _ := call(t, item[http.MethodDelete], map[string]string{"token": id}, nil, nil); st != 204 {
		t.Errorf("DELETE: %d", st)
	}
	if st, _ := call(t, item[http.MethodGet], map[string]string{"token": id}, nil, nil); st != 404 {
		t.Errorf("GET after DELETE: %d", st)
	}
	if st, _ := call(t, item[http.MethodDelete], map[string]string{"token": id}, nil, nil); st != 204 {
		t.Errorf("DELETE of a missing token: %d", st)
	}
}
