package requesttermination

import (
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *Terminator {
	t.Helper()
	return proxytest.Instance[*Terminator](t, Schema, New, cfg)
}

// TestConfigErrors: Kong's schema rules, checked through the plugins
// entity as the Admin API and kong.yml do; the custom validator's message
// is the whole config's error.
func TestConfigErrors(t *testing.T) {
	plugins, _ := model.Lookup("plugins")
	lookup := plugin.SchemaLookup(nil)
	tests := []struct {
		cfg   map[string]any
		field string // "" for the config itself
		want  string
	}{
		{map[string]any{"status_code": 99}, "status_code", "value should be between 100 and 599"},
		{map[string]any{"status_code": 600}, "status_code", "value should be between 100 and 599"},
		{map[string]any{"status_code": "abcd"}, "status_code", "expected an integer"},
		{map[string]any{"message": "error", "body": "test"}, "", "message cannot be used with content_type or body"},
		{map[string]any{"message": "error", "content_type": "text/html", "body": "test"}, "", "message cannot be used with content_type or body"},
		{map[string]any{"message": "error", "content_type": "text/html"}, "", "message cannot be used with content_type or body"},
		{map[string]any{"content_type": "text/html"}, "", "content_type requires a body"},
		{map[string]any{"echo": true, "content_type": "text/html", "body": "x"}, "", "echo cannot be used with content_type and body"},
	}
	for _, tt := range tests {
		_, serr := plugins.Process(map[string]any{"name": Name, "config": tt.cfg}, &model.ProcessOptions{Plugins: lookup})
		if serr == nil {
			t.Errorf("%v: accepted; want %q", tt.cfg, tt.want)
			continue
		}
		got := serr.Fields["config"]
		if tt.field != "" {
			m, _ := got.(map[string]any)
			got = m[tt.field]
		}
		if got != tt.want {
			t.Errorf("%v: config error %#v; want %q", tt.cfg, serr.Fields["config"], tt.want)
		}
	}
	for _, ok := range []map[string]any{
		{"status_code": 404}, {"message": "Not found"}, {"body": "<h1>Not found</h1>"},
		{"content_type": "text/html", "body": "<h1>Not found</h1>"}, {"echo": true, "trigger": "X-Echo"},
		{"trigger": "X-Block"},
	} {
		if _, serr := plugins.Process(map[string]any{"name": Name, "config": ok}, &model.ProcessOptions{Plugins: lookup}); serr != nil {
			t.Errorf("%v: refused: %v", ok, serr)
		}
	}
}

func TestAccess(t *testing.T) {
	tests := []struct {
		name, cfg   string
		status      int
		body, ctype string
	}{
		{"defaults", `{}`, 503, `{"message":"Service unavailable"}`, "application/json; charset=utf-8"},
		{"standard message of the status", `{"status_code":404}`, 404, `{"message":"Not found"}`, "application/json; charset=utf-8"},
		{"status without a standard message", `{"status_code":418}`, 418, "", ""},
		{"message", `{"status_code":403,"message":"So long \"and\" thanks"}`, 403, `{"message":"So long \"and\" thanks"}`, "application/json; charset=utf-8"},
		{"raw body", `{"status_code":410,"body":"<h1>gone</h1>","content_type":"text/html"}`, 410, "<h1>gone</h1>", "text/html"},
		{"raw body, default type", `{"body":"{\"down\":true}"}`, 503, `{"down":true}`, "application/json; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/x", nil)}
			build(t, tt.cfg).Access(c)
			e := c.Exited()
			if e == nil {
				t.Fatal("the request passed; want it answered")
			}
			if e.Status != tt.status || string(e.Body) != tt.body || e.Header.Get("Content-Type") != tt.ctype || e.Message != "" {
				t.Errorf("got %d %q %q (message %q); want %d %q %q", e.Status, e.Body, e.Header.Get("Content-Type"), e.Message, tt.status, tt.body, tt.ctype)
			}
		})
	}
}

func TestTrigger(t *testing.T) {
	p := build(t, `{"trigger":"X-Block","status_code":403}`)
	for _, tt := range []struct {
		target string
		header map[string]string
		stop   bool
	}{
		{"/x", nil, false},
		{"/x", map[string]string{"x-block": "1"}, true},
		{"/x", map[string]string{"X-Block": ""}, true},
		{"/x?X-Block", nil, true},
		{"/x?x-block=1", nil, false}, // query arguments are case-sensitive
		{"/x?other=1", map[string]string{"X-Other": "1"}, false},
	} {
		r := httptest.NewRequest("GET", tt.target, nil)
		for k, v := range tt.header {
			r.Header.Set(k, v)
		}
		c := &plugin.Ctx{Request: r}
		p.Access(c)
		if got := c.Exited() != nil; got != tt.stop {
			t.Errorf("%s %v: answered = %v; want %v", tt.target, tt.header, got, tt.stop)
		}
	}
}

func TestQueryTable(t *testing.T) {
	got := plugin.QueryTable("a=1&b&c=&a=2&d%20e=f%2Fg&&h=x=y")
	want := map[string]any{"a": []any{"1", "2"}, "b": true, "c": "", "d e": "f/g", "h": "x=y"}
	if len(got) != len(want) {
		t.Fatalf("got %v; want %v", got, want)
	}
	for k, v := range want {
		if g := got[k]; !strings.EqualFold(fmtAny(g), fmtAny(v)) {
			t.Errorf("%q: got %#v; want %#v", k, g, v)
		}
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = fmtAny(e)
		}
		return "[" + strings.Join(s, ",") + "]"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return `"` + x + `"`
	}
	return "?"
}

func BenchmarkAccess(b *testing.B) {
	p := build(b, `{"status_code":503,"message":"down for maintenance"}`)
	r := httptest.NewRequest("GET", "/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		c := &plugin.Ctx{Request: r}
		p.Access(c)
	}
}

// FuzzQueryTable: any query string becomes a table without panicking, with
// one entry per distinct name and every value a string, true or a list.
func FuzzQueryTable(f *testing.F) {
	for _, s := range []string{"", "a=1&a=2&b", "%zz=1&c=%", "&&=&x==", "a=%20b&a&a=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for k, v := range plugin.QueryTable(raw) {
			switch x := v.(type) {
			case string, bool:
			case []any:
				if len(x) < 2 {
					t.Errorf("%q: list of %d", k, len(x))
				}
			default:
				t.Errorf("%q: value %T", k, v)
			}
		}
	})
}
