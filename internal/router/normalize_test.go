package router

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"sluice/internal/model"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"a/b", "/a/b"},
		// percent-encoding
		{"/%3a", "/%3A"},
		{"/a%2fb", "/a%2Fb"},
		{"/%6F%6f", "/oo"},
		{"/%7E%2D%5F%2E", "/~-_."},
		{"/%20", "/ "},
		{"/%25", "/%25"},
		{"/%252e", "/%252e"},
		{"/%3F%23", "/%3F%23"},
		{"/%zz%2", "/%zz%2"},
		{"/%", "/%"},
		{"/%C3%A9", "/\xc3\xa9"},
		{"/%0%61", "/%0a"}, // one decoding pass, as in Kong
		// dot segments
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/./b/../c", "/a/c"},
		{"/a/b/..", "/a/"},
		{"/a/b/../", "/a/"},
		{"/a/.", "/a/"},
		{"/..", "/"},
		{"/../a", "/a"},
		{"/../../a/b", "/a/b"},
		{"/.", "/"},
		{"/a/..b/c", "/a/..b/c"},
		{"/a/.b", "/a/.b"},
		{"/a/...", "/a/..."},
		{"/%2e%2e/a", "/a"},
		{"/a/%2E/b", "/a/b"},
		// duplicate slashes
		{"//", "/"},
		{"//a//b///c", "/a/b/c"},
		{"/a//../b", "/b"},
		{"/a/..//b", "/b"},
	}
	for _, tc := range tests {
		if got := NormalizePath(tc.in); got != tc.want {
			t.Errorf("NormalizePath(%q): got %q; want %q", tc.in, got, tc.want)
		}
		if got := NormalizePath(tc.want); got != tc.want && !hasDecodableTriplet(tc.want) {
			t.Errorf("NormalizePath(%q) not idempotent: got %q", tc.want, got)
		}
	}
}

func TestNormalizePathNoAlloc(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = NormalizePath("/api/v1/users/12/posts")
	})
	if allocs != 0 {
		t.Errorf("got %v allocs for a normal path; want 0", allocs)
	}
}

func TestEscapePath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{"/a b", "/a%20b"},
		{"/%2F", "/%2F"},
		{"/é", "/%C3%A9"},
		{"/a\"<>", "/a%22%3C%3E"},
		{"/!$&'()*+,;=:@[]~-_.", "/!$&'()*+,;=:@[]~-_."},
	}
	for _, tc := range tests {
		if got := EscapePath(tc.in); got != tc.want {
			t.Errorf("EscapePath(%q): got %q; want %q", tc.in, got, tc.want)
		}
	}
}

type conformanceRow struct {
	ServicePath  string  `json:"service_path"`
	RoutePath    *string `json:"route_path"`
	StripPath    bool    `json:"strip_path"`
	PathHandling string  `json:"path_handling"`
	RequestPath  string  `json:"request_path"`
	Expected     string  `json:"expected_upstream_path"`
}

func loadConformance(t *testing.T) []conformanceRow {
	t.Helper()
	// A copy of ../shared/conformance/kong-path-handling.json, kept in the
	// repository so that the test never skips.
	data, err := os.ReadFile("../../conformance/kong-path-handling.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows []conformanceRow `json:"rows"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) == 0 {
		t.Fatal("no rows in the conformance file")
	}
	return doc.Rows
}

func upstreamFor(t *testing.T, row conformanceRow, pathHandling string, opts Options) string {
	t.Helper()
	svcPath := row.ServicePath
	svc := &model.Service{ID: uid(100), Path: &svcPath, Protocol: "http", Host: "backend"}
	route := &model.Route{ID: uid(1), Protocols: []string{"http"}, Hosts: []string{"localbin.com"},
		StripPath: row.StripPath, PathHandling: pathHandling, Service: &model.ForeignKey{ID: svc.ID}}
	if row.RoutePath != nil {
		route.Paths = []string{*row.RoutePath}
	}
	r, err := BuildWithOptions(nil, []*model.Route{route}, map[string]*model.Service{svc.ID: svc}, opts)
	if err != nil {
		t.Fatal(err)
	}
	reqPath := NormalizePath(row.RequestPath)
	m, ok := r.Match(&Request{Method: "GET", Host: "localbin.com", Path: reqPath})
	if !ok {
		t.Fatalf("row %+v: no match", row)
	}
	return m.UpstreamPath(reqPath)
}

