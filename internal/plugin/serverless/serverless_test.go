package serverless

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "sluice/internal/plugin/filelog"
	_ "sluice/internal/plugin/requesttransformer"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// cfg renders a config with the given phases' functions.
func cfg(t testing.TB, phases map[string][]string) string {
	t.Helper()
	b, err := json.Marshal(phases)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAccessChangesTheUpstreamRequest(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"pre-function": cfg(t, map[string][]string{"access": {`
local who = kong.request.get_header("x-user") or "nobody"
kong.service.request.set_header("X-Greeting", "hello " .. who)
kong.service.request.clear_header("X-Secret")
if kong.request.get_query_arg("raw") then
  ngx.var.upstream_uri = "/rewritten"
end
kong.service.request.set_query({ page = "2", tag = { "a", "b" } })
kong.response.set_header("X-Method", kong.request.get_method())`}})})
	res, body := g.Do(t, "GET", "/orders/7?raw", map[string]string{"X-User": "ann", "X-Secret": "s"}, "")
	e := proxytest.DecodeEcho(t, body)
	if res.StatusCode != 200 || e.Headers.Get("X-Greeting") != "hello ann" || e.Headers.Get("X-Secret") != "" {
		t.Errorf("%d upstream headers %v", res.StatusCode, e.Headers)
	}
	if e.URI != "/rewritten?page=2&tag=a&tag=b" {
		t.Errorf("upstream URI %q; want the path set through ngx.var.upstream_uri and the query set", e.URI)
	}
	if res.Header.Get("X-Method") != "GET" {
		t.Errorf("response header X-Method = %q", res.Header.Get("X-Method"))
	}
}

func TestExitAndErrors(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"pre-function": cfg(t, map[string][]string{"access": {`
local p = kong.request.get_path()
if p == "/deny" then
  return kong.response.exit(403, { message = "go away" }, { ["X-Why"] = "policy" })
elseif p == "/text" then
  kong.response.exit(418, "teapot")
elseif p == "/boom" then
  error("boom")
elseif p == "/os" then
  os.execute("true")
elseif p == "/ngx" then
  ngx.say("said")
  ngx.exit(202)
end`}})})
	res, body := g.Do(t, "GET", "/deny", nil, "")
	if res.StatusCode != 403 || body != `{"message":"go away"}` || res.Header.Get("X-Why") != "policy" ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/deny: %d %q %v", res.StatusCode, body, res.Header)
	}
	if res, body := g.Do(t, "GET", "/text", nil, ""); res.StatusCode != 418 || body != "teapot" {
		t.Errorf("/text: %d %q", res.StatusCode, body)
	}
	for _, p := range []string{"/boom", "/os"} {
		if res, body := g.Do(t, "GET", p, nil, ""); res.StatusCode != 500 || proxytest.Message(t, body) != errUnexpected {
			t.Errorf("%s: %d %q; want Kong's 500", p, res.StatusCode, body)
		}
	}
	if res, body := g.Do(t, "GET", "/ngx", nil, ""); res.StatusCode != 202 || body != "said\n" {
		t.Errorf("/ngx: %d %q", res.StatusCode, body)
	}
	if res, _ := g.Do(t, "GET", "/other", nil, ""); res.StatusCode != 200 {
		t.Errorf("/other: %d; want the upstream's 200", res.StatusCode)
	}
}

// A chunk that returns a function is run once; the function is the handler
// from then on, keeping its upvalues (per Lua state, as Kong's per worker).
func TestReturnedFunctionKeepsUpvalues(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"pre-function": cfg(t, map[string][]string{"access": {`
local count = 0
return function()
  count = count + 1
  kong.response.set_header("X-Count", tostring(count))
end`}})})
	for want := 1; want <= 3; want++ {
		res, _ := g.Do(t, "GET", "/", nil, "")
		if got := res.Header.Get("X-Count"); got != strings.Repeat("", 0)+itoa(want) {
			t.Errorf("request %d: X-Count %q", want, got)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// pre-function and post-function share kong.ctx.shared; post-function's
// header_filter and body_filter see the upstream's response.
func TestPostFunctionResponsePhases(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"pre-function": cfg(t, map[string][]string{"access": {`kong.ctx.shared.started = "yes"; kong.ctx.shared.n = 41`}}),
		"post-function": cfg(t, map[string][]string{
			"header_filter": {`
kong.response.set_header("X-Started", kong.ctx.shared.started)
kong.response.set_header("X-N", tostring(kong.ctx.shared.n + 1))
kong.response.set_header("X-Upstream-Status", tostring(kong.response.get_status()))
ngx.header["X-Via-Ngx"] = "1"`},
			"body_filter": {`ngx.arg[1] = string.upper(ngx.arg[1])`},
		}),
	})
	res, body := g.Do(t, "GET", "/lower", nil, "")
	if res.Header.Get("X-Started") != "yes" || res.Header.Get("X-N") != "42" || res.Header.Get("X-Upstream-Status") != "200" ||
		res.Header.Get("X-Via-Ngx") != "1" {
		t.Errorf("headers %v", res.Header)
	}
	if !strings.Contains(body, `"URI":"/LOWER"`) && !strings.Contains(body, `"/LOWER"`) {
		t.Errorf("body not upper-cased by body_filter: %q", body)
	}
}

