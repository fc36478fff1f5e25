package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/declarative"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// dbless serves the Admin API without a database; Apply records what it
// is given and Current returns the last applied configuration.
type dbless struct {
	mu      sync.Mutex
	cfg     *model.Config
	hash    string
	applied int
}

func (d *dbless) apply(cfg *model.Config, hash string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg, d.hash = cfg, hash
	d.applied++
	return nil
}

func (d *dbless) current() (*model.Config, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg, d.hash
}

func newDBless(t *testing.T, maxBody int64) (*client, *dbless) {
	t.Helper()
	d := &dbless{}
	srv := httptest.NewServer(New(Options{Database: "off", Apply: d.apply, Current: d.current,
		MaxBodyBytes: maxBody, Now: func() time.Time { return fixedNow }}))
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL}, d
}

const kongYML = `_format_version: "3.0"
services:
- name: svc
  url: http://example.com
  tags: [a]
  routes:
  - name: r1
    paths: [/r1]
consumers:
- username: alice
  keyauth_credentials:
  - key: k1
upstreams:
- name: up
  targets:
  - target: 10.0.0.1:80
`

func TestDBlessConfig(t *testing.T) {
	c, d := newDBless(t, 0)
	// Before any configuration: empty lists, empty hash.
	body := c.must(200, "GET", "/services", nil)
	if n := len(body["data"].([]any)); n != 0 {
		t.Errorf("GET /services before a config: %d", n)
	}
	st := c.must(200, "GET", "/status", nil)
	if st["configuration_hash"] != declarative.EmptyHash {
		t.Errorf("configuration_hash before a config: %v", st["configuration_hash"])
	}

	created := c.must(201, "POST", "/config", map[string]any{"config": kongYML})
	if d.applied != 1 {
		t.Fatalf("Apply called %d times; want 1", d.applied)
	}
	if d.hash != declarative.Hash([]byte(kongYML)) {
		t.Errorf("Apply got hash %s; want the MD5 of the text", d.hash)
	}
	if svcs, _ := created["services"].(map[string]any); len(svcs) != 1 {
		t.Errorf("POST /config answer services: %v", created["services"])
	}
	// Same text with check_hash: 304, no reload.
	r := c.do("POST", "/config?check_hash=1", map[string]any{"config": kongYML})
	if r.status != http.StatusNotModified || d.applied != 1 {
		t.Errorf("check_hash with the same config: got %d, Apply called %d times; want 304, 1", r.status, d.applied)
	}
	// Without check_hash it reloads.
	c.must(201, "POST", "/config", map[string]any{"config": kongYML})
	if d.applied != 2 {
		t.Errorf("Apply called %d times; want 2", d.applied)
	}

	// Reads come from the served config.
	svc := c.must(200, "GET", "/services/svc", nil)
	if svc["host"] != "example.com" {
		t.Errorf("GET /services/svc: %v", svc)
	}
	routes := c.must(200, "GET", "/services/svc/routes", nil)
	if n := len(routes["data"].([]any)); n != 1 {
		t.Errorf("GET /services/svc/routes: %d routes; want 1", n)
	}
	c.must(200, "GET", "/consumers/alice/key-auth/k1", nil)
	c.must(200, "GET", "/upstreams/up/targets/10.0.0.1:80", nil)
	tagged := c.must(200, "GET", "/services?tags=a", nil)
	if n := len(tagged["data"].([]any)); n != 1 {
		t.Errorf("GET /services?tags=a: %d; want 1", n)
	}
	st = c.must(200, "GET", "/status", nil)
	if st["configuration_hash"] != d.hash {
		t.Errorf("configuration_hash %v; want %s", st["configuration_hash"], d.hash)
	}
	got := c.must(200, "GET", "/config", nil)
	text, _ := got["config"].(string)
	if !strings.Contains(text, "name: svc") || !strings.Contains(text, "_format_version") {
		t.Errorf("GET /config: %q", text)
	}
	root := c.must(200, "GET", "/", nil)
	if conf := root["configuration"].(map[string]any); conf["database"] != "off" {
		t.Errorf("GET / configuration.database = %v; want off", conf["database"])
	}

	// A JSON body that is itself the configuration (KIC's form).
	var generic map[string]any
	raw := `{"_format_version":"3.0","services":[{"name":"only","host":"b.com"}]}`
	_ = json.Unmarshal([]byte(raw), &generic)
	c.must(201, "POST", "/config", raw, "application/json")
	if len(d.cfg.Services) != 1 || *d.cfg.Services[0].Name != "only" {
		t.Errorf("JSON config body not applied: %+v", d.cfg.Services)
	}
}

