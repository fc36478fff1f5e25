package datadog

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// collect reads n datagrams (one metric each), sorted, and checks that no
// more arrive.
func collect(t *testing.T, got chan string, n int) []string {
	t.Helper()
	var lines []string
	deadline := time.After(5 * time.Second)
	for len(lines) < n {
		select {
		case d := <-got:
			if strings.Contains(d, "\n") {
				t.Errorf("datagram %q holds more than one metric", d)
			}
			lines = append(lines, d)
		case <-deadline:
			t.Fatalf("got %d datagrams %q; want %d", len(lines), lines, n)
		}
	}
	select {
	case d := <-got:
		t.Errorf("unexpected extra datagram %q", d)
	case <-time.After(100 * time.Millisecond):
	}
	sort.Strings(lines)
	return lines
}

// matchAll checks each line against the patterns, in order (both sorted).
func matchAll(t *testing.T, lines []string, patterns ...string) {
	t.Helper()
	sort.Strings(patterns)
	if len(lines) != len(patterns) {
		t.Fatalf("lines %q; want %d", lines, len(patterns))
	}
	for i, p := range patterns {
		if !regexp.MustCompile("^" + p + "$").MatchString(lines[i]) {
			t.Errorf("line %q does not match %q", lines[i], p)
		}
	}
}

func instance(t *testing.T, cfg string) *Datadog {
	t.Helper()
	p := proxytest.Instance[*Datadog](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

func ctx(serviceName string) *plugin.Ctx {
	custom, user := "bar", "foo"
	c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/", nil), Status: 200,
		Consumer: &model.Consumer{ID: "0e3c1a4e-5d4e-4f69-9a3a-2b8f5a7f8d11", CustomID: &custom, Username: &user},
		Timing: plugin.Timing{Request: 12 * time.Millisecond, Kong: 3 * time.Millisecond, Upstream: 8 * time.Millisecond,
			RequestSize: 120, ResponseSize: 340}}
	if serviceName != "" {
		c.Service = &model.Service{ID: "00000000-0000-4000-8000-0000000000s1", Name: &serviceName, Host: "up.internal"}
	}
	return c
}

// Kong's spec: the six default metrics, tagged with the service, the
// status, the consumer's custom_id and app:kong.
func TestDefaultMetrics(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, port))
	p.Log(ctx("dd1"))
	tags := `\|#name:dd1,status:200,consumer:bar,app:kong`
	matchAll(t, collect(t, got, 6),
		`kong\.request\.count:1\|c`+tags,
		`kong\.latency:12\|ms`+tags,
		`kong\.request\.size:120\|ms`+tags,
		`kong\.response\.size:340\|ms`+tags,
		`kong\.upstream_latency:8\|ms`+tags,
		`kong\.kong_latency:3\|ms`+tags)
}

func TestOnlyGivenMetricsWithTags(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"metrics":[
		{"name":"request_count","stat_type":"counter","sample_rate":1,"tags":["T2:V2","T3:V3","T4"]},
		{"name":"latency","stat_type":"gauge","sample_rate":0.5,"tags":["T2:V2:V3","T4"]},
		{"name":"request_size","stat_type":"distribution","tags":[]},
		{"name":"response_size","stat_type":"histogram","consumer_identifier":"consumer_id"},
		{"name":"kong_latency","stat_type":"meter","consumer_identifier":"username"}]}`, port))
	p.Log(ctx("dd3.example"))
	matchAll(t, collect(t, got, 5),
		`kong\.request\.count:1\|c\|#name:dd3_example,status:200,T2:V2,T3:V3,T4`,
		`kong\.latency:12\|g\|@0\.5\|#name:dd3_example,status:200,T2:V2:V3,T4`,
		`kong\.request\.size:120\|d\|#name:dd3_example,status:200`,
		`kong\.response\.size:340\|h\|#name:dd3_example,status:200,consumer:0e3c1a4e_5d4e_4f69_9a3a_2b8f5a7f8d11`,
		`kong\.kong_latency:3\|m\|#name:dd3_example,status:200,consumer:foo`)
}

func TestPrefixAndTagNames(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"prefix":"prefix","service_name_tag":"upstream",
		"status_tag":"http_status","consumer_tag":"user","metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1,"consumer_identifier":"custom_id"}]}`, port))
	p.Log(ctx("dd6"))
	matchAll(t, collect(t, got, 1), `prefix\.request\.count:1\|c\|#upstream:dd6,http_status:200,user:bar`)
}

// Without a service (no route matched) the name tag is empty, and without
// an upstream the upstream latency is -1, as in Kong's serializer.
func TestNoServiceNoUpstream(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"metrics":[{"name":"upstream_latency","stat_type":"timer"}]}`, port))
	c := ctx("")
	c.Status, c.Consumer, c.Timing.Upstream = 404, nil, -1
	p.Log(c)
	matchAll(t, collect(t, got, 1), `kong\.upstream_latency:-1\|ms\|#name:,status:404`)
}

// A null host and port take the agent's address from the environment.
func TestAgentAddressFromEnvironment(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	t.Setenv(envHost, "127.0.0.1")
	t.Setenv(envPort, fmt.Sprint(port))
	p := instance(t, `{"host":null,"port":null,"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1}]}`)
	p.Log(ctx("dd5"))
	matchAll(t, collect(t, got, 1), `kong\.request\.count:1\|c\|#name:dd5,status:200`)

	// neither set: the instance builds and drops (Kong logs each failure)
	t.Setenv(envHost, "")
	q := instance(t, `{"host":null,"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1}]}`)
	q.Log(ctx("dd5"))
	if q.s != nil {
		t.Error("an instance without an address has a sender")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, metrics string }{
		{"counter without sample_rate", `[{"name":"request_count","stat_type":"counter"}]`},
		{"sample_rate above 1", `[{"name":"latency","stat_type":"timer","sample_rate":2}]`},
		{"tag ending in a colon", `[{"name":"latency","stat_type":"timer","tags":["T1:"]}]`},
		{"unknown metric", `[{"name":"status_count","stat_type":"counter","sample_rate":1}]`},
		{"unknown identifier", `[{"name":"latency","stat_type":"timer","consumer_identifier":"key"}]`},
	} {
		var metrics []any
		if err := json.Unmarshal([]byte(tc.metrics), &metrics); err != nil {
			t.Fatal(err)
		}
		cfg := map[string]any{"metrics": metrics}
		if _, serr := Schema.Process(cfg, nil); serr == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	rec, serr := Schema.Process(map[string]any{}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	if rec["host"] != "localhost" || rec["port"] != 8125 || rec["prefix"] != "kong" || len(rec["metrics"].([]any)) != 6 {
		t.Errorf("defaults %v", rec)
	}
}

func TestThroughProxy(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"datadog": fmt.Sprintf(
		`{"host":"127.0.0.1","port":%d,"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1},{"name":"upstream_latency","stat_type":"timer"}]}`, port)})
	if res, _ := g.Do(t, "GET", "/x", nil, ""); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	matchAll(t, collect(t, got, 2),
		`kong\.request\.count:1\|c\|#name:svc,status:200`,
		`kong\.upstream_latency:\d+\|ms\|#name:svc,status:200`)
}

func BenchmarkLog(b *testing.B) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	p := proxytest.Instance[*Datadog](b, Schema, New, fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, pc.LocalAddr().(*net.UDPAddr).Port))
	defer p.Close()
	c := ctx("dd1")
	b.ReportAllocs()
	for b.Loop() {
		p.Log(c)
	}
}
