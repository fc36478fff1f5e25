package proxytest_test

import (
	"net/http"
	"testing"

	"sluice/internal/model"
	"sluice/internal/proxytest"
)

func TestEchoThroughGateway(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, nil)
	tests := []struct {
		method, path, body string
		hdr                map[string]string
	}{
		{"GET", "/", "", nil},
		{"POST", "/a/b?x=1&y=2", "hello", map[string]string{"X-Test": "v"}},
		{"PUT", "/put", `{"k":1}`, map[string]string{"Content-Type": "application/json"}},
	}
	for _, tt := range tests {
		res, body := g.Do(t, tt.method, tt.path, tt.hdr, tt.body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: status %d; want 200 (body %s)", tt.method, tt.path, res.StatusCode, body)
		}
		e := proxytest.DecodeEcho(t, body)
		if e.Method != tt.method || e.URI != tt.path || e.Body != tt.body {
			t.Errorf("upstream got %s %s %q; want %s %s %q", e.Method, e.URI, e.Body, tt.method, tt.path, tt.body)
		}
		for k, v := range tt.hdr {
			if got := e.Headers.Get(k); got != v {
				t.Errorf("upstream %s = %q; want %q", k, got, v)
			}
		}
	}
}

func TestServeNoRoute(t *testing.T) {
	g := proxytest.Serve(t, &model.Config{})
	res, body := g.Do(t, "GET", "/nothing", nil, "")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d; want 404 (body %s)", res.StatusCode, body)
	}
	if got := proxytest.Message(t, body); got != "no Route matched with those values" {
		t.Errorf("message %q; want %q", got, "no Route matched with those values")
	}
}

func TestConfig(t *testing.T) {
	cfg := proxytest.Config(t, "http://127.0.0.1:8080", nil)
	if len(cfg.Services) != 1 || cfg.Services[0].Host != "127.0.0.1" || cfg.Services[0].Port != 8080 {
		t.Fatalf("services %+v; want one service for 127.0.0.1:8080", cfg.Services)
	}
	if len(cfg.Routes) != 1 || cfg.Routes[0].Service == nil || cfg.Routes[0].Service.ID != cfg.Services[0].ID {
		t.Errorf("routes %+v; want one route for the service", cfg.Routes)
	}
	if len(cfg.Plugins) != 0 {
		t.Errorf("plugins %d; want 0", len(cfg.Plugins))
	}
}