func TestSchema(t *testing.T) {
	s := schema("pre-function")
	_, serr := s.Process(map[string]any{"access": []any{"local x = = 1"}}, nil)
	if serr == nil || !strings.Contains(serr.Error(), "error parsing pre-function:") {
		t.Errorf("syntax error: %v", serr)
	}
	plugins, _ := model.Lookup("plugins")
	_, serr = plugins.Process(map[string]any{"name": "post-function", "config": map[string]any{"access": []any{}}},
		&model.ProcessOptions{Plugins: plugin.SchemaLookup(nil)})
	want := "at least one of these fields must be non-empty: 'config.certificate', 'config.rewrite', 'config.access', 'config.header_filter', 'config.body_filter', 'config.log'"
	if serr == nil || serr.Fields["config"] != want {
		t.Errorf("no functions: %v\nwant %q", serr, want)
	}
	_, serr = plugins.Process(map[string]any{"name": "pre-function", "consumer": map[string]any{"id": "6f4b2d0c-5a49-4bd4-9b3a-0d2c1f6e8a11"},
		"config": map[string]any{"access": []any{"x = 1"}}}, &model.ProcessOptions{Plugins: plugin.SchemaLookup(nil)})
	if serr == nil || serr.Fields["consumer"] == nil {
		t.Errorf("consumer-scoped pre-function accepted: %v", serr)
	}
	out, serr := s.Process(map[string]any{"log": []any{"kong.log.info('x')"}}, nil)
	if serr != nil || len(out["access"].([]any)) != 0 {
		t.Errorf("defaults: %v %v", out, serr)
	}
}

// The Lua states of an instance are bounded; concurrent requests share
// them and all complete.
func TestStatesBounded(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"pre-function": cfg(t, map[string][]string{"access": {`kong.service.request.set_header("X-A", "1")`}})})
	done := make(chan int, 50)
	for range 50 {
		go func() {
			res, _ := g.Do(t, "GET", "/", nil, "")
			done <- res.StatusCode
		}()
	}
	for range 50 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("status %d", code)
		}
	}
}

func BenchmarkAccessSetHeader(b *testing.B) {
	g := proxytest.New(b, proxytest.EchoUpstream, map[string]string{"pre-function": cfg(b, map[string][]string{"access": {`kong.service.request.set_header("X-A", kong.request.get_header("x-b") or "none")`}})})
	b.ReportAllocs()
	for b.Loop() {
		g.Do(b, "GET", "/", nil, "")
	}
}

// FuzzCompile: any text given as a function compiles or is refused with
// an error, without panicking (the Admin API and kong.yml pass user input
// to it).
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"return function() end", "local x = = 1", "kong.log.info('a')", "for i=1,10 do end",
		"x = [[", "--[==[", "return {", "goto l", "a.b.c:d()", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		_, _ = compile("pre-function", code)
	})
}

