package requesttransformer_test

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
	_ "sluice/internal/plugin/requesttransformer"
	"sluice/internal/proxy"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func TestThroughProxy(t *testing.T) {
	g := startGateway(t, echo, map[string]string{"request-transformer": `{
		"remove":{"headers":["x-secret"],"querystring":["debug"],"body":["password"]},
		"rename":{"headers":["x-user:x-upstream-user"]},
		"add":{"headers":["x-via:sluice","x-q:$(query_params.q)"],"querystring":["added:1"],"body":["source:gw"]},
		"append":{"headers":["x-tag:b"]}}`})
	res, body := g.do(t, "POST", "/x?q=hello&debug=1", map[string]string{"X-Secret": "s", "X-User": "bob", "X-Tag": "a",
		"Content-Type": "application/json"}, `{"password":"p","name":"n"}`)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	e := decodeEcho(t, body)
	if e.URI != "/x?added=1&q=hello" {
		t.Errorf("upstream uri = %q; want /x?added=1&q=hello", e.URI)
	}
	if e.Body != `{"name":"n","source":"gw"}` {
		t.Errorf("upstream body = %s; want {\"name\":\"n\",\"source\":\"gw\"}", e.Body)
	}
	for k, want := range map[string]string{"X-Secret": "", "X-User": "", "X-Upstream-User": "bob", "X-Via": "sluice", "X-Q": "hello",
		"Content-Length": strconv.Itoa(len(`{"name":"n","source":"gw"}`))} {
		if got := e.Headers.Get(k); got != want {
			t.Errorf("upstream %s = %q; want %q", k, got, want)
		}
	}
	if got := strings.Join(e.Headers.Values("X-Tag"), ","); got != "a,b" {
		t.Errorf("upstream X-Tag = %q; want a,b", got)
	}
}

func TestMethodThroughProxy(t *testing.T) {
	g := startGateway(t, echo, map[string]string{"request-transformer": `{"http_method":"GET"}`})
	_, body := g.do(t, "POST", "/x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=1")
	e := decodeEcho(t, body)
	if e.Method != "GET" || e.URI != "/x?a=1" {
		t.Errorf("upstream %s %s; want GET /x?a=1", e.Method, e.URI)
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