func TestDBlessWritesAnswer405(t *testing.T) {
	c, d := newDBless(t, 0)
	c.must(201, "POST", "/config", map[string]any{"config": kongYML})
	svc := c.must(200, "GET", "/services/svc", nil)
	tests := []struct {
		method, path string
		body         any
		want         string
	}{
		{"POST", "/services", map[string]any{"host": "a.com"}, "cannot create 'services' entities when not using a database"},
		{"POST", "/services/svc/routes", map[string]any{"paths": []any{"/"}}, "cannot create 'routes' entities when not using a database"},
		{"PATCH", "/services/" + svc["id"].(string), map[string]any{"retries": 1}, "cannot update 'services' entities when not using a database"},
		{"PATCH", "/services/svc", map[string]any{"retries": 1}, "cannot update 'services' entities by 'name' when not using a database"},
		{"PUT", "/consumers/bob", map[string]any{}, "cannot create or update 'consumers' entities by 'username' when not using a database"},
		{"DELETE", "/services/svc", nil, "cannot remove 'services' entities by 'name' when not using a database"},
		{"POST", "/consumers/alice/key-auth", map[string]any{}, "cannot create 'keyauth_credentials' entities when not using a database"},
	}
	for _, tt := range tests {
		r := c.do(tt.method, tt.path, tt.body)
		want := `{"code":12,"name":"operation unsupported","message":"` + tt.want + `"}`
		if r.status != http.StatusMethodNotAllowed || string(r.raw) != want {
			t.Errorf("%s %s: got %d %s; want 405 %s", tt.method, tt.path, r.status, r.raw, want)
		}
	}
	// Unknown foreign names are reported before the 405, as Kong does.
	r := c.do("POST", "/routes", map[string]any{"paths": []any{"/"}, "service": map[string]any{"name": "nope"}})
	if r.status != 400 || r.json(t)["code"] != 13.0 {
		t.Errorf("DB-less route with an unknown service: %d %s; want 400 code 13", r.status, r.raw)
	}
	// Deleting what does not exist is still a no-op 204.
	c.must(204, "DELETE", "/services/nothing-here", nil)
	if d.applied != 1 {
		t.Errorf("entity writes reloaded the config")
	}
}

func TestDBlessConfigErrors(t *testing.T) {
	c, d := newDBless(t, 4096)
	bad := "_format_version: \"3.0\"\nservices:\n- name: svc\n  host: a.com\n  routes:\n  - name: r\n    paths: [x]\n"
	r := c.do("POST", "/config", map[string]any{"config": bad})
	if r.status != 400 {
		t.Fatalf("invalid config: got %d; want 400", r.status)
	}
	m := r.json(t)
	if m["code"] != 14.0 || m["name"] != "invalid declarative configuration" || m["flattened_errors"] != nil {
		t.Errorf("invalid config body %s", r.raw)
	}
	r = c.do("POST", "/config?flatten_errors=1", map[string]any{"config": bad})
	m = r.json(t)
	flat, _ := m["flattened_errors"].([]any)
	if r.status != 400 || len(flat) != 1 {
		t.Fatalf("flatten_errors: got %d %s", r.status, r.raw)
	}
	if fe := flat[0].(map[string]any); fe["entity_type"] != "route" || fe["entity_name"] != "r" {
		t.Errorf("flattened error %v", fe)
	}
	tests := []struct {
		name   string
		body   any
		ct     string
		status int
		want   string
	}{
		{"no config", map[string]any{}, "", 400, `{"message":"expected a declarative configuration"}`},
		{"empty body", "", "", 400, `{"message":"expected a declarative configuration"}`},
		{"too big", map[string]any{"config": strings.Repeat("#", 5000)}, "", 413, `{"message":"Configuration does not fit in Kong cache"}`},
		{"form body", "config=_format_version%3A+%223.0%22%0Aservices%3A+%5B%5D%0A", "application/x-www-form-urlencoded", 201, ""},
	}
	for _, tt := range tests {
		var r *resp
		if tt.ct != "" {
			r = c.do("POST", "/config", tt.body, tt.ct)
		} else {
			r = c.do("POST", "/config", tt.body)
		}
		if r.status != tt.status || (tt.want != "" && string(r.raw) != tt.want) {
			t.Errorf("%s: got %d %s; want %d %s", tt.name, r.status, r.raw, tt.status, tt.want)
		}
	}
	if d.applied != 1 {
		t.Errorf("Apply called %d times; want 1 (only the valid form body)", d.applied)
	}
}

