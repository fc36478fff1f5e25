// Package proxytest runs an in-process gateway — snapshot, proxy and an echo
// upstream — for tests of plugins and the data plane.
//
// A test starts a Gateway with New (one service, a catch-all route, plugins
// attached globally) or Serve (any model.Config), sends requests with
// Gateway.Do, and reads what the upstream received with DecodeEcho when the
// upstream is EchoUpstream. Plugins are looked up in the plugin registry, so
// the test must import the plugin packages it uses (a blank import is
// enough).
package proxytest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxy"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// Gateway is a real proxy (snapshot.Build + proxy.New) listening on a
// loopback httptest server. Everything it started is closed by t.Cleanup.
type Gateway struct {
	// URL is the proxy's base URL, "http://127.0.0.1:port", without a
	// trailing slash ("https://..." from ServeTLS).
	URL string

	client *http.Client // nil: http.DefaultClient
}

// New starts upstream on an httptest server and, in front of it, a gateway
// with one service pointing at it, one route matching every path, and the
// given plugins attached globally. plugins maps a plugin name to its
// configuration as JSON; each configuration goes through the plugin's schema,
// and a schema error fails the test.
func New(t testing.TB, upstream http.Handler, plugins map[string]string) *Gateway {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	return Serve(t, Config(t, up.URL, plugins))
}

// Config returns the configuration New serves: a service for upstreamURL, a
// route for "/" with Kong's defaults, and plugins (name to JSON
// configuration) attached globally, with ids given in the order of their
// names.
func Config(t testing.TB, upstreamURL string, plugins map[string]string) *model.Config {
	t.Helper()
	u, err := url.Parse(upstreamURL)
	if err != nil {
		t.Fatalf("upstream URL %q: %v", upstreamURL, err)
	}
	host, portS, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("upstream URL %q: %v", upstreamURL, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		t.Fatalf("upstream URL %q: %v", upstreamURL, err)
	}
	name := "svc"
	svc := &model.Service{ID: "00000000-0000-4000-8000-000000000001", Name: &name, Protocol: "http", Host: host, Port: port,
		Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000, Enabled: true}
	route := &model.Route{ID: "00000000-0000-4000-8000-000000000002", Protocols: []string{"http", "https"}, Paths: []string{"/"},
		HTTPSRedirectStatusCode: 426, StripPath: false, PathHandling: "v0", RequestBuffering: true, ResponseBuffering: true,
		CreatedAt: 1, UpdatedAt: 1, Service: &model.ForeignKey{ID: svc.ID}}
	cfg := &model.Config{Services: []*model.Service{svc}, Routes: []*model.Route{route}}
	names := make([]string, 0, len(plugins))
	for pname := range plugins {
		names = append(names, pname)
	}
	sort.Strings(names)
	for i, pname := range names {
		var in map[string]any
		if err := json.Unmarshal([]byte(plugins[pname]), &in); err != nil {
			t.Fatalf("%s config: %v", pname, err)
		}
		def, ok := plugin.Lookup(pname)
		if !ok {
			t.Fatalf("plugin %q not registered", pname)
		}
		rec, serr := def.Schema.Process(in, nil)
		if serr != nil {
			t.Fatalf("%s config: %v", pname, serr)
		}
		cfg.Plugins = append(cfg.Plugins, &model.Plugin{ID: "00000000-0000-4000-8000-0000000000" + strconv.Itoa(11+i), Name: pname,
			Config: rec, Enabled: true, Protocols: []string{"http", "https"}})
	}
	return cfg
}

// Serve builds a snapshot of cfg, with plugins from the plugin registry,
// and starts a proxy serving it. A build error fails the test.
func Serve(t testing.TB, cfg *model.Config) *Gateway {
	t.Helper()
	return serve(t, cfg, false)
}

// ServeTLS is Serve with the proxy listening on HTTPS (a test
// certificate, which Do trusts).
func ServeTLS(t testing.TB, cfg *model.Config) *Gateway {
	t.Helper()
	return serve(t, cfg, true)
}

func serve(t testing.TB, cfg *model.Config, tls bool) *Gateway {
	t.Helper()
	pool := upstream.NewPool()
	s, err := snapshot.Build(nil, cfg, "0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: pool, Plugins: plugin.Lookup})
	if err != nil {
		pool.Close()
		t.Fatalf("snapshot.Build: %v", err)
	}
	cur := &snapshot.Current{}
	cur.Store(s)
	px := proxy.New(cur, proxy.Options{})
	var front *httptest.Server
	if tls {
		front = httptest.NewTLSServer(px)
	} else {
		front = httptest.NewServer(px)
	}
	t.Cleanup(func() {
		front.Close()
		px.Close()
		pool.Close()
	})
	g := &Gateway{URL: front.URL}
	if tls {
		g.client = front.Client()
	}
	return g
}

// Do sends a request through the gateway and returns the response with its
// body read in full (res.Body is already closed). hdr values replace the
// request's headers; an empty body sends none.
func (g *Gateway) Do(t testing.TB, method, path string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := g.client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
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

// EchoUpstream answers every request with what it received, as the JSON
// form of Echo.
var EchoUpstream http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: r.Header, Body: string(b)})
})

// Echo is the request EchoUpstream received.
type Echo struct {
	Method  string      `json:"method"`
	URI     string      `json:"uri"` // the request-target as sent, path and query
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
}

// DecodeEcho decodes a response body written by EchoUpstream. A body that
// is not one fails the test.
func DecodeEcho(t testing.TB, body string) Echo {
	t.Helper()
	var e Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("upstream echo %q: %v", body, err)
	}
	return e
}

// Message returns the "message" of a Kong error body such as
// {"message":"Forbidden"}. A body that is not JSON fails the test.
func Message(t testing.TB, body string) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return m.Message
}
