package proxy

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/keyauth"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// plug returns a plugin entity with its config processed by the plugin's
// schema (defaults filled), attached to the given entities (nil: not).
func plug(t testing.TB, name string, cfg map[string]any, route *model.Route, svc *model.Service, consumer *model.Consumer) *model.Plugin {
	t.Helper()
	def, ok := plugin.Lookup(name)
	if !ok {
		t.Fatalf("plugin %q not registered", name)
	}
	rec, err := def.Schema.Process(cfg, nil)
	if err != nil {
		t.Fatalf("%s config %v: %v", name, cfg, err)
	}
	p := &model.Plugin{ID: newID(), Name: name, Config: rec, Enabled: true, Protocols: []string{"http", "https"}}
	if route != nil {
		p.Route = &model.ForeignKey{ID: route.ID}
	}
	if svc != nil {
		p.Service = &model.ForeignKey{ID: svc.ID}
	}
	if consumer != nil {
		p.Consumer = &model.ForeignKey{ID: consumer.ID}
	}
	return p
}

func consumer(username string, customID *string) *model.Consumer {
	return &model.Consumer{ID: newID(), Username: &username, CustomID: customID}
}

func keyCred(c *model.Consumer, key string) *model.KeyAuthCredential {
	return &model.KeyAuthCredential{ID: newID(), Consumer: &model.ForeignKey{ID: c.ID}, Key: key, CreatedAt: 1}
}

// pluginEnv is a proxy whose snapshots keep plugin state in one pool, so
// that tests can swap snapshots like the reloader does.
type pluginEnv struct {
	*env
	state *plugin.StatePool
}

func newPluginEnv(t testing.TB, cfg *model.Config) *pluginEnv {
	t.Helper()
	pe := &pluginEnv{state: plugin.NewStatePool()}
	e := &env{cur: &snapshot.Current{}, pool: upstream.NewPool()}
	pe.env = e
	pe.swap(t, cfg)
	e.proxy = New(e.cur, Options{})
	e.front = httptest.NewServer(e.proxy)
	t.Cleanup(func() {
		e.front.Close()
		e.proxy.Close()
		e.pool.Close()
	})
	return pe
}

// swap builds cfg on top of the current snapshot and publishes it.
func (pe *pluginEnv) swap(t testing.TB, cfg *model.Config) {
	t.Helper()
	s, err := snapshot.Build(pe.cur.Load(), cfg, "0123456789abcdef0123456789abcdef",
		&snapshot.Env{Pool: pe.pool, Plugins: plugin.Lookup, State: pe.state})
	if err != nil {
		t.Fatalf("snapshot.Build: %v", err)
	}
	pe.cur.Store(s)
}

func TestKeyAuth(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	open := routeTo(svc, "/open")
	r := routeTo(svc, "/ka")
	hidden := routeTo(svc, "/hidden")
	anon := routeTo(svc, "/anon")
	realm := routeTo(svc, "/realm")
	alice := consumer("alice", ptr("c-42"))
	guest := consumer("guest", nil)
	cfg := &model.Config{
		Services:           []*model.Service{svc},
		Routes:             []*model.Route{open, r, hidden, anon, realm},
		Consumers:          []*model.Consumer{alice, guest},
		KeyAuthCredentials: []*model.KeyAuthCredential{keyCred(alice, "secret-a")},
		Plugins: []*model.Plugin{
			plug(t, "key-auth", map[string]any{}, r, nil, nil),
			plug(t, "key-auth", map[string]any{"hide_credentials": true}, hidden, nil, nil),
			plug(t, "key-auth", map[string]any{"anonymous": "guest"}, anon, nil, nil),
			plug(t, "key-auth", map[string]any{"realm": "zoo", "key_names": []any{"x-key"}}, realm, nil, nil),
		},
	}
	credID := cfg.KeyAuthCredentials[0].ID
	e := newPluginEnv(t, cfg)

	tests := []struct {
		name, path string
		hdr        map[string]string
		status     int
		body       string // exact client body for Kong-generated answers
		wwwAuth    string
		upHeaders  map[string]string // upstream request headers ("" = absent)
		upURI      string
	}{
		{name: "no plugin", path: "/open", status: 200, upHeaders: map[string]string{"X-Consumer-Id": ""}},
		{name: "missing key", path: "/ka/x", status: 401, body: "No API key found in request", wwwAuth: "Key"},
		{name: "empty key", path: "/ka/x", hdr: map[string]string{"apikey": ""}, status: 401, body: "No API key found in request", wwwAuth: "Key"},
		{name: "invalid key header", path: "/ka/x", hdr: map[string]string{"apikey": "nope"}, status: 401, body: "Unauthorized", wwwAuth: "Key"},
		{name: "invalid key query", path: "/ka/x?apikey=nope", status: 401, body: "Unauthorized"},
		{name: "duplicate query key", path: "/ka/x?apikey=a&apikey=b", status: 401, body: "Duplicate API key found"},
		{name: "valid key header", path: "/ka/x", hdr: map[string]string{"apikey": "secret-a", "X-Consumer-Id": "forged", "X-Anonymous-Consumer": "true"}, status: 200,
			upHeaders: map[string]string{"X-Consumer-Id": alice.ID, "X-Consumer-Username": "alice", "X-Consumer-Custom-Id": "c-42",
				"X-Credential-Identifier": credID, "X-Anonymous-Consumer": "", "Apikey": "secret-a"}},
		{name: "valid key query kept", path: "/ka/x?apikey=secret-a&q=1", status: 200, upURI: "/x?apikey=secret-a&q=1",
			upHeaders: map[string]string{"X-Consumer-Username": "alice"}},
		{name: "hide header", path: "/hidden/x", hdr: map[string]string{"apikey": "secret-a"}, status: 200,
			upHeaders: map[string]string{"Apikey": "", "X-Consumer-Username": "alice"}},
		{name: "hide query", path: "/hidden/x?q=1&apikey=secret-a", status: 200, upURI: "/x?q=1",
			upHeaders: map[string]string{"X-Consumer-Username": "alice"}},
		{name: "anonymous without key", path: "/anon/x", status: 200,
			upHeaders: map[string]string{"X-Consumer-Username": "guest", "X-Consumer-Id": guest.ID, "X-Anonymous-Consumer": "true", "X-Credential-Identifier": ""}},
		{name: "anonymous with bad key", path: "/anon/x", hdr: map[string]string{"apikey": "bad"}, status: 200,
			upHeaders: map[string]string{"X-Consumer-Username": "guest", "X-Anonymous-Consumer": "true"}},
		{name: "anonymous with good key", path: "/anon/x", hdr: map[string]string{"apikey": "secret-a"}, status: 200,
			upHeaders: map[string]string{"X-Consumer-Username": "alice", "X-Anonymous-Consumer": ""}},
		{name: "realm and key name", path: "/realm/x", hdr: map[string]string{"apikey": "secret-a"}, status: 401,
			body: "No API key found in request", wwwAuth: `Key realm="zoo"`},
		{name: "custom key name", path: "/realm/x", hdr: map[string]string{"X-Key": "secret-a"}, status: 200,
			upHeaders: map[string]string{"X-Consumer-Username": "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, "GET", tt.path, tt.hdr, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", res.StatusCode, tt.status, body)
			}
			if tt.body != "" && kongMessage(t, body) != tt.body {
				t.Errorf("body = %s; want %s", body, tt.body)
			}
			if tt.wwwAuth != "" {
				if got := res.Header.Get("WWW-Authenticate"); got != tt.wwwAuth {
					t.Errorf("WWW-Authenticate = %q; want %q", got, tt.wwwAuth)
				}
				if got := res.Header.Get("Server"); !strings.HasPrefix(got, "kong/") {
					t.Errorf("Server = %q; want kong/<version>", got)
				}
			}
			if res.StatusCode != 200 {
				return
			}
			ec := decodeEcho(t, body)
			for k, want := range tt.upHeaders {
				if got := ec.Header.Get(k); got != want {
					t.Errorf("upstream %s = %q; want %q", k, got, want)
				}
			}
			if tt.upURI != "" {
				gu, _ := url.Parse(ec.URI)
				wu, _ := url.Parse(tt.upURI)
				if gu.Path != wu.Path || gu.Query().Encode() != wu.Query().Encode() {
					t.Errorf("upstream uri = %s; want %s", ec.URI, tt.upURI)
				}
			}
		})
	}
}