func TestConfigInDBMode(t *testing.T) {
	c := newServer(t, nil)
	want := `{"message":"this endpoint is only available when Kong is configured to not use a database"}`
	for _, m := range []string{"GET", "POST"} {
		r := c.do(m, "/config", map[string]any{"config": kongYML})
		if r.status != 400 || string(r.raw) != want {
			t.Errorf("%s /config in DB mode: got %d %s; want 400 %s", m, r.status, r.raw, want)
		}
	}
}

func TestAdminToken(t *testing.T) {
	c := newServer(t, func(o *Options) { o.AdminToken = "s3cret" })
	want := `{"message":"Invalid credentials. Token or User credentials required"}`
	for _, tok := range []string{"", "wrong", "S3CRET", "s3cret2"} {
		c.token = tok
		r := c.do("GET", "/services", nil)
		if r.status != 401 || string(r.raw) != want {
			t.Errorf("token %q: got %d %s; want 401 %s", tok, r.status, r.raw, want)
		}
	}
	c.token = "wrong"
	c.do("POST", "/services", map[string]any{"host": "a.com"})
	c.token = "s3cret"
	c.must(200, "GET", "/services", nil)
	if n := c.count("services"); n != 0 {
		t.Errorf("an unauthenticated POST wrote %d services", n)
	}
}

