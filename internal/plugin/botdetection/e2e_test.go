package botdetection_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/botdetection"
	"sluice/internal/proxy"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// TestTwoUserAgents sends two User-Agent lines on a raw connection (Go's
// client writes only one).
func TestTwoUserAgents(t *testing.T) {
	g := startGateway(t, echo, map[string]string{"bot-detection": `{}`})
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: a\r\nUser-Agent: b\r\nConnection: close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(conn)
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 400 ") || !strings.Contains(body, "Only one User-Agent header allowed") {
		t.Errorf("two User-Agents: got %q; want 400 Only one User-Agent header allowed", raw)
	}
}

func TestThroughProxy(t *testing.T) {
	g := startGateway(t, echo, map[string]string{"bot-detection": `{"deny":["^BadClient"],"allow":["Googlebot-Image"]}`})
	tests := []struct {
		ua     []string
		status int
		msg    string
	}{
		{[]string{"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}, 200, ""},
		{[]string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, 403, "Forbidden"},
		{[]string{"Googlebot-Image/1.0"}, 200, ""},
		{[]string{"BadClient/1.0"}, 403, "Forbidden"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", g.front.URL+"/x", nil)
		for _, ua := range tt.ua {
			req.Header.Add("User-Agent", ua)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%q: status %d; want %d", tt.ua, res.StatusCode, tt.status)
			continue
		}
		if tt.msg != "" {
			if got := message(t, string(b)); got != tt.msg {
				t.Errorf("%q: message %q; want %q", tt.ua, got, tt.msg)
			}
		}
	}
}

// gateway is a real proxy (snapshot.Build + proxy.New) in front of an
// httptest upstream, with plugins attached globally.
type gateway struct {
	front *httptest.Server
}

func startGateway(t *testing.T, upstreamH http.Handler, plugins map[string]string) *gateway {
	t.Helper()
	up := httptest.NewServer(upstreamH)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	host, portS, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portS)
	name := "svc"
	svc := &model.Service{ID: "00000000-0000-4000-8000-000000000001", Name: &name, Protocol: "http", Host: host, Port: port,
		Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000, Enabled: true}
	route := &model.Route{ID: "00000000-0000-4000-8000-000000000002", Protocols: []string{"http", "https"}, Paths: []string{"/"},
		HTTPSRedirectStatusCode: 426, StripPath: false, PathHandling: "v0", RequestBuffering: true, ResponseBuffering: true,
		CreatedAt: 1, UpdatedAt: 1, Service: &model.ForeignKey{ID: svc.ID}}
	cfg := &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{route}}
	i := 10
	for pname, conf := range plugins {
		var in map[string]any
		if err := json.Unmarshal([]byte(conf), &in); err != nil {
			t.Fatal(err)
		}
		def, ok := plugin.Lookup(pname)
		if !ok {
			t.Fatalf("plugin %q not registered", pname)
		}
		rec, serr := def.Schema.Process(in, nil)
		if serr != nil {
			t.Fatalf("%s config: %v", pname, serr)
		}
		i++
		cfg.Plugins = append(cfg.Plugins, &model.Plugin{ID: "00000000-0000-4000-8000-0000000000" + strconv.Itoa(i), Name: pname,
			Config: rec, Enabled: true, Protocols: []string{"http", "https"}})
	}
	pool := upstream.NewPool()
	cur := &snapshot.Current{}
	s, err := snapshot.Build(nil, cfg, "0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: pool, Plugins: plugin.Lookup})
	if err != nil {
		t.Fatalf("snapshot.Build: %v", err)
	}
	cur.Store(s)
	px := proxy.New(cur, proxy.Options{})
	front := httptest.NewServer(px)
	t.Cleanup(func() {
		front.Close()
		px.Close()
		pool.Close()
	})
	return &gateway{front: front}
}

// do sends a request through the gateway.
func (g *gateway) do(t *testing.T, method, path string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.front.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// echo answers with what the upstream received, as JSON.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "uri": r.RequestURI, "host": r.Host, "headers": r.Header, "body": string(b)})
})

type echoed struct {
	Method  string      `json:"method"`
	URI     string      `json:"uri"`
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
}

func decodeEcho(t *testing.T, s string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatalf("upstream echo %q: %v", s, err)
	}
	return e
}

// message is the "message" of a Kong error body.
func message(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return m.Message
}
