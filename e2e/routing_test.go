package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

const routingConfig = `_format_version: "3.0"
services:
- name: svc-a
  url: ${A}
  routes:
  - name: api
    paths: [/api]
  - name: mixed-plain
    paths: [/mixed]
  - name: reg-high
    paths: ['~/reg/.*']
    regex_priority: 10
  - name: reg2-low
    paths: ['~/reg2/.*']
  - name: hdr-none
    paths: [/hdr]
  - name: m-any
    paths: [/m]
  - name: strip
    paths: [/strip]
  - name: nostrip
    paths: [/nostrip]
    strip_path: false
  - name: preserve
    paths: [/preserve]
    preserve_host: true
  - name: nopreserve
    paths: [/nopreserve]
- name: svc-b
  url: ${B}
  routes:
  - name: api-v2
    paths: [/api/v2]
  - name: mixed-regex
    paths: ['~/mixed/\d+$']
  - name: reg-low
    paths: ['~/reg/special']
  - name: reg2-high
    paths: ['~/reg2/special']
    regex_priority: 5
  - name: hdr-v2
    paths: [/hdr]
    headers:
      x-version: [v2]
  - name: m-post
    paths: [/m]
    methods: [POST]
  - name: host-exact
    hosts: [exact.test]
  - name: host-plain-beats-wild
    hosts: [x.wild.test]
- name: svc-c
  url: ${C}
  routes:
  - name: host-wild
    hosts: ['*.wild.test']
  - name: host-suffix-wild
    hosts: ['suffix.*']
  - name: hdr-regex
    paths: [/hdr]
    headers:
      x-tier: ['~*^gold']
- name: svc-path
  url: ${A}/base
  routes:
  - name: service-path
    paths: [/sp]
- name: svc-disabled
  url: ${B}
  enabled: false
  routes:
  - name: disabled
    paths: [/disabled]
`

var requestIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRouting checks Kong's traditional_compatible matching and priorities,
// strip_path, service.path, preserve_host and the 404 for no match.
func TestRouting(t *testing.T) {
	t.Parallel()
	a, b, c := newBackend(t, "A"), newBackend(t, "B"), newBackend(t, "C")
	g := startGateway(t, fill(routingConfig, map[string]string{"A": a.url(), "B": b.url(), "C": c.url()}))

	tests := []struct {
		name       string
		req        request
		wantServer string // "" means 404 from the gateway
		wantURI    string // checked when not empty
	}{
		{name: "prefix", req: request{path: "/api/users?x=1"}, wantServer: "A", wantURI: "/users?x=1"},
		{name: "prefix exact", req: request{path: "/api"}, wantServer: "A", wantURI: "/"},
		{name: "longest prefix wins", req: request{path: "/api/v2/items"}, wantServer: "B", wantURI: "/items"},
		{name: "prefix is not a segment match", req: request{path: "/api/v2x"}, wantServer: "B", wantURI: "/x"},
		{name: "paths are case-sensitive", req: request{path: "/API/users"}},
		{name: "regex before plain prefix", req: request{path: "/mixed/123"}, wantServer: "B"},
		{name: "regex anchored at start only via $", req: request{path: "/mixed/123abc"}, wantServer: "A", wantURI: "/123abc"},
		{name: "regex is anchored at the start", req: request{path: "/x/reg/special"}},
		{name: "higher regex_priority wins (broad regex)", req: request{path: "/reg/special"}, wantServer: "A"},
		{name: "higher regex_priority wins (narrow regex)", req: request{path: "/reg2/special"}, wantServer: "B"},
		{name: "other regex", req: request{path: "/reg2/other"}, wantServer: "A"},
		{name: "exact host", req: request{path: "/anything", host: "exact.test"}, wantServer: "B", wantURI: "/anything"},
		{name: "exact host with port", req: request{path: "/anything", host: "exact.test:1234"}, wantServer: "B"},
		{name: "wildcard host", req: request{path: "/w", host: "foo.wild.test"}, wantServer: "C"},
		{name: "wildcard host any depth", req: request{path: "/w", host: "a.b.wild.test"}, wantServer: "C"},
		{name: "plain host beats wildcard", req: request{path: "/w", host: "x.wild.test"}, wantServer: "B"},
		{name: "wildcard needs a label", req: request{path: "/w", host: "wild.test"}},
		{name: "suffix wildcard host", req: request{path: "/w", host: "suffix.example.org"}, wantServer: "C"},
		{name: "unknown host", req: request{path: "/w", host: "nope.test"}},
		{name: "method GET falls to route without methods", req: request{path: "/m"}, wantServer: "A"},
		{name: "method POST picks route with methods", req: request{method: "POST", path: "/m", body: "x"}, wantServer: "B"},
		{name: "header value", req: request{path: "/hdr", headers: map[string]string{"X-Version": "v2"}}, wantServer: "B"},
		{name: "header value case-insensitive", req: request{path: "/hdr", headers: map[string]string{"X-Version": "V2"}}, wantServer: "B"},
		{name: "header other value", req: request{path: "/hdr", headers: map[string]string{"X-Version": "v3"}}, wantServer: "A"},
		{name: "header regex", req: request{path: "/hdr", headers: map[string]string{"X-Tier": "GOLDEN"}}, wantServer: "C"},
		{name: "no header", req: request{path: "/hdr"}, wantServer: "A"},
		{name: "strip_path true", req: request{path: "/strip/rest?a=1&b=2"}, wantServer: "A", wantURI: "/rest?a=1&b=2"},
		{name: "empty query string kept", req: request{path: "/strip/rest?"}, wantServer: "A", wantURI: "/rest?"},
		{name: "query string passed unchanged", req: request{path: "/strip/q?a=%20b&c=d%26e&e=%2F"}, wantServer: "A", wantURI: "/q?a=%20b&c=d%26e&e=%2F"},
		{name: "encoded slash kept", req: request{path: "/strip/a%2Fb"}, wantServer: "A", wantURI: "/a%2Fb"},
		{name: "encoded unreserved decoded", req: request{path: "/strip/%7Euser/%61"}, wantServer: "A", wantURI: "/~user/a"},
		{name: "lower-case escapes upper-cased", req: request{path: "/strip/x%3ay"}, wantServer: "A", wantURI: "/x%3Ay"},
		{name: "dot segments removed", req: request{path: "/strip/a/../b/./c"}, wantServer: "A", wantURI: "/b/c"},
		{name: "duplicate slashes merged", req: request{path: "/strip//x///y"}, wantServer: "A", wantURI: "/x/y"},
		{name: "dot segments before matching", req: request{path: "/other/../api/z"}, wantServer: "A", wantURI: "/z"},
		{name: "route of a disabled service", req: request{path: "/disabled/x"}},
		{name: "strip_path false", req: request{path: "/nostrip/rest?a=1"}, wantServer: "A", wantURI: "/nostrip/rest?a=1"},
		{name: "service path", req: request{path: "/sp/x"}, wantServer: "A", wantURI: "/base/x"},
		{name: "service path exact", req: request{path: "/sp"}, wantServer: "A", wantURI: "/base"},
		{name: "no match", req: request{path: "/nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := g.mustDo(t, tt.req)
			if tt.wantServer == "" {
				if resp.status != 404 {
					t.Fatalf("status = %d; want 404 (body %q)", resp.status, resp.body)
				}
				return
			}
			if resp.status != 200 {
				t.Fatalf("status = %d; want 200 (body %q)", resp.status, resp.body)
			}
			e, ok := decodeEcho(resp.body)
			if !ok {
				t.Fatalf("body is not an upstream echo: %q", resp.body)
			}
			if e.Server != tt.wantServer {
				t.Errorf("answered by %s; want %s", e.Server, tt.wantServer)
			}
			if tt.wantURI != "" && e.URI != tt.wantURI {
				t.Errorf("upstream request target = %q; want %q", e.URI, tt.wantURI)
			}
			if e.Method != methodOr(tt.req.method) {
				t.Errorf("upstream method = %q; want %q", e.Method, methodOr(tt.req.method))
			}
		})
	}

	t.Run("preserve_host", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/preserve/x", host: "client.example:8080"})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
		}
		if e.Host != "client.example:8080" {
			t.Errorf("upstream Host = %q; want the client's %q", e.Host, "client.example:8080")
		}
	})
	t.Run("no preserve_host", func(t *testing.T) {
		resp := g.mustDo(t, request{path: "/nopreserve/x", host: "client.example:8080"})
		e, ok := decodeEcho(resp.body)
		if resp.status != 200 || !ok {
			t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
		}
		if e.Host != a.addr() {
			t.Errorf("upstream Host = %q; want the service's %q", e.Host, a.addr())
		}
	})
}

func methodOr(m string) string {
	if m == "" {
		return "GET"
	}
	return m
}

