package statsd

import (
	"bufio"
	"fmt"
	"net"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// collect reads datagrams until n lines arrived (or a timeout).
func collect(t *testing.T, got chan string, n int) (lines []string, datagrams int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for len(lines) < n {
		select {
		case d := <-got:
			datagrams++
			lines = append(lines, strings.Split(d, "\n")...)
		case <-deadline:
			t.Fatalf("got %d lines %q; want %d", len(lines), lines, n)
		}
	}
	select { // nothing more
	case d := <-got:
		t.Errorf("unexpected extra datagram %q", d)
	case <-time.After(100 * time.Millisecond):
	}
	sort.Strings(lines)
	return lines, datagrams
}

func instance(t *testing.T, cfg string) *StatsD {
	t.Helper()
	p := proxytest.Instance[*StatsD](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

const routeID = "00000000-0000-4000-8000-00000000000r"

func ctx(service bool) *plugin.Ctx {
	name, custom := "statsd1.example", "robert"
	c := &plugin.Ctx{Request: httptest.NewRequest("GET", "/", nil), Status: 200,
		Consumer: &model.Consumer{ID: "00000000-0000-4000-8000-0000000000c1", CustomID: &custom},
		Timing: plugin.Timing{Request: 12 * time.Millisecond, Kong: 3 * time.Millisecond, Upstream: 8 * time.Millisecond,
			RequestSize: 120, ResponseSize: 340}}
	if service {
		c.Service = &model.Service{ID: "00000000-0000-4000-8000-0000000000s1", Name: &name, Host: "up.internal"}
		c.Route = &model.Route{ID: routeID}
	}
	return c
}

func TestDefaultMetrics(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, port))
	p.Log(ctx(true))
	lines, datagrams := collect(t, got, 12)
	want := []string{
		"kong.route." + routeID + ".user.robert.status.200:1|c",
		"kong.service.statsd1_example.kong_latency:3|ms",
		"kong.service.statsd1_example.latency:12|ms",
		"kong.service.statsd1_example.request.count:1|c",
		"kong.service.statsd1_example.request.size:120|c",
		"kong.service.statsd1_example.response.size:340|c",
		"kong.service.statsd1_example.status.200:1|c",
		"kong.service.statsd1_example.upstream_latency:8|ms",
		"kong.service.statsd1_example.user.robert.request.count:1|c",
		"kong.service.statsd1_example.user.robert.status.200:1|c",
		"kong.service.statsd1_example.user.uniques:robert|s",
		"kong.service.statsd1_example.workspace.default.status.200:1|c",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if datagrams != 12 {
		t.Errorf("%d datagrams; want one per line (udp_packet_size 0)", datagrams)
	}

	c := ctx(false) // no route matched, no consumer: six metrics under global.unmatched
	c.Timing.Upstream, c.Consumer = -1, nil
	p.Log(c)
	lines, _ = collect(t, got, 6)
	for _, l := range lines {
		if !strings.HasPrefix(l, "kong.global.unmatched.") || strings.Contains(l, "upstream_latency") {
			t.Errorf("unmatched request line %q", l)
		}
	}
}

func TestOptions(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	base := fmt.Sprintf(`"host":"127.0.0.1","port":%d`, port)
	// identifiers, sample rate, prefix, packets of at most 160 bytes: the
	// first two lines (72 and 86 bytes and a newline) share one
	p := instance(t, `{`+base+`,"prefix":"edge","udp_packet_size":160,"metrics":[
		{"name":"request_count","stat_type":"counter","sample_rate":0.5,"service_identifier":"service_id"},
		{"name":"request_per_user","stat_type":"counter","sample_rate":1,"consumer_identifier":"consumer_id"},
		{"name":"latency","stat_type":"histogram"}]}`)
	p.Log(ctx(true))
	lines, datagrams := collect(t, got, 3)
	want := []string{
		"edge.service.00000000-0000-4000-8000-0000000000s1.request.count:1|c|@0.5",
		"edge.service.statsd1_example.latency:12|h",
		"edge.service.statsd1_example.user.00000000-0000-4000-8000-0000000000c1.request.count:1|c",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") || datagrams != 2 {
		t.Errorf("lines (%d datagrams):\n%s\nwant (2 datagrams of at most 160 bytes):\n%s", datagrams, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// allow_status_codes
	f := instance(t, `{`+base+`,"allow_status_codes":["200-204"],"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1}]}`)
	c := ctx(true)
	c.Status = 500
	f.Log(c)
	f.Log(ctx(true))
	if lines, _ := collect(t, got, 1); lines[0] != "kong.service.statsd1_example.request.count:1|c" {
		t.Errorf("allow_status_codes: %q", lines)
	}
}

func TestTagStyles(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	node := hostname
	for style, want := range map[string]string{
		"dogstatsd": "kong.request.count:1|c|#service:statsd1.example,route:" + routeID + ",workspace:default,consumer:robert,node:" + node + ",status:200",
		"influxdb":  "kong.request.count,service=statsd1.example,route=" + routeID + ",workspace=default,consumer=robert,node=" + node + ",status=200:1|c",
		"librato":   "kong.request.count#service=statsd1.example,route=" + routeID + ",workspace=default,consumer=robert,node=" + node + ",status=200:1|c",
		"signalfx":  "kong.request.count[service=statsd1.example,route=" + routeID + ",workspace=default,consumer=robert,node=" + node + ",status=200]:1|c",
	} {
		p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"tag_style":%q,"hostname_in_prefix":true}`, port, style))
		p.Log(ctx(true))
		lines, _ := collect(t, got, 6) // the six simple metrics; the per-status and per-user ones have no tagged form
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("%s: lines %q; want one %q", style, lines, want)
		}
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	p := instance(t, fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"use_tcp":true,"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1}]}`,
		ln.Addr().(*net.TCPAddr).Port))
	p.Log(ctx(true))
	p.Log(ctx(true))
	for range 2 {
		select {
		case l := <-got:
			if l != "kong.service.statsd1_example.request.count:1|c" {
				t.Errorf("line %q", l)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no line over TCP")
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, serr := Schema.Process(map[string]any{"metrics": []any{map[string]any{"name": "request_count", "stat_type": "counter"}}}, nil)
	if serr == nil {
		t.Error("a counter without sample_rate was accepted")
	}
	_, serr = Schema.Process(map[string]any{"allow_status_codes": []any{"200"}}, nil)
	if serr == nil {
		t.Error(`allow_status_codes "200" was accepted`)
	}
}

func TestThroughProxy(t *testing.T) {
	port, got := proxytest.UDPServer(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"statsd": fmt.Sprintf(
		`{"host":"127.0.0.1","port":%d,"metrics":[{"name":"request_count","stat_type":"counter","sample_rate":1},{"name":"status_count","stat_type":"counter","sample_rate":1}]}`, port)})
	if res, _ := g.Do(t, "GET", "/x", nil, ""); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	lines, _ := collect(t, got, 2)
	if !strings.HasSuffix(lines[0], ".request.count:1|c") || !strings.HasSuffix(lines[1], ".status.200:1|c") {
		t.Errorf("lines %q", lines)
	}
}

func BenchmarkLog(b *testing.B) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	p := proxytest.Instance[*StatsD](b, Schema, New, fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, pc.LocalAddr().(*net.UDPAddr).Port))
	defer p.Close()
	c := ctx(true)
	b.ReportAllocs()
	for b.Loop() {
		p.Log(c)
	}
}

func TestEmptyAllowStatusCodesSendsNothing(t *testing.T) {
	p := proxytest.Instance[*StatsD](t, Schema, New, `{"host":"127.0.0.1","port":9,"allow_status_codes":[]}`)
	defer p.Close()
	if p.allowed(200) {
		t.Error("an empty allow_status_codes allowed status 200; Kong sends nothing")
	}
	q := proxytest.Instance[*StatsD](t, Schema, New, `{"host":"127.0.0.1","port":9}`)
	defer q.Close()
	if !q.allowed(500) {
		t.Error("no allow_status_codes refused status 500")
	}
}
