package oauth2

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// AdminEndpoints are Kong's /oauth2_tokens (kong/plugins/oauth2/api.lua)
// over this node's token table: list, create, read, update and delete by
// id or access token. The credential a token names must be a UUID; that
// it exists is not checked (the table is not the configuration).
var AdminEndpoints = []plugin.AdminEndpoint{
	{Pattern: "/oauth2_tokens", Methods: map[string]plugin.AdminHandler{
		http.MethodGet: listTokens,
		http.MethodPost: func(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
			return writeToken(r, nil, "", nil, http.StatusCreated)
		},
	}},
	{Pattern: "/oauth2_tokens/{token}", Methods: map[string]plugin.AdminHandler{
		http.MethodGet:    getToken,
		http.MethodPatch:  patchToken,
		http.MethodPut:    putToken,
		http.MethodDelete: deleteToken,
	}},
}

// tokenEntity is a token as Kong's Admin API shows an oauth2_tokens row.
func tokenEntity(t *Token) map[string]any {
	fk := func(id string) any {
		if id == "" {
			return nil
		}
		return map[string]any{"id": id}
	}
	opt := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	var refresh any
	if t.Refresh != "" {
		refresh = t.Refresh
	}
	return map[string]any{"id": t.ID, "created_at": int64(t.CreatedAt), "credential": fk(t.Credential), "service": fk(t.Service),
		"token_type": "bearer", "expires_in": t.ExpiresIn, "access_token": t.Access, "refresh_token": refresh,
		"authenticated_userid": opt(t.UserID), "scope": opt(t.Scope)}
}

// find looks a token up by id or access token.
func find(key string) *Token {
	if t := shared.token(key); t != nil {
		return t
	}
	if !model.IsUUID(key) {
		return nil
	}
	var found *Token
	shared.tokens.Range(func(_ string, t *Token) bool {
		if t.ID == key {
			found = t
			return false
		}
		return true
	})
	return found
}

var notFound = map[string]any{"message": "Not found"}

func listTokens(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
	var all []*Token
	shared.tokens.Range(func(_ string, t *Token) bool {
		all = append(all, t)
		return true
	})
	slices.SortFunc(all, func(a, b *Token) int { return strings.Compare(a.ID, b.ID) })
	size := 100
	if v, err := strconv.Atoi(r.Query.Get("size")); err == nil {
		if v < 1 || v > 1000 {
			return http.StatusBadRequest, map[string]any{"code": 2, "name": "schema violation",
				"message": "schema violation (size: size must be an integer between 1 and 1000)",
				"fields":  map[string]any{"size": "size must be an integer between 1 and 1000"}}, nil
		}
		size = v
	}
	start := 0
	if off := r.Query.Get("offset"); off != "" {
		start = len(all)
		for i, t := range all {
			if t.ID > off {
				start = i
				break
			}
		}
	}
	end := min(start+size, len(all))
	data := make([]any, 0, end-start)
	for _, t := range all[start:end] {
		data = append(data, tokenEntity(t))
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(all) {
		last := all[end-1].ID
		body["offset"] = last
		body["next"] = "/oauth2_tokens?offset=" + last
	}
	return http.StatusOK, body, nil
}

func getToken(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
	t := find(r.Params["token"])
	if t == nil {
		return http.StatusNotFound, notFound, nil
	}
	return http.StatusOK, tokenEntity(t), nil
}

func deleteToken(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
	if t := find(r.Params["token"]); t != nil {
		shared.deleteToken(t)
		broadcast(event{Op: "untoken", Token: &Token{Access: t.Access, Refresh: t.Refresh}})
	}
	return http.StatusNoContent, nil, nil
}

func patchToken(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
	t := find(r.Params["token"])
	if t == nil {
		return http.StatusNotFound, notFound, nil
	}
	return writeToken(r, t, "", t, http.StatusOK)
}

// putToken creates or replaces: a key that is not a UUID is the access
// token of the new one.
func putToken(_ context.Context, r *plugin.AdminRequest) (int, any, error) {
	key := r.Params["token"]
	return writeToken(r, nil, key, find(key), http.StatusOK)
}

// writeToken validates the input over prev (PATCH) or from nothing
// (POST; PUT, whose key names the token), keeps the result in place of
// replace, and answers with status.
func writeToken(r *plugin.AdminRequest, prev *Token, key string, replace *Token, status int) (int, any, error) {
	in := r.Input
	t := &Token{ID: model.NewUUID(), CreatedAt: unixNow()}
	if prev != nil {
		c := *prev
		t = &c
	}
	if key != "" {
		if model.IsUUID(key) {
			t.ID = key
		} else {
			t.Access = key
		}
	}
	fields := map[string]any{}
	if v, ok := in["credential"]; ok {
		id, _ := fkID(v)
		if !model.IsUUID(id) {
			fields["credential"] = map[string]any{"id": "expected a valid UUID"}
		}
		t.Credential = id
	} else if prev == nil {
		fields["credential"] = "required field missing"
	}
	if v, ok := in["service"]; ok {
		id, isNull := fkID(v)
		if !isNull && !model.IsUUID(id) {
			fields["service"] = map[string]any{"id": "expected a valid UUID"}
		}
		t.Service = id
	}
	if v, ok := in["expires_in"]; ok {
		n, ok := integer(v)
		if !ok {
			fields["expires_in"] = "expected an integer"
		}
		t.ExpiresIn = n
	} else if prev == nil {
		fields["expires_in"] = "required field missing"
	}
	if v, ok := in["token_type"]; ok && v != "bearer" {
		fields["token_type"] = "expected one of: bearer"
	}
	str := func(name string, dst **string) {
		v, ok := in[name]
		if !ok {
			return
		}
		if v == nil {
			*dst = nil
			return
		}
		s, isStr := v.(string)
		if !isStr {
			fields[name] = "expected a string"
			return
		}
		*dst = &s
	}
	str("scope", &t.Scope)
	str("authenticated_userid", &t.UserID)
	var access, refresh *string
	str("access_token", &access)
	str("refresh_token", &refresh)
	if access != nil {
		t.Access = *access
	}
	if refresh != nil {
		t.Refresh = *refresh
	}
	if len(fields) > 0 {
		parts := make([]string, 0, len(fields))
		for k, v := range fields {
			msg, ok := v.(string)
			if !ok {
				msg = "expected a valid UUID"
				k += ".id"
			}
			parts = append(parts, k+": "+msg)
		}
		slices.Sort(parts)
		msg := "schema violation (" + parts[0] + ")"
		if len(parts) > 1 {
			msg = strconv.Itoa(len(parts)) + " schema violations (" + strings.Join(parts, "; ") + ")"
		}
		return http.StatusBadRequest, map[string]any{"code": 2, "name": "schema violation", "message": msg, "fields": fields}, nil
	}
	if t.Access == "" {
		t.Access = randomString()
	}
	if replace != nil {
		if replace.ID != "" && key != "" && !model.IsUUID(key) {
			t.ID = replace.ID // PUT by access token keeps the row
		}
		shared.deleteToken(replace)
		broadcast(event{Op: "untoken", Token: &Token{Access: replace.Access, Refresh: replace.Refresh}})
	}
	shared.putToken(t)
	broadcast(event{Op: "token", Token: t})
	return status, tokenEntity(t), nil
}

// fkID reads a foreign key input ({"id": "..."}, a form's "id" value, or
// null).
func fkID(v any) (id string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case map[string]any:
		id, _ = x["id"].(string)
		return id, false
	case string:
		return x, false
	}
	return "", false
}

// integer reads a JSON number or a form's digits as an integer.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), x == float64(int64(x))
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}