// TestNoRouteBody checks the exact 404 bodies, content types and headers for
// a request that matches no route (Kong's kong.response.error: JSON unless the
// Accept header asks otherwise).
func TestNoRouteBody(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "A")
	g := startGateway(t, fill(`_format_version: "3.0"
services:
- name: s
  url: ${A}
  routes:
  - name: r
    paths: [/only]
`, map[string]string{"A": a.url()}))

	const msg = "no Route matched with those values"
	tests := []struct {
		name     string
		accept   string
		wantType string
		wantBody func(id string) string
	}{
		{
			name: "accept json", accept: "application/json", wantType: "application/json; charset=utf-8",
			wantBody: func(id string) string { return "{\n  \"message\":\"" + msg + "\",\n  \"request_id\":\"" + id + "\"\n}" },
		},
		{
			name: "no accept header", accept: "", wantType: "application/json; charset=utf-8",
			wantBody: func(id string) string { return "{\n  \"message\":\"" + msg + "\",\n  \"request_id\":\"" + id + "\"\n}" },
		},
		{
			name: "accept any", accept: "*/*", wantType: "application/json; charset=utf-8",
			wantBody: func(id string) string { return "{\n  \"message\":\"" + msg + "\",\n  \"request_id\":\"" + id + "\"\n}" },
		},
		{
			name: "accept text/plain", accept: "text/plain", wantType: "text/plain; charset=utf-8",
			wantBody: func(id string) string { return msg + "\nrequest_id: " + id + "\n" },
		},
		{
			name: "accept html", accept: "text/html", wantType: "text/html; charset=utf-8",
			wantBody: func(id string) string {
				return "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>" + msg + ".</p>\n    <p>request_id: " + id + "</p>\n  </body>\n</html>\n"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.accept != "" {
				h["Accept"] = tt.accept
			}
			resp := g.mustDo(t, request{path: "/nothing/here", headers: h})
			if resp.status != 404 {
				t.Fatalf("status = %d; want 404", resp.status)
			}
			id := resp.header.Get("X-Kong-Request-Id")
			if !requestIDRe.MatchString(id) {
				t.Fatalf("X-Kong-Request-Id = %q; want 32 lower-case hex digits", id)
			}
			if got, want := string(resp.body), tt.wantBody(id); got != want {
				t.Errorf("body = %q; want %q", got, want)
			}
			if got := resp.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q; want %q", got, tt.wantType)
			}
			if got := resp.header.Get("Server"); !strings.HasPrefix(got, "kong/") {
				t.Errorf("Server = %q; want kong/<version> on a gateway-generated response", got)
			}
			if got := resp.header.Get("X-Kong-Response-Latency"); !isUint(got) {
				t.Errorf("X-Kong-Response-Latency = %q; want a number of milliseconds", got)
			}
			if got := resp.header.Get("Via"); got != "" {
				t.Errorf("Via = %q; want none on a gateway-generated response", got)
			}
		})
	}
	if a.hits.Load() != 0 {
		t.Errorf("upstream received %d requests; want 0", a.hits.Load())
	}
}

// pathRow is one row of conformance/kong-path-handling.json (from Kong's
// spec/fixtures/router_path_handling_tests.lua).
type pathRow struct {
	ServicePath  string  `json:"service_path"`
	RoutePath    *string `json:"route_path"`
	StripPath    bool    `json:"strip_path"`
	PathHandling string  `json:"path_handling"`
	RequestPath  string  `json:"request_path"`
	Expected     string  `json:"expected_upstream_path"`
}

// TestPathHandling runs Kong's own path-handling fixture (path_handling v0,
// the only one under traditional_compatible) through the gateway: one route
// per row, told apart by its Host.
func TestPathHandling(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../conformance/kong-path-handling.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Rows []pathRow `json:"rows"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var rows []pathRow
	for _, r := range file.Rows {
		if r.PathHandling == "v0" {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		t.Fatal("no v0 rows in the fixture")
	}
	be := newBackend(t, "P")

	// One service per distinct service path, one route per row.
	var sb strings.Builder
	sb.WriteString("_format_version: \"3.0\"\nservices:\n")
	svcIndex := map[string]int{}
	var svcPaths []string
	for _, r := range rows {
		if _, ok := svcIndex[r.ServicePath]; !ok {
			svcIndex[r.ServicePath] = len(svcPaths)
			svcPaths = append(svcPaths, r.ServicePath)
		}
	}
	for si, sp := range svcPaths {
		fmt.Fprintf(&sb, "- name: svc%d\n  url: %s%s\n  routes:\n", si, be.url(), sp)
		for i, r := range rows {
			if r.ServicePath != sp {
				continue
			}
			fmt.Fprintf(&sb, "  - name: row%d\n    hosts: [row%d.test]\n    strip_path: %t\n", i, i, r.StripPath)
			if r.RoutePath != nil {
				fmt.Fprintf(&sb, "    paths: ['%s']\n", *r.RoutePath)
			}
		}
	}
	g := startGateway(t, sb.String())

	for i, r := range rows {
		route := "<none>"
		if r.RoutePath != nil {
			route = *r.RoutePath
		}
		name := fmt.Sprintf("%d service=%s route=%s strip=%t request=%s", i, r.ServicePath, route, r.StripPath, r.RequestPath)
		t.Run(name, func(t *testing.T) {
			resp := g.mustDo(t, request{path: r.RequestPath, host: fmt.Sprintf("row%d.test", i)})
			e, ok := decodeEcho(resp.body)
			if resp.status != 200 || !ok {
				t.Fatalf("status = %d, body %q; want 200 from upstream", resp.status, resp.body)
			}
			if e.URI != r.Expected {
				t.Errorf("upstream path = %q; want %q", e.URI, r.Expected)
			}
		})
	}
}

func isUint(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
