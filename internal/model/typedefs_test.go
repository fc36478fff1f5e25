package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a//b", "/a/b"},
		{"//a///b/", "/a/b/"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/../a", "/a"},
		{"/..", "/"},
		{"/%7e", "/~"},
		{"/%41%2f%2F", "/A%2F%2F"},
		{"/%c3%a4", "/ä"},
		{"/%3a%40", "/%3A%40"},
		{"/%2e%2e/a", "/a"},
		{"/%zz", "/%zz"},
		{"/a.b/c..d", "/a.b/c..d"},
	}
	for _, tt := range tests {
		if got := NormalizePath(tt.in); got != tt.want {
			t.Errorf("NormalizePath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in       string
		host, ty string
		port     int
		err      string
	}{
		{"example.com", "example.com", "name", -1, ""},
		{"example.com:8080", "example.com", "name", 8080, ""},
		{"a_b.c", "a_b.c", "name", -1, ""},
		{"10.0.0.1", "10.0.0.1", "ipv4", -1, ""},
		{"10.0.0.1:80", "10.0.0.1", "ipv4", 80, ""},
		{"::1", "::1", "ipv6", -1, ""},
		{"[::1]:443", "::1", "ipv6", 443, ""},
		{"a.com:99999", "", "", 0, "invalid port number"},
		{"a.com:x", "", "", 0, "invalid port number"},
		{"a b", "", "", 0, "invalid hostname: a b"},
		{"a..b", "", "", 0, "invalid hostname: a..b"},
		{"a-.b", "", "", 0, "invalid hostname: a-.b"},
		{"300.1.1.1", "", "", 0, "invalid ipv4 address: 300.1.1.1"},
		{"[::1", "", "", 0, "invalid ipv6 address: [::1"},
	}
	for _, tt := range tests {
		got, err := ParseHostPort(tt.in)
		if err != tt.err {
			t.Errorf("ParseHostPort(%q) error %q; want %q", tt.in, err, tt.err)
			continue
		}
		if err == "" && (got.Host != tt.host || got.Type != tt.ty || got.Port != tt.port) {
			t.Errorf("ParseHostPort(%q) = %+v; want %s %s %d", tt.in, got, tt.host, tt.ty, tt.port)
		}
	}
}

func TestCompileRouteRegex(t *testing.T) {
	re, err := CompileRouteRegex(`/users/(?<id>\d+)`)
	if err != nil {
		t.Fatal(err)
	}
	m := re.FindStringSubmatch("/users/42/x")
	if m == nil || m[re.SubexpIndex("id")] != "42" {
		t.Errorf("match = %v; want id 42", m)
	}
	if re.MatchString("/x/users/42") {
		t.Error("regex not anchored at the start")
	}
	for _, bad := range []string{`/(?=a)`, `/(a)\1`, `/(?<!a)b`, `/[`} {
		if _, err := CompileRouteRegex(bad); err == nil {
			t.Errorf("CompileRouteRegex(%q) succeeded; want error", bad)
		}
	}
}

func TestSchemaJSON(t *testing.T) {
	b, err := json.Marshal(mustLookup(t, "routes"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Fields       []map[string]map[string]any `json:"fields"`
		EntityChecks []map[string]any            `json:"entity_checks"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Fields) == 0 {
		t.Fatal("no fields")
	}
	if _, ok := doc.Fields[0]["id"]; !ok {
		t.Errorf("first field = %v; want id", doc.Fields[0])
	}
	found := map[string]map[string]any{}
	for _, f := range doc.Fields {
		if len(f) != 1 {
			t.Fatalf("field entry %v has %d keys; want 1", f, len(f))
		}
		for k, v := range f {
			found[k] = v
		}
	}
	p := found["protocols"]
	if p["type"] != "set" || p["required"] != true || toJSON(p["default"]) != `["http","https"]` {
		t.Errorf("protocols = %v", p)
	}
	if c := found["https_redirect_status_code"]; toJSON(c["one_of"]) != `[426,301,302,307,308]` || c["default"] != 426.0 {
		t.Errorf("https_redirect_status_code = %v", c)
	}
	if s := found["service"]; s["type"] != "foreign" || s["reference"] != "services" {
		t.Errorf("service = %v", s)
	}
	if len(doc.EntityChecks) != 1 || doc.EntityChecks[0]["conditional"] == nil {
		t.Errorf("entity_checks = %v", doc.EntityChecks)
	}

	b, err = json.Marshal(mustLookup(t, "upstreams"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"healthchecks":{"type":"record","default":{"active":`) {
		t.Errorf("upstreams schema lacks the healthchecks default: %.300s", b)
	}

	ps := &Schema{Name: "p", NoConsumer: true, Fields: []*Field{{Name: "x", Type: TypeInteger, Default: 1}}}
	b, err = ps.PluginJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"fields":[{"consumer":{"type":"foreign","reference":"consumers","eq":null}},` +
		`{"protocols":{"type":"set","required":true,"default":["grpc","grpcs","http","https"],"elements":{"type":"string","one_of":["grpc","grpcs","http","https"]}}},` +
		`{"config":{"type":"record","required":true,"fields":[{"x":{"type":"integer","default":1}}]}}],"entity_checks":[]}`
	if string(b) != want {
		t.Errorf("PluginJSON\n got %s\nwant %s", b, want)
	}
}
