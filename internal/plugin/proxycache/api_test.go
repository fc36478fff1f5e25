package proxycache

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/admin"
	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
	"sluice/internal/store/embedded"
)

// adminAPI serves the real Admin API over cfg (DB-less) and returns a
// function doing one request against it.
func adminAPI(t *testing.T, cfg *model.Config) func(method, path string) (int, string) {
	t.Helper()
	return serveAdmin(t, admin.Options{Database: "off", Current: func() (*model.Config, string) { return cfg, "" }})
}

func serveAdmin(t *testing.T, opts admin.Options) func(method, path string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(admin.New(opts))
	t.Cleanup(srv.Close)
	return func(method, path string) (int, string) {
		t.Helper()
		return adminDo(t, srv.URL, method, path, "")
	}
}

func adminDo(t *testing.T, base, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestAdminAPI caches a response through the proxy, reads and purges it
// through the Admin API (Kong's kong/plugins/proxy-cache/api.lua paths,
// statuses and bodies) and checks that the next request is a Miss.
func TestAdminAPI(t *testing.T) {
	clock(t)
	shared.Flush()
	t.Cleanup(shared.Flush)
	up := httptest.NewServer(&upstream{})
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, map[string]string{Name: `{"strategy":"memory"}`})
	pluginID := cfg.Plugins[0].ID
	g := proxytest.Serve(t, cfg)
	call := adminAPI(t, cfg)

	get := func(wantStatus, wantBody string) string {
		t.Helper()
		res, body := g.Do(t, "GET", "/a", nil, "")
		if got := res.Header.Get("X-Cache-Status"); got != wantStatus || body != wantBody {
			t.Fatalf("proxy GET /a: %s %q; want %s %q", got, body, wantStatus, wantBody)
		}
		return res.Header.Get("X-Cache-Key")
	}
	expect := func(method, path string, wantStatus int, wantBody string) string {
		t.Helper()
		status, body := call(method, path)
		if status != wantStatus || (wantBody != "*" && body != wantBody) {
			t.Fatalf("admin %s %s: %d %q; want %d %q", method, path, status, body, wantStatus, wantBody)
		}
		return body
	}

	key := get("Miss", "/a #1")
	if len(key) != 64 {
		t.Fatalf("X-Cache-Key %q; want a hex SHA-256", key)
	}
	get("Hit", "/a #1")

	// GET by key, from any proxy-cache plugin, and by plugin id.
	for _, path := range []string{"/proxy-cache/" + key, "/proxy-cache/" + pluginID + "/caches/" + key} {
		body := expect("GET", path, 200, "*")
		var e struct {
			Status    int            `json:"status"`
			Headers   map[string]any `json:"headers"`
			Body      string         `json:"body"`
			BodyLen   int            `json:"body_len"`
			Timestamp int64          `json:"timestamp"`
			TTL       int64          `json:"ttl"`
			Version   int            `json:"version"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
		if e.Status != 200 || e.Body != "/a #1" || e.BodyLen != 5 || e.Version != 1 || e.TTL != 300 ||
			e.Timestamp != 1_700_000_000 || e.Headers["Content-Type"] != "application/json" {
			t.Errorf("GET %s = %s", path, body)
		}
	}
	// Unknown keys and plugins: 404 without a body.
	expect("GET", "/proxy-cache/"+strings.Repeat("0", 64), 404, "")
	expect("GET", "/proxy-cache/00000000-0000-4000-8000-000000000999/caches/"+key, 404, "")
	expect("GET", "/proxy-cache/not-a-uuid/caches/"+key, 404, "")
	expect("DELETE", "/proxy-cache/"+strings.Repeat("0", 64), 404, "")
	expect("DELETE", "/proxy-cache/00000000-0000-4000-8000-000000000999/caches/"+key, 404, "")

	// Purge by key: 204, and the next request goes upstream.
	expect("DELETE", "/proxy-cache/"+key, 204, "")
	expect("GET", "/proxy-cache/"+key, 404, "")
	get("Miss", "/a #2")
	get("Hit", "/a #2")

	// Purge by plugin and key.
	expect("DELETE", "/proxy-cache/"+pluginID+"/caches/"+key, 204, "")
	expect("DELETE", "/proxy-cache/"+pluginID+"/caches/"+key, 404, "")
	get("Miss", "/a #3")
	get("Hit", "/a #3")

	// Purge everything.
	expect("DELETE", "/proxy-cache", 204, "")
	if b, n := shared.Size(); b != 0 || n != 0 {
		t.Errorf("store after DELETE /proxy-cache: %d bytes, %d entries; want empty", b, n)
	}
	get("Miss", "/a #4")

	// The paths are listed with the Admin API's own.
	body := expect("GET", "/endpoints", 200, "*")
	for _, p := range []string{`"/proxy-cache"`, `"/proxy-cache/{cache_key}"`, `"/proxy-cache/{plugin_id}/caches/{cache_key}"`} {
		if !strings.Contains(body, p) {
			t.Errorf("GET /endpoints lacks %s: %s", p, body)
		}
	}
}

func init() {
	// Another plugin for TestAdminAPIWithStore, registered only in this
	// test binary.
	plugin.Register(plugin.Definition{Name: "proxy-cache-test-other", Priority: 1, Version: "1.0.0",
		Schema: &model.Schema{Name: "proxy-cache-test-other", Protocols: []string{"http", "https"}},
		New:    func(map[string]any, plugin.Deps) (any, error) { return struct{}{}, nil }})
}

// TestAdminAPIWithStore: the plugin endpoints read the plugin entities from
// the database (embedded store) as Kong reads kong.db.plugins.
func TestAdminAPIWithStore(t *testing.T) {
	clock(t)
	shared.Flush()
	t.Cleanup(shared.Flush)
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := httptest.NewServer(admin.New(admin.Options{Store: st, Database: "embedded"}))
	t.Cleanup(srv.Close)

	// Other plugins come first in the store's order; the key is found in
	// the proxy-cache plugin's dictionary all the same.
	if status, body := adminDo(t, srv.URL, "POST", "/plugins", `{"name":"proxy-cache-test-other"}`); status != 201 {
		t.Fatalf("POST /plugins key-auth: %d %s", status, body)
	}
	status, body := adminDo(t, srv.URL, "POST", "/plugins", `{"name":"proxy-cache","config":{"strategy":"memory"}}`)
	if status != 201 {
		t.Fatalf("POST /plugins: %d %s", status, body)
	}
	var p model.Plugin
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(&upstream{})
	t.Cleanup(up.Close)
	cfg := proxytest.Config(t, up.URL, nil)
	cfg.Plugins = []*model.Plugin{{ID: p.ID, Name: Name, Config: p.Config, Enabled: true, Protocols: p.Protocols}}
	g := proxytest.Serve(t, cfg)

	res, got := g.Do(t, "GET", "/s", nil, "")
	key := res.Header.Get("X-Cache-Key")
	if res.Header.Get("X-Cache-Status") != "Miss" || got != "/s #1" {
		t.Fatalf("first request: %s %q", res.Header.Get("X-Cache-Status"), got)
	}
	for _, path := range []string{"/proxy-cache/" + key, "/proxy-cache/" + p.ID + "/caches/" + key} {
		if status, body := adminDo(t, srv.URL, "GET", path, ""); status != 200 || !strings.Contains(body, `"body":"/s #1"`) {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
	if status, _ := adminDo(t, srv.URL, "DELETE", "/proxy-cache/"+p.ID+"/caches/"+key, ""); status != 204 {
		t.Fatalf("DELETE: %d; want 204", status)
	}
	if res, got := g.Do(t, "GET", "/s", nil, ""); res.Header.Get("X-Cache-Status") != "Miss" || got != "/s #2" {
		t.Errorf("after purge: %s %q; want Miss", res.Header.Get("X-Cache-Status"), got)
	}
	// A plugin of another name is not a proxy-cache: 404.
	var list struct {
		Data []model.Plugin `json:"data"`
	}
	_, body = adminDo(t, srv.URL, "GET", "/plugins", "")
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	for _, other := range list.Data {
		if other.Name != Name {
			if status, _ := adminDo(t, srv.URL, "GET", "/proxy-cache/"+other.ID+"/caches/"+key, ""); status != 404 {
				t.Errorf("GET by another plugin's id: %d; want 404", status)
			}
		}
	}
}
