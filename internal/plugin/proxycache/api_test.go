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
	"sluice/internal/proxytest"
)

// adminAPI serves the real Admin API over cfg (DB-less) and returns a
// function doing one request against it.
func adminAPI(t *testing.T, cfg *model.Config) func(method, path string) (int, string) {
	t.Helper()
	h := admin.New(admin.Options{Database: "off", Current: func() (*model.Config, string) { return cfg, "" }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
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
