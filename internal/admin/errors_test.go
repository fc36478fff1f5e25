package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/store"
)

// TestBadInput sends each kind of bad input and checks Kong's status and
// body, and that the store holds exactly what it held before.
func TestBadInput(t *testing.T) {
	c := newServer(t, func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	svc := c.must(201, "POST", "/services", map[string]any{"name": "svc", "host": "a.com"})
	c.must(201, "POST", "/services", map[string]any{"name": "svc2", "host": "a.com"})
	cert, key := selfSigned(t, "taken.example.com", false)
	c.must(201, "POST", "/certificates", map[string]any{"cert": cert, "key": key, "snis": []any{"taken.example.com"}})
	missing := "11111111-2222-4333-8444-555555555555"
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	nested := `{"host":` + strings.Repeat("[", 50) + `"x"` + strings.Repeat("]", 50) + `}`
	tests := []struct {
		name         string
		method, path string
		body         any
		ct           string
		status       int
		want         string
	}{
		{"invalid JSON", "POST", "/services", `{"name": "x", "host":`, "application/json", 400,
			`{"message":"Cannot parse JSON body"}`},
		{"JSON array body", "POST", "/services", `[1,2]`, "application/json", 400,
			`{"message":"Cannot parse JSON body"}`},
		{"trailing garbage", "POST", "/services", `{"host":"a.com"} x`, "application/json", 400,
			`{"message":"Cannot parse JSON body"}`},
		{"unknown field", "POST", "/services", `{"host":"b.com","colour":"red"}`, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (colour: unknown field)","fields":{"colour":"unknown field"}}`},
		{"wrong type", "POST", "/services", `{"host":"b.com","port":"eighty"}`, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (port: expected an integer)","fields":{"port":"expected an integer"}}`},
		{"wrong type in a form", "POST", "/services", `host=b.com&retries=many`, "application/x-www-form-urlencoded", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (retries: expected an integer)","fields":{"retries":"expected an integer"}}`},
		{"unique clash", "POST", "/services", `{"name":"svc","host":"b.com"}`, "application/json", 409,
			`{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"svc\"}'","fields":{"name":"svc"}}`},
		{"unique clash on PATCH", "PATCH", "/services/svc2", `{"name":"svc"}`, "application/json", 409,
			`{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"svc\"}'","fields":{"name":"svc"}}`},
		{"PATCH of a missing entity", "PATCH", "/services/missing", `{"host":"a.com"}`, "application/json", 404, `{"message":"Not found"}`},
		{"unknown foreign id", "POST", "/routes", `{"paths":["/"],"service":{"id":"` + missing + `"}}`, "application/json", 400,
			`{"code":4,"name":"foreign key violation","message":"the foreign key '{id=\"` + missing + `\"}' does not reference an existing 'services' entity.","fields":{"service":{"id":"` + missing + `"}}}`},
		{"unknown foreign name", "POST", "/routes", `{"paths":["/"],"service":{"name":"nope"}}`, "application/json", 400,
			`{"code":13,"name":"foreign keys unresolved","message":"foreign key unresolved (service.name: the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity)","fields":{"service":{"name":"the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity"}}}`},
		{"unknown foreign name before schema errors", "POST", "/routes", `{"paths":["x"],"service":{"name":"nope"}}`, "application/json", 400,
			`{"code":13,"name":"foreign keys unresolved","message":"foreign key unresolved (service.name: the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity)","fields":{"service":{"name":"the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity"}}}`},
		{"huge body", "POST", "/services", `{"host":"a.com","tags":["` + strings.Repeat("x", 70<<10) + `"]}`, "application/json", 413,
			`{"message":"Request Entity Too Large"}`},
		{"deep nesting", "POST", "/services", deep, "application/json", 400,
			`{"message":"Cannot parse JSON body"}`},
		{"nested arrays where a string belongs", "POST", "/services", nested, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (host: expected a string)","fields":{"host":"expected a string"}}`},
		{"deep dotted form key", "POST", "/plugins", "name=test-limit&config.minute=1&config" + strings.Repeat(".x", 20000) + "=1",
			"application/x-www-form-urlencoded", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (config.x: unknown field)","fields":{"config":{"x":"unknown field"}}}`},
		{"deep JSON inside the limit", "POST", "/plugins", `{"name":"test-limit","config":{"minute":1,"x":` + strings.Repeat(`{"x":`, 900) + "1" + strings.Repeat("}", 900) + "}}",
			"application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (config.x: unknown field)","fields":{"config":{"x":"unknown field"}}}`},
		{"unsupported content type", "POST", "/services", `host=a.com`, "text/plain", 415,
			`{"message":"Unsupported Media Type"}`},
		{"bad id in body", "POST", "/services", `{"id":"nope","host":"a.com"}`, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (id: expected a valid UUID)","fields":{"id":"expected a valid UUID"}}`},
		{"sni already taken (no partial certificate)", "POST", "/certificates",
			map[string]any{"cert": cert, "key": key, "snis": []any{"new.example.com", "taken.example.com"}}, "", 400, ""},
		{"unknown plugin", "POST", "/plugins", `{"name":"nope"}`, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"schema violation (name: plugin 'nope' not enabled; add it to the 'plugins' configuration property)","fields":{"name":"plugin 'nope' not enabled; add it to the 'plugins' configuration property"}}`},
		{"bad plugin config", "POST", "/plugins", `{"name":"test-limit","config":{"minute":"x","extra":1}}`, "application/json", 400,
			`{"code":2,"name":"schema violation","message":"2 schema violations (config.extra: unknown field; config.minute: expected a number)","fields":{"config":{"extra":"unknown field","minute":"expected a number"}}}`},
		{"PATCH keeping its own name", "PATCH", "/services/" + svc["id"].(string), `{"name":"svc"}`, "application/json", 200, ""},
	}
	entities := []string{"services", "routes", "certificates", "snis", "plugins"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{}
			for _, e := range entities {
				before[e] = c.count(e)
			}
			var r *resp
			if tt.ct == "" {
				r = c.do(tt.method, tt.path, tt.body)
			} else {
				r = c.do(tt.method, tt.path, tt.body, tt.ct)
			}
			if r.status != tt.status {
				t.Fatalf("got status %d; want %d (body %s)", r.status, tt.status, r.raw)
			}
			if tt.want != "" && string(r.raw) != tt.want {
				t.Errorf("got body\n%s\nwant\n%s", r.raw, tt.want)
			}
			if r.status >= 400 {
				for _, e := range entities {
					if n := c.count(e); n != before[e] {
						t.Errorf("store holds %d %s after a failed request; want %d", n, e, before[e])
					}
				}
			}
		})
	}
}

func TestDefaultBodyCap(t *testing.T) {
	c := newServer(t, nil)
	big := `{"host":"a.com","tags":["` + strings.Repeat("x", DefaultMaxBodyBytes) + `"]}`
	r := c.do("POST", "/services", big, "application/json")
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body over 10 MiB: got %d; want 413", r.status)
	}
	if n := c.count("services"); n != 0 {
		t.Errorf("store holds %d services; want 0", n)
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{fmt.Errorf("ping: %w", store.ErrUnavailable), 503,
			`{"message":"database unavailable: the configuration cannot be changed right now; the gateway keeps serving its last configuration"}`},
		{fmt.Errorf("get: %w", store.ErrNotFound), 404, `{"message":"Not found"}`},
		{errors.New("boom"), 500, `{"message":"An unexpected error occurred"}`},
		{&store.UniqueError{Entity: "consumers", Field: "username", Value: "u"}, 409,
			`{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{username=\"u\"}'","fields":{"username":"u"}}`},
		{errUnsupported("create", "services", ""), 405,
			`{"code":12,"name":"operation unsupported","message":"cannot create 'services' entities when not using a database"}`},
	}
	for _, tt := range tests {
		e := toError(tt.err)
		if e.Status != tt.status || string(mustJSON(e.Body)) != tt.body {
			t.Errorf("toError(%v) = %d %s; want %d %s", tt.err, e.Status, mustJSON(e.Body), tt.status, tt.body)
		}
	}
}
