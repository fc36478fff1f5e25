package syslog

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// daemon listens where the plugin looks for syslog, on a datagram socket,
// and returns what it receives.
func daemon(t *testing.T) chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	useSocket(t, path)
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := pc.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	return got
}

func useSocket(t *testing.T, path string) {
	saved := SocketPaths
	SocketPaths = []string{filepath.Join(t.TempDir(), "missing"), path}
	t.Cleanup(func() { SocketPaths = saved })
}

func instance(t *testing.T, cfg string) *Syslog {
	t.Helper()
	p := proxytest.Instance[*Syslog](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

func ctx(status int) *plugin.Ctx {
	return &plugin.Ctx{Request: httptest.NewRequest("GET", "/orders?id=7", nil), Status: status}
}

var frameRE = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d kong\[\d+\]: (\{.*\})$`)

// check parses a received frame: its priority and its JSON entry.
func check(t *testing.T, m string) (string, map[string]any) {
	t.Helper()
	sm := frameRE.FindStringSubmatch(m)
	if sm == nil {
		t.Fatalf("frame %q is not <pri>timestamp kong[pid]: json", m)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(sm[2]), &entry); err != nil {
		t.Fatalf("entry %q: %v", sm[2], err)
	}
	return sm[1], entry
}

func TestDefaults(t *testing.T) {
	got := daemon(t)
	p := instance(t, `{}`)
	p.Log(ctx(200))
	pri, entry := check(t, proxytest.Receive(t, got))
	if pri != "14" { // user.info
		t.Errorf("priority %s; want 14 (user, info)", pri)
	}
	req, _ := entry["request"].(map[string]any)
	if req["method"] != "GET" || req["uri"] != "/orders?id=7" {
		t.Errorf("entry's request %v", req)
	}
	resp, _ := entry["response"].(map[string]any)
	if resp["status"] != float64(200) {
		t.Errorf("entry's response %v", resp)
	}
}

// The severity follows the status class; entries less severe than
// log_level are not sent; the facility is part of the priority.
func TestSeverities(t *testing.T) {
	got := daemon(t)
	p := instance(t, `{"log_level":"warning","successful_severity":"info","client_errors_severity":"warning",
		"server_errors_severity":"crit","facility":"local0"}`)
	p.Log(ctx(204))
	proxytest.Nothing(t, got)
	p.Log(ctx(404))
	if pri, _ := check(t, proxytest.Receive(t, got)); pri != "132" { // local0 (16) * 8 + warning (4)
		t.Errorf("404: priority %s; want 132", pri)
	}
	p.Log(ctx(503))
	if pri, _ := check(t, proxytest.Receive(t, got)); pri != "130" { // local0 * 8 + crit (2)
		t.Errorf("503: priority %s; want 130", pri)
	}
}

// A daemon on a stream socket gets entries ending in a newline.
func TestStreamSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	useSocket(t, path)
	lines := make(chan string, 10)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	p := instance(t, `{}`)
	p.Log(ctx(200))
	p.Log(ctx(500))
	for _, want := range []string{"14", "14"} {
		if pri, _ := check(t, proxytest.Receive(t, lines)); pri != want {
			t.Errorf("priority %s; want %s", pri, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"facility": "local8"}, {"log_level": "error"}, {"server_errors_severity": "fatal"},
	} {
		if _, serr := Schema.Process(cfg, nil); serr == nil {
			t.Errorf("%v accepted", cfg)
		}
	}
	rec, serr := Schema.Process(map[string]any{}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	for _, f := range []string{"log_level", "successful_severity", "client_errors_severity", "server_errors_severity"} {
		if rec[f] != "info" {
			t.Errorf("%s defaults to %v; want info", f, rec[f])
		}
	}
	if rec["facility"] != "user" {
		t.Errorf("facility defaults to %v; want user", rec["facility"])
	}
}

func TestThroughProxy(t *testing.T) {
	got := daemon(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"syslog": `{}`})
	if res, _ := g.Do(t, "GET", "/via-proxy", nil, ""); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	_, entry := check(t, proxytest.Receive(t, got))
	if svc, _ := entry["service"].(map[string]any); svc["name"] != "svc" {
		t.Errorf("entry's service %v", entry["service"])
	}
	proxytest.Nothing(t, got)
}

func BenchmarkLog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "log")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	saved := SocketPaths
	SocketPaths = []string{path}
	defer func() { SocketPaths = saved }()
	p := proxytest.Instance[*Syslog](b, Schema, New, `{}`)
	defer p.Close()
	c := ctx(200)
	b.ReportAllocs()
	for b.Loop() {
		p.Log(c)
	}
}