// TestConformancePathHandling runs every row of the shared conformance file
// and expects the row's upstream path: v0 rows under the default router
// (traditional_compatible), v1 rows under the traditional flavor
// (Options.PathHandlingV1), which is where Kong honours v1 and where Kong's
// own spec runs those rows. Under the default flavor a v1 route must behave
// exactly as its v0 twin (Kong's routes schema warns that v1 "will not work
// under traditional_compatible router_flavor").
func TestConformancePathHandling(t *testing.T) {
	t.Parallel()
	rows := loadConformance(t)
	v0 := map[string]string{}
	key := func(r conformanceRow) string {
		return strings.Join([]string{r.ServicePath, deref(r.RoutePath), boolStr(r.StripPath), r.RequestPath}, "|")
	}
	for _, row := range rows {
		if row.PathHandling == "v0" {
			v0[key(row)] = row.Expected
		}
	}
	for _, row := range rows {
		opts := Options{PathHandlingV1: row.PathHandling == "v1"}
		if got := upstreamFor(t, row, row.PathHandling, opts); got != row.Expected {
			t.Errorf("service %q route %v strip %v %s request %q: got %q; want %q",
				row.ServicePath, deref(row.RoutePath), row.StripPath, row.PathHandling, row.RequestPath, got, row.Expected)
		}
		if row.PathHandling != "v1" {
			continue
		}
		want, ok := v0[key(row)]
		if !ok {
			t.Errorf("v1 row %+v has no v0 counterpart", row)
			continue
		}
		if got := upstreamFor(t, row, "v1", Options{}); got != want {
			t.Errorf("traditional_compatible, v1 route: service %q route %v strip %v request %q: got %q; want the v0 result %q",
				row.ServicePath, deref(row.RoutePath), row.StripPath, row.RequestPath, got, want)
		}
	}
}

func boolStr(b bool) string {
	if b {
		return "t"
	}
	return "f"
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestUpstreamPathDocsTable(t *testing.T) {
	t.Parallel()
	// Kong's docs table for service.path "/s" (KONG-COMPAT.md 5.4).
	tests := []struct {
		route string
		strip bool
		req   string
		want  string
	}{
		{"/fv0", false, "/fv0/req", "/s/fv0/req"},
		{"/fv0", true, "/fv0/req", "/s/req"},
		{"/tv0", true, "/tv0", "/s"},
		{"/tv0/", true, "/tv0/", "/s/"},
		{`~/re/(\d+)`, true, "/re/12/x", "/s/x"},
		{`~/re/(\d+)`, false, "/re/12/x", "/s/re/12/x"},
	}
	for _, tc := range tests {
		p := "/s"
		svc := &model.Service{ID: uid(100), Path: &p, Protocol: "http"}
		route := &model.Route{ID: uid(1), Paths: []string{tc.route}, StripPath: tc.strip, Service: &model.ForeignKey{ID: svc.ID}}
		r := mustBuild(t, nil, []*model.Route{route}, map[string]*model.Service{svc.ID: svc})
		m, ok := r.Match(get(tc.req))
		if !ok {
			t.Fatalf("route %q: no match for %q", tc.route, tc.req)
		}
		if got := m.UpstreamPath(tc.req); got != tc.want {
			t.Errorf("route %q strip %v request %q: got %q; want %q", tc.route, tc.strip, tc.req, got, tc.want)
		}
	}
}

func TestUpstreamPathWithoutService(t *testing.T) {
	t.Parallel()
	r := build(t, rt{id: 1, paths: []string{"/a"}, strip: true})
	m, ok := r.Match(get("/a/b"))
	if !ok || m.Service != nil {
		t.Fatalf("got %+v, %v; want a match without service", m, ok)
	}
	if got := m.UpstreamPath("/a/b"); got != "/b" {
		t.Errorf("got %q; want %q", got, "/b")
	}
}
