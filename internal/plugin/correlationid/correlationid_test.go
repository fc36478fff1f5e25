package correlationid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *CorrelationID {
	t.Helper()
	return proxytest.Instance[*CorrelationID](t, Schema, New, cfg)
}

var (
	reUUID        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reUUIDCounter = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#[0-9]+$`)
	reTracker     = regexp.MustCompile(`^[0-9.]*-[0-9]*-[0-9]+-[0-9]+-[0-9]+-[0-9]+\.[0-9]{3}$`)
)

// run passes one request through access and header_filter.
func run(p *CorrelationID, in http.Header) (upstream string, c *plugin.Ctx) {
	r := httptest.NewRequest("GET", "/", nil)
	for k, v := range in {
		r.Header[k] = v
	}
	c = &plugin.Ctx{Request: r}
	p.Access(c)
	upstream = r.Header.Get(p.header)
	c.Header = http.Header{}
	p.HeaderFilter(c)
	return upstream, c
}

func TestGenerators(t *testing.T) {
	tests := []struct {
		cfg  string
		want *regexp.Regexp
	}{
		{`{}`, reUUIDCounter},
		{`{"generator":"uuid"}`, reUUID},
		{`{"generator":"uuid#counter"}`, reUUIDCounter},
		{`{"generator":"tracker"}`, reTracker},
	}
	for _, tt := range tests {
		p := build(t, tt.cfg)
		a, _ := run(p, nil)
		b, _ := run(p, nil)
		if !tt.want.MatchString(a) {
			t.Errorf("%s: id %q does not match %s", tt.cfg, a, tt.want)
		}
		if a == b {
			t.Errorf("%s: two requests got the same id %q", tt.cfg, a)
		}
	}
	// uuid#counter: same prefix, increasing counter.
	p := build(t, `{}`)
	a, _ := run(p, nil)
	b, _ := run(p, nil)
	pa, pb := strings.Split(a, "#"), strings.Split(b, "#")
	if pa[0] != pb[0] || pa[1] == pb[1] {
		t.Errorf("uuid#counter ids %q and %q; want same uuid, different counters", a, b)
	}
}

func TestKeepsIncomingAndEcho(t *testing.T) {
	p := build(t, `{"header_name":"X-Req","echo_downstream":true}`)
	up, c := run(p, http.Header{"X-Req": {"abc-123"}})
	if up != "abc-123" {
		t.Errorf("upstream id = %q; want the client's abc-123", up)
	}
	if got := c.Header.Get("X-Req"); got != "abc-123" {
		t.Errorf("echoed id = %q; want abc-123", got)
	}
	if v, _ := c.Get(SharedKey); v != "abc-123" {
		t.Errorf("shared %s = %v; want abc-123", SharedKey, v)
	}

	up, c = run(p, nil)
	if up == "" || c.Header.Get("X-Req") != up {
		t.Errorf("generated id upstream %q, echoed %q; want the same non-empty id", up, c.Header.Get("X-Req"))
	}

	q := build(t, `{}`)
	up, c = run(q, nil)
	if up == "" {
		t.Error("no Kong-Request-ID sent upstream")
	}
	if got := c.Header.Get("Kong-Request-ID"); got != "" {
		t.Errorf("echo_downstream=false: response header = %q; want none", got)
	}
}

func TestEchoOnExitWithoutAccess(t *testing.T) {
	// A plugin with higher priority terminated the request: access never
	// ran, header_filter still echoes a (new) id.
	p := build(t, `{"echo_downstream":true}`)
	c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/", nil), Header: http.Header{}}
	p.HeaderFilter(c)
	if !reUUIDCounter.MatchString(c.Header.Get("Kong-Request-ID")) {
		t.Errorf("echoed id = %q; want a generated uuid#counter", c.Header.Get("Kong-Request-ID"))
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rec); string(b) != `{"echo_downstream":false,"generator":"uuid#counter","header_name":"Kong-Request-ID"}` {
		t.Errorf("defaults = %s", b)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"generator":"random"}`, "generator: expected one of: uuid, uuid#counter, tracker"},
		{`{"generator":null}`, "generator: required field missing"},
		{`{"echo_downstream":1}`, "echo_downstream: expected a boolean"},
	} {
		var in map[string]any
		json.Unmarshal([]byte(tt.in), &in)
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func BenchmarkAccess(b *testing.B) {
	p := build(b, `{}`)
	r := httptest.NewRequest("GET", "/", nil)
	c := &plugin.Ctx{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Del("Kong-Request-ID")
		p.Access(c)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"generator":"tracker","header_name":"X"}`)
	f.Add(`{"generator":5}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		if rec, err := Schema.Process(in, nil); err == nil {
			if _, nerr := New(rec, plugin.Deps{}); nerr != nil {
				t.Fatal(nerr)
			}
		}
	})
}