func TestKeyAuthBody(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	r := routeTo(svc, "/b")
	alice := consumer("alice", nil)
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{r},
		Consumers: []*model.Consumer{alice}, KeyAuthCredentials: []*model.KeyAuthCredential{keyCred(alice, "k1")},
		Plugins: []*model.Plugin{plug(t, "key-auth", map[string]any{"key_in_body": true, "hide_credentials": true}, r, nil, nil)}})
	tests := []struct {
		ctype, body, wantUp string
		status              int
	}{
		{"application/x-www-form-urlencoded", "apikey=k1&a=b", "a=b", 200},
		{"application/json", `{"apikey":"k1","a":1}`, `{"a":1}`, 200},
		{"application/json", `{"apikey":"bad"}`, "", 401},
		{"text/plain", "apikey=k1", "", 401},
	}
	for _, tt := range tests {
		res, body := e.do(t, "POST", "/b", map[string]string{"Content-Type": tt.ctype}, strings.NewReader(tt.body))
		if res.StatusCode != tt.status {
			t.Errorf("%s %q: status = %d; want %d (%s)", tt.ctype, tt.body, res.StatusCode, tt.status, body)
			continue
		}
		if tt.status == 200 {
			if got := decodeEcho(t, body).Body; got != tt.wantUp {
				t.Errorf("%s: upstream body = %q; want %q", tt.ctype, got, tt.wantUp)
			}
		}
	}
}

// TestPluginBuildFailure: a scoped plugin whose config cannot be built
// makes its route answer 500; a failing global plugin is skipped.
func TestPluginBuildFailure(t *testing.T) {
	up := newEcho(t, "up")
	svc := svcTo(t, up.URL)
	bad, good := routeTo(svc, "/bad"), routeTo(svc, "/good")
	broken := plug(t, "key-auth", map[string]any{}, bad, nil, nil)
	broken.Config["key_names"] = []any{} // New rejects it
	brokenGlobal := plug(t, "key-auth", map[string]any{}, nil, nil, nil)
	brokenGlobal.Config["key_names"] = []any{}
	e := newPluginEnv(t, &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{bad, good},
		Plugins: []*model.Plugin{broken, brokenGlobal}})
	if res, body := e.do(t, "GET", "/bad", nil, nil); res.StatusCode != 500 || kongMessage(t, body) != "An unexpected error occurred" {
		t.Errorf("/bad = %d %s; want 500 with Kong's body", res.StatusCode, body)
	}
	if res, body := e.do(t, "GET", "/good", nil, nil); res.StatusCode != 200 {
		t.Errorf("/good = %d %s; want 200 (the broken global plugin is skipped)", res.StatusCode, body)
	}
}

// kongMessage returns the message of a Kong JSON error body
// ({"message": ..., "request_id": ...}).
func kongMessage(t testing.TB, body string) string {
	t.Helper()
	var m struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.RequestID == "" {
		t.Errorf("body %q is not Kong's JSON error with a request_id (%v)", body, err)
	}
	return m.Message
}
