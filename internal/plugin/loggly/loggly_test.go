package loggly

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func instance(t *testing.T, cfg string) *Loggly {
	t.Helper()
	p := proxytest.Instance[*Loggly](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

var messageRE = regexp.MustCompile(`^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\S+) kong - - (\[[^\]]*\]) (\{.*\})$`)

func parse(t *testing.T, m string) (pri, sd string, entry map[string]any) {
	t.Helper()
	sm := messageRE.FindStringSubmatch(m)
	if sm == nil {
		t.Fatalf("message %q is not Kong's RFC 5424 form", m)
	}
	if sm[3] != hostname {
		t.Errorf("host name %q; want %q", sm[3], hostname)
	}
	if err := json.Unmarshal([]byte(sm[5]), &entry); err != nil {
		t.Fatalf("entry %q: %v", sm[5], err)
	}
	return sm[1], sm[4], entry
}

func ctx(status int) *plugin.Ctx {
	return &plugin.Ctx{Request: httptest.NewRequest("GET", "/things?x=1", nil), Status: status}
}

func TestMessage(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"key":"TOKEN"}`, port))
	p.Log(ctx(200))
	pri, sd, entry := parse(t, proxytest.Receive(t, got))
	if pri != "14" || sd != `[TOKEN@41058 tag="kong"]` {
		t.Errorf("priority %s, structured data %s; want 14 and [TOKEN@41058 tag=\"kong\"]", pri, sd)
	}
	if req, _ := entry["request"].(map[string]any); req["uri"] != "/things?x=1" {
		t.Errorf("entry's request %v", entry["request"])
	}
}

func TestSeveritiesAndTags(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"key":"K","tags":["a","b"],"log_level":"warning",
		"successful_severity":"info","client_errors_severity":"warning","server_errors_severity":"crit"}`, port))
	p.Log(ctx(200))
	proxytest.Nothing(t, got)
	p.Log(ctx(404))
	if pri, sd, _ := parse(t, proxytest.Receive(t, got)); pri != "12" || sd != `[K@41058 tag="a" tag="b"]` {
		t.Errorf("404: priority %s, structured data %s; want 12, [K@41058 tag=\"a\" tag=\"b\"]", pri, sd)
	}
	p.Log(ctx(502))
	if pri, _, _ := parse(t, proxytest.Receive(t, got)); pri != "10" {
		t.Errorf("502: priority %s; want 10 (user, crit)", pri)
	}
}

func TestNoTags(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"key":"K","tags":[]}`, port))
	p.Log(ctx(200))
	if _, sd, _ := parse(t, proxytest.Receive(t, got)); sd != `[K@41058 ]` {
		t.Errorf("structured data %q; want Kong's [K@41058 ]", sd)
	}
}

func TestSchema(t *testing.T) {
	if _, serr := Schema.Process(map[string]any{}, nil); serr == nil {
		t.Error("a config without key was accepted")
	}
	rec, serr := Schema.Process(map[string]any{"key": "k"}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	if rec["host"] != "logs-01.loggly.com" || rec["port"] != 514 || rec["timeout"] != 10000 {
		t.Errorf("defaults %v", rec)
	}
	if tags, _ := rec["tags"].([]any); len(tags) != 1 || tags[0] != "kong" {
		t.Errorf("tags default %v; want [kong]", rec["tags"])
	}
}

func TestThroughProxy(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"key":"K"}`, port)})
	if res, _ := g.Do(t, "GET", "/x", nil, ""); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if _, _, entry := parse(t, proxytest.Receive(t, got)); entry["service"].(map[string]any)["name"] != "svc" {
		t.Errorf("entry's service %v", entry["service"])
	}
}
