package requesttermination_test

import (
	"encoding/json"
	"testing"

	_ "sluice/internal/plugin/requesttermination"
	"sluice/internal/proxytest"
)

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"request-termination": `{"status_code":503,"message":"down for maintenance","trigger":"X-Maintenance"}`})
	res, body := g.Do(t, "GET", "/x", nil, "")
	if res.StatusCode != 200 {
		t.Fatalf("without the trigger: %d %s; want 200 from the upstream", res.StatusCode, body)
	}
	proxytest.DecodeEcho(t, body)
	res, body = g.Do(t, "GET", "/x", map[string]string{"X-Maintenance": "on"}, "")
	if res.StatusCode != 503 || proxytest.Message(t, body) != "down for maintenance" {
		t.Errorf("with the trigger: %d %s; want 503 down for maintenance", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestEchoThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"request-termination": `{"echo":true,"status_code":200}`})
	res, body := g.Do(t, "POST", "/x/y?a=1&a=2&flag", map[string]string{"Content-Type": "application/json", "X-Trace": "t1"}, `{"k":[1,2]}`)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("echo: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var e struct {
		Message string `json:"message"`
		Request struct {
			Scheme  string         `json:"scheme"`
			Host    string         `json:"host"`
			Port    int            `json:"port"`
			Headers map[string]any `json:"headers"`
			Query   map[string]any `json:"query"`
			Body    map[string]any `json:"body"`
			RawBody string         `json:"raw_body"`
			Method  string         `json:"method"`
			Path    string         `json:"path"`
		} `json:"request"`
		MatchedRoute   map[string]any `json:"matched_route"`
		MatchedService map[string]any `json:"matched_service"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("echo body %s: %v", body, err)
	}
	r := e.Request
	if r.Scheme != "http" || r.Host != "127.0.0.1" || r.Port == 0 || r.Method != "POST" || r.Path != "/x/y" {
		t.Errorf("request = %+v", r)
	}
	if r.Headers["x-trace"] != "t1" || r.RawBody != `{"k":[1,2]}` || r.Body["k"] == nil {
		t.Errorf("headers/body = %v %q %v", r.Headers, r.RawBody, r.Body)
	}
	if q, _ := json.Marshal(r.Query); string(q) != `{"a":["1","2"],"flag":true}` {
		t.Errorf("query = %s", q)
	}
	if e.MatchedRoute["id"] != "00000000-0000-4000-8000-000000000002" || e.MatchedService["id"] != "00000000-0000-4000-8000-000000000001" {
		t.Errorf("matched route/service = %v / %v", e.MatchedRoute["id"], e.MatchedService["id"])
	}
	if e.Message != "" {
		t.Errorf("message = %q; want none for 200", e.Message)
	}
}
