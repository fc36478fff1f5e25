package declarative

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// convertWith converts src with node release on or off.
func convertWith(t *testing.T, src string, release bool) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	c := &converter{lines: lineIndex{}, budget: 1 << 20, release: release}
	v, err := c.convert(&doc, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestConvertReleaseKeepsValues(t *testing.T) {
	srcs := []string{
		generateConfigString(50),
		"a: [1, 2.5, x, null, true]\nb: {c: {d: [e, {f: g}]}}\n",
		"base: {x: 1}\nitems:\n- <<: {host: h, port: 1}\n  port: 2\n",
	}
	for i, src := range srcs {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		if hasAlias(&doc) {
			t.Fatalf("source %d: hasAlias = true; want false", i)
		}
		kept, released := convertWith(t, src, false), convertWith(t, src, true)
		if !reflect.DeepEqual(kept, released) {
			t.Errorf("source %d: converted with release = %v; want %v", i, released, kept)
		}
	}
}

func TestParseAliasAfterAnchorConverted(t *testing.T) {
	// the anchored node is converted (as part of services[0]) before the
	// aliases that point at it: it must still be whole when they are read
	src := `_format_version: "3.0"
services:
- name: a
  url: http://a.internal
  routes:
  - name: r1
    paths: &p [/one, /two]
    methods: &m [GET]
- name: b
  url: http://b.internal
  routes:
  - name: r2
    paths: *p
    methods: *m
    hosts: [h.example.com]
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	if !hasAlias(&doc) {
		t.Fatal("hasAlias = false; want true")
	}
	cfg, err := Parse([]byte(src), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Routes) != 2 {
		t.Fatalf("routes: got %d; want 2", len(cfg.Routes))
	}
	for _, r := range cfg.Routes {
		if !reflect.DeepEqual(r.Paths, []string{"/one", "/two"}) || !reflect.DeepEqual(r.Methods, []string{"GET"}) {
			t.Errorf("route %s: paths %v, methods %v; want [/one /two], [GET]", strp(r.Name), r.Paths, r.Methods)
		}
	}
}

func generateConfigString(n int) string { return string(generateConfig(n)) }