func TestHeadersAndMethods(t *testing.T) {
	c := newServer(t, nil)
	r := c.do("GET", "/services", nil)
	for k, want := range map[string]string{
		"Content-Type":                "application/json; charset=utf-8",
		"Server":                      "kong/3.9.1",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if r.header.Get("X-Kong-Admin-Latency") == "" {
		t.Error("no X-Kong-Admin-Latency")
	}
	r = c.do("OPTIONS", "/services", nil)
	if r.status != 204 || r.header.Get("Allow") != "GET, HEAD, OPTIONS, POST" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET, HEAD, OPTIONS, POST" ||
		r.header.Get("Access-Control-Allow-Headers") != "Content-Type" {
		t.Errorf("OPTIONS /services: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	r = c.do("HEAD", "/services", nil)
	if r.status != 200 || len(r.raw) != 0 {
		t.Errorf("HEAD /services: %d with %d body bytes", r.status, len(r.raw))
	}
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/nope", 404, `{"message":"Not found"}`},
		{"GET", "/services/", 200, ""},
		{"DELETE", "/services", 405, `{"message":"Method not allowed"}`},
		{"POST", "/plugins/enabled", 405, `{"message":"Method not allowed"}`},
		{"GET", "/consumer_groups", 404, `{"message":"Not found"}`},
		{"GET", "/licenses", 404, `{"message":"Not found"}`},
		{"GET", "/workspaces", 404, `{"message":"Not found"}`},
		{"GET", "/default/kong", 404, `{"message":"Not found"}`},
		{"GET", "/schemas/nope", 404, `{"message":"No entity named 'nope'"}`},
		{"GET", "/schemas/plugins/nope", 404, `{"message":"No plugin named 'nope'"}`},
	}
	for _, tt := range tests {
		r := c.do(tt.method, tt.path, nil)
		if r.status != tt.status || (tt.body != "" && string(r.raw) != tt.body) {
			t.Errorf("%s %s: got %d %s; want %d %s", tt.method, tt.path, r.status, r.raw, tt.status, tt.body)
		}
	}
}

func TestNodeEndpoints(t *testing.T) {
	c := newServer(t, func(o *Options) {
		o.Configuration = map[string]any{"log_level": "notice", "admin_listen": []any{"127.0.0.1:8001"}}
	})
	c.must(201, "POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1}})
	root := c.must(200, "GET", "/", nil)
	if root["version"] != "3.9.1" || root["tagline"] != "Welcome to kong" || root["edition"] != "community" ||
		root["node_id"] != "8c8a0a0a-1111-4222-8333-444455556666" || root["hostname"] != "test-host" {
		t.Errorf("GET /: %v", root)
	}
	plugins := root["plugins"].(map[string]any)
	if !equalJSON(plugins["enabled_in_cluster"], []any{"test-limit"}) {
		t.Errorf("enabled_in_cluster %v", plugins["enabled_in_cluster"])
	}
	avail := plugins["available_on_server"].(map[string]any)
	if !equalJSON(avail["test-limit"], map[string]any{"priority": 910, "version": "1.2.3"}) {
		t.Errorf("available_on_server.test-limit %v", avail["test-limit"])
	}
	conf := root["configuration"].(map[string]any)
	if conf["database"] != "embedded" || conf["log_level"] != "notice" {
		t.Errorf("configuration %v", conf)
	}
	en := c.must(200, "GET", "/plugins/enabled", nil)
	// Every registered plugin, sorted (the test binary registers a few
	// bundled ones besides the test plugins).
	names := plugin.Names()
	sort.Strings(names)
	if !equalJSON(en, map[string]any{"enabled_plugins": names}) || !slices.Contains(names, "test-auth") {
		t.Errorf("GET /plugins/enabled: %v", en)
	}
	st := c.must(200, "GET", "/status", nil)
	if db := st["database"].(map[string]any); db["reachable"] != true {
		t.Errorf("GET /status database %v", st["database"])
	}
	if _, ok := st["configuration_hash"]; ok {
		t.Error("configuration_hash in DB mode")
	}

	sc := c.must(200, "GET", "/schemas/services", nil)
	fields, _ := sc["fields"].([]any)
	if len(fields) == 0 || !strings.Contains(string(mustJSON(sc)), `"retries":{"between":[0,32767],"default":5,"type":"integer"}`) {
		t.Errorf("GET /schemas/services: %s", mustJSON(sc))
	}
	ps := c.must(200, "GET", "/schemas/plugins/test-limit", nil)
	if !strings.Contains(string(mustJSON(ps)), `"policy":{"default":"local"`) {
		t.Errorf("GET /schemas/plugins/test-limit: %s", mustJSON(ps))
	}
	ok := c.must(200, "POST", "/schemas/routes/validate", map[string]any{"paths": []any{"/"}})
	if ok["message"] != "schema validation successful" {
		t.Errorf("validate: %v", ok)
	}
	r := c.do("POST", "/schemas/routes/validate", map[string]any{"paths": []any{"x"}})
	if r.status != 400 || r.json(t)["code"] != 2.0 {
		t.Errorf("validate bad route: %d %s", r.status, r.raw)
	}
	c.must(200, "POST", "/schemas/plugins/validate", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 2}})
	r = c.do("POST", "/schemas/plugins/validate", map[string]any{"name": "test-limit", "config": map[string]any{}})
	if r.status != 400 {
		t.Errorf("validate bad plugin: %d %s", r.status, r.raw)
	}
	if n := c.count("routes") + c.count("plugins"); n != 1 {
		t.Errorf("validation wrote entities: %d", n)
	}

	eps := c.must(200, "GET", "/endpoints", nil)
	list := eps["data"].([]any)
	want := []string{"/", "/config", "/services", "/services/{services}", "/services/{services}/routes",
		"/consumers/{consumers}/key-auth", "/upstreams/{upstreams}/targets/{targets}", "/routes/{routes}/service",
		"/schemas/plugins/{name}", "/key-auths", "/tags/{tags}"}
	have := map[string]bool{}
	for _, e := range list {
		have[e.(string)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("/endpoints lacks %s", w)
		}
	}
	if have["/targets"] {
		t.Error("/endpoints lists /targets")
	}
	if list[0] != "/" {
		t.Errorf("/endpoints starts with %v; want /", list[0])
	}
}

func TestStatusFunc(t *testing.T) {
	c := newServer(t, func(o *Options) {
		o.StatusFunc = func(ctx context.Context) (any, error) {
			return map[string]any{"server": map[string]any{"total_requests": 42}}, nil
		}
	})
	st := c.must(200, "GET", "/status", nil)
	if !equalJSON(st, map[string]any{"server": map[string]any{"total_requests": 42}}) {
		t.Errorf("GET /status = %v", st)
	}
}

func TestUpstreamHealth(t *testing.T) {
	type mark struct {
		up, target, address string
		healthy             bool
	}
	var marks []mark
	c := newServer(t, func(o *Options) {
		o.TargetHealth = func(string) map[string]string { return map[string]string{"10.0.0.1:80": "HEALTHY"} }
		o.SetTargetHealth = func(up, target, address string, healthy bool) error {
			if address == "10.0.0.66" {
				return errors.New("no such address")
			}
			marks = append(marks, mark{up, target, address, healthy})
			return nil
		}
	})
	up := c.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	c.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": "10.0.0.1:80"})
	c.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": "10.0.0.2:80"})
	h := c.must(200, "GET", "/upstreams/u/health", nil)
	states := map[string]any{}
	for _, d := range h["data"].([]any) {
		m := d.(map[string]any)
		states[m["target"].(string)] = m["health"]
	}
	if len(states) != 2 || h["next"] != nil || states["10.0.0.1:80"] != "HEALTHY" || states["10.0.0.2:80"] != "DNS_ERROR" {
		t.Errorf("GET /upstreams/u/health: %v", h)
	}
	b := c.must(200, "GET", "/upstreams/u/health?balancer_health=1", nil)
	if !equalJSON(b["data"], map[string]any{"id": up["id"], "health": "HEALTHY"}) {
		t.Errorf("balancer_health: %v", b)
	}
	c.must(204, "PUT", "/upstreams/u/targets/10.0.0.2:80/unhealthy", nil)
	c.must(204, "POST", "/upstreams/u/targets/10.0.0.1:80/healthy", nil)
	c.must(404, "POST", "/upstreams/u/targets/10.9.9.9:80/healthy", nil)
	// One address of a target; an error is Kong's 400 with its text.
	c.must(204, "PUT", "/upstreams/u/targets/10.0.0.1:80/10.0.0.1:80/unhealthy", nil)
	if e := c.must(400, "PUT", "/upstreams/u/targets/10.0.0.1:80/10.0.0.66/healthy", nil); e["message"] != "no such address" {
		t.Errorf("error body %v; want message no such address", e)
	}
	c.must(404, "PUT", "/upstreams/nope/targets/10.0.0.1:80/10.0.0.1:80/healthy", nil)
	if len(marks) != 3 || marks[0] != (mark{up["id"].(string), "10.0.0.2:80", "", false}) || !marks[1].healthy ||
		marks[2] != (mark{up["id"].(string), "10.0.0.1:80", "10.0.0.1:80", false}) {
		t.Errorf("SetTargetHealth calls %v", marks)
	}
	// Without a health checker every target is HEALTHCHECKS_OFF.
	c2 := newServer(t, nil)
	c2.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	c2.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": "10.0.0.1:80"})
	h = c2.must(200, "GET", "/upstreams/u/health", nil)
	if d := h["data"].([]any); len(d) != 1 || d[0].(map[string]any)["health"] != "HEALTHCHECKS_OFF" {
		t.Errorf("health without a checker: %v", h)
	}
	c2.must(404, "POST", "/upstreams/u/targets/10.0.0.1:80/healthy", nil)
}

func TestPanicAnswers500(t *testing.T) {
	c := newServer(t, func(o *Options) {
		o.StatusFunc = func(context.Context) (any, error) { panic("status exploded") }
	})
	r := c.do("GET", "/status", nil)
	if r.status != 500 || string(r.raw) != `{"message":"An unexpected error occurred"}` {
		t.Errorf("panicking handler: got %d %s; want 500", r.status, r.raw)
	}
	c.must(200, "GET", "/services", nil)
}

func TestConfigApplyFailure(t *testing.T) {
	srv := httptest.NewServer(New(Options{Database: "off",
		Apply: func(*model.Config, string) error { return errors.New("snapshot build failed") }}))
	defer srv.Close()
	c := &client{t: t, url: srv.URL}
	r := c.do("POST", "/config", map[string]any{"config": kongYML})
	if r.status != 500 || string(r.raw) != `{"message":"An unexpected error occurred"}` {
		t.Errorf("failing Apply: got %d %s; want 500", r.status, r.raw)
	}
}

func TestLogging(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newServer(t, func(o *Options) {
		o.Logger = log
		o.StatusFunc = func(context.Context) (any, error) { return nil, errors.New("status source down") }
	})
	c.do("GET", "/nope", nil)
	c.do("GET", "/status", nil)
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="admin api error" method=GET path=/nope status=404`,
		`level=ERROR msg="admin api error" method=GET path=/status status=500 error="status source down"`,
		`level=DEBUG msg="admin api request" method=GET path=/status status=500`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCacheEndpoints: Kong's /cache routes exist; sluice has no entity
// cache, so a key is never found and a purge is a 204.
func TestCacheEndpoints(t *testing.T) {
	c := newServer(t, nil)
	wantBody(t, c.do("GET", "/cache/consumers:abc:::::", nil), 404, `{"message":"Not found"}`)
	for _, p := range []string{"/cache", "/cache/consumers:abc:::::"} {
		if r := c.do("DELETE", p, nil); r.status != 204 || len(r.raw) != 0 {
			t.Errorf("DELETE %s: %d %q; want 204", p, r.status, r.raw)
		}
	}
	wantBody(t, c.do("POST", "/cache", nil), 405, `{"message":"Method not allowed"}`)
}
