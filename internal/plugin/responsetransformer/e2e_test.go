package responsetransformer_test

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
	_ "sluice/internal/plugin/responsetransformer"
	"sluice/internal/proxy"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

func TestThroughProxy(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Powered-By", "php")
		w.Header().Set("X-Old", "v")
		body := `{"id":7,"internal":"x","name":"n"}`
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	g := startGateway(t, up, map[string]string{"response-transformer": `{
		"remove":{"headers":["x-powered-by"],"json":["internal"]},
		"rename":{"headers":["x-old:x-new"]},
		"add":{"headers":["x-served-by:sluice"],"json":["version:2","beta:true"],"json_types":["number","boolean"]},
		"append":{"json":["name:m"]}}`})
	res, body := g.do(t, "GET", "/x", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// The body_filter phase is checked by the unit tests: the proxy does not
	// run body filters yet.
	_ = body
	for k, want := range map[string]string{"X-Powered-By": "", "X-Old": "", "X-New": "v", "X-Served-By": "sluice"} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	if res.ContentLength != -1 && res.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d does not match the body (%d bytes)", res.ContentLength, len(body))
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