// kong.log.set_serialize_value changes what the log plugins send (here
// file-log); kong.log.serialize() returns the entry with the change.
func TestSerializeValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"pre-function": cfg(t, map[string][]string{"access": {`
kong.log.set_serialize_value("custom.team", "payments")
kong.log.set_serialize_value("request.headers.x-secret", nil)`}}),
		"post-function": cfg(t, map[string][]string{"header_filter": {`
local e = kong.log.serialize()
kong.response.set_header("X-Serialized", e.custom.team .. " " .. e.request.method)`}}),
		"file-log": `{"path":"` + path + `"}`,
	})
	res, _ := g.Do(t, "GET", "/", map[string]string{"X-Secret": "s3"}, "")
	if res.StatusCode != 200 || res.Header.Get("X-Serialized") != "payments GET" {
		t.Fatalf("%d X-Serialized %q", res.StatusCode, res.Header.Get("X-Serialized"))
	}
	var line []byte
	for deadline := time.Now().Add(5 * time.Second); len(line) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		line, _ = os.ReadFile(path)
	}
	var e struct {
		Custom  map[string]string `json:"custom"`
		Request struct {
			Headers map[string]any `json:"headers"`
		} `json:"request"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatalf("file-log wrote %q: %v", line, err)
	}
	if e.Custom["team"] != "payments" || e.Request.Headers["x-secret"] != nil {
		t.Errorf("file-log entry %s", line)
	}
}

// Review findings: a self-referencing table converts in bounded time, a
// bad status is a 500 rather than a broken connection, a path with CR/LF
// cannot reach the request line, kong.ctx.shared is the store the Go
// plugins read, and an instance without body_filter functions leaves the
// response's Content-Length alone.
func TestHardening(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"pre-function": cfg(t, map[string][]string{"access": {`
local p = kong.request.get_path()
if p == "/cycle" then
  local t = {}
  t[1] = t; t[2] = t; t[3] = t
  kong.ctx.shared.x = t
  return kong.response.exit(200, t)
elseif p == "/badstatus" then
  kong.response.exit(1000)
elseif p == "/inject" then
  kong.service.request.set_path("/a\r\nX-Injected: yes")
elseif p == "/method" then
  kong.service.request.set_method("GET\r\nX: y")
end
kong.ctx.shared.tenant = "acme"`}}),
		"request-transformer": `{"add":{"headers":["X-Tenant:$(shared.tenant)"]}}`,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, body := g.Do(t, "GET", "/cycle", nil, ""); res.StatusCode != 200 {
			t.Errorf("/cycle: %d %q", res.StatusCode, body)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a self-referencing table did not convert in time")
	}
	for _, p := range []string{"/badstatus", "/method"} {
		if res, body := g.Do(t, "GET", p, nil, ""); res.StatusCode != 500 {
			t.Errorf("%s: %d %q; want Kong's 500", p, res.StatusCode, body)
		}
	}
	res, body := g.Do(t, "GET", "/inject", nil, "")
	e := proxytest.DecodeEcho(t, body)
	if res.StatusCode != 200 || e.Headers.Get("X-Injected") != "" || !strings.HasPrefix(e.URI, "/a%0D%0AX-Injected:%20yes") {
		t.Errorf("/inject: %d upstream URI %q headers %v", res.StatusCode, e.URI, e.Headers)
	}
	if e.Headers.Get("X-Tenant") != "acme" {
		t.Errorf("request-transformer read X-Tenant %q from kong.ctx.shared; want acme", e.Headers.Get("X-Tenant"))
	}
	if res.ContentLength <= 0 || len(res.TransferEncoding) > 0 {
		t.Errorf("response length %d, transfer encoding %v: the body was filtered without body_filter functions", res.ContentLength, res.TransferEncoding)
	}
}

// The smaller PDK functions: kong.node, kong.request.get_start_time and
// the forwarded getters, kong.response.get_source.
func TestMorePDK(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{
		"pre-function": cfg(t, map[string][]string{"access": {`
local started = kong.request.get_start_time()
kong.service.request.set_header("X-Start-Ok", tostring(started > 1600000000000 and started <= ngx.now() * 1000 + 1))
kong.service.request.set_header("X-Fwd", kong.request.get_forwarded_scheme() .. " " .. kong.request.get_forwarded_path())
kong.service.request.set_header("X-Host", kong.node.get_hostname())`}}),
		"post-function": cfg(t, map[string][]string{"header_filter": {`kong.response.set_header("X-Source", kong.response.get_source())`}}),
	})
	res, body := g.Do(t, "GET", "/fwd", nil, "")
	e := proxytest.DecodeEcho(t, body)
	host, _ := os.Hostname()
	if e.Headers.Get("X-Start-Ok") != "true" || e.Headers.Get("X-Fwd") != "http /fwd" || e.Headers.Get("X-Host") != host {
		t.Errorf("upstream headers %v", e.Headers)
	}
	if res.Header.Get("X-Source") != "service" {
		t.Errorf("X-Source %q", res.Header.Get("X-Source"))
	}
}
