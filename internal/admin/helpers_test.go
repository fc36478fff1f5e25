package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/store"
	"sluice/internal/store/embedded"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The test plugin: a config with a required number and a defaulted string,
// refusing consumer scoping like Kong's auth plugins.
func init() {
	plugin.Register(plugin.Definition{
		Name: "test-limit", Priority: 910, Version: "1.2.3",
		Schema: &model.Schema{Name: "test-limit", Fields: []*model.Field{
			{Name: "minute", Type: model.TypeNumber, Required: true},
			{Name: "policy", Type: model.TypeString, Default: "local", OneOf: []any{"local", "redis"}},
		}},
		New: func(map[string]any, plugin.Deps) (any, error) { return struct{}{}, nil },
	})
	plugin.Register(plugin.Definition{
		Name: "test-auth", Priority: 1250,
		Schema: &model.Schema{Name: "test-auth", NoConsumer: true, Fields: []*model.Field{
			{Name: "hide", Type: model.TypeBoolean, Default: false},
		}},
		New: func(map[string]any, plugin.Deps) (any, error) { return struct{}{}, nil },
	})
}

// newStore opens a real embedded store in a temporary directory.
func newStore(t testing.TB) store.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// fixedNow is the clock of the tests: timestamps in bodies are stable.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC)

type client struct {
	t     testing.TB
	url   string
	token string
	st    store.Store
}

// newServer serves the Admin API over a real socket on a fresh store.
func newServer(t testing.TB, mod func(*Options)) *client {
	t.Helper()
	st := newStore(t)
	opts := Options{Store: st, Database: "embedded", NodeID: "8c8a0a0a-1111-4222-8333-444455556666",
		Hostname: "test-host", Now: func() time.Time { return fixedNow }}
	if mod != nil {
		mod(&opts)
	}
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL, st: opts.Store}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.raw, err)
	}
	return m
}

// do sends a request; a map or slice body is sent as JSON, a string as is
// with contentType.
func (c *client) do(method, path string, body any, contentType ...string) *resp {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		ct = "application/json"
	}
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Kong-Admin-Token", c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, header: res.Header, raw: raw}
}

// must sends a request and fails the test unless the status is want.
func (c *client) must(want int, method, path string, body any, contentType ...string) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body, contentType...)
	if r.status != want {
		c.t.Fatalf("%s %s: got status %d; want %d; body %s", method, path, r.status, want, r.raw)
	}
	if want == http.StatusNoContent || len(r.raw) == 0 {
		return nil
	}
	return r.json(c.t)
}

// count returns how many entities of a kind the store holds.
func (c *client) count(entity string) int {
	c.t.Helper()
	n := 0
	opts := store.ListOptions{Size: 1000}
	for {
		page, err := c.st.List(context.Background(), entity, opts)
		if err != nil {
			c.t.Fatalf("list %s: %v", entity, err)
		}
		n += len(page.Records)
		if page.Offset == "" {
			return n
		}
		opts.Offset = page.Offset
	}
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// golden compares a JSON body (ids replaced by placeholders in order of
// appearance, indented) with testdata/<name>.json; -update rewrites it.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	ids := map[string]string{}
	got := uuidRe.ReplaceAllStringFunc(string(pretty), func(id string) string {
		if p, ok := ids[id]; ok {
			return p
		}
		p := "<uuid-" + string(rune('a'+len(ids))) + ">"
		ids[id] = p
		return p
	}) + "\n"
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: body differs from golden file\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func newTestRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/services", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return r
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
