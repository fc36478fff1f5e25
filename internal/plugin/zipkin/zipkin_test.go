package zipkin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "sluice/internal/plugin/serverless"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// collector is a Zipkin endpoint: each POST's spans arrive on the channel.
func collector(t *testing.T) (string, chan []span) {
	t.Helper()
	ch := make(chan []span, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var spans []span
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &spans) != nil {
			t.Errorf("collector got %s %s %q", r.Method, r.Header.Get("Content-Type"), body)
		}
		ch <- spans
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v2/spans", ch
}

func receive(t *testing.T, ch chan []span) []span {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no spans reported")
		return nil
	}
}

func gateway(t *testing.T, cfg map[string]any) *proxytest.Gateway {
	b, _ := json.Marshal(cfg)
	return proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: string(b)})
}

const (
	inTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpan   = "00f067aa0ba902b7"
	inParent = "0af7651916cd43dd"
)

// TestB3Request: an incoming sampled B3 context is continued: the request
// span keeps the caller's span id (B3 shares it), the proxy span is sent
// upstream, and the three spans carry Kong's names, tags and annotations.
func TestB3Request(t *testing.T) {
	url, ch := collector(t)
	g := gateway(t, map[string]any{"http_endpoint": url, "sample_ratio": 0,
		"static_tags": []any{map[string]any{"name": "static", "value": "ok"}}})
	res, body := g.Do(t, "GET", "/items", map[string]string{"X-B3-TraceId": inTrace, "X-B3-SpanId": inSpan,
		"X-B3-ParentSpanId": inParent, "X-B3-Sampled": "1", "Zipkin-Tags": "foo=bar; baz=qux"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	up := proxytest.DecodeEcho(t, body).Headers
	spans := receive(t, ch)
	if len(spans) != 3 {
		t.Fatalf("%d spans: %+v", len(spans), spans)
	}
	bal, proxy, req := spans[0], spans[1], spans[2]
	if req.Name != "GET" || proxy.Name != "GET (proxy)" || bal.Name != "GET (balancer try 1)" {
		t.Errorf("names %q %q %q", req.Name, proxy.Name, bal.Name)
	}
	if req.Kind != "SERVER" || proxy.Kind != "CLIENT" || bal.Kind != "CLIENT" {
		t.Errorf("kinds %s %s %s", req.Kind, proxy.Kind, bal.Kind)
	}
	for _, s := range spans {
		if s.TraceID != inTrace || s.LocalEndpoint.ServiceName != "kong" {
			t.Errorf("%s: trace %s, local %+v", s.Name, s.TraceID, s.LocalEndpoint)
		}
	}
	if req.ID != inSpan || req.ParentID != inParent {
		t.Errorf("request span %s parent %s; want the caller's B3 span %s and parent %s", req.ID, req.ParentID, inSpan, inParent)
	}
	if proxy.ParentID != req.ID || bal.ParentID != req.ID || proxy.ID == req.ID {
		t.Errorf("proxy %s/%s, balancer parent %s; want children of %s", proxy.ID, proxy.ParentID, bal.ParentID, req.ID)
	}
	if up.Get("X-B3-TraceId") != inTrace || up.Get("X-B3-SpanId") != proxy.ID || up.Get("X-B3-ParentSpanId") != req.ID ||
		up.Get("X-B3-Sampled") != "1" {
		t.Errorf("upstream B3 headers %v", up)
	}
	delete(req.Tags, "kong.node.id")
	want := map[string]string{"lc": "kong", "http.method": "GET", "http.path": "/items", "http.status_code": "200",
		"http.protocol": "HTTP/1.1", "http.host": "127.0.0.1", "static": "ok", "foo": "bar", "baz": "qux"}
	if !reflect.DeepEqual(req.Tags, want) {
		t.Errorf("request tags %v\nwant %v", req.Tags, want)
	}
	if bal.Tags["kong.balancer.try"] != "1" || bal.Tags["kong.service_name"] != "svc" || bal.Tags["kong.route"] == "" ||
		proxy.Tags["kong.service"] != "00000000-0000-4000-8000-000000000001" {
		t.Errorf("balancer tags %v, proxy tags %v", bal.Tags, proxy.Tags)
	}
	if bal.RemoteEndpoint == nil || bal.RemoteEndpoint.IPv4 != "127.0.0.1" || bal.RemoteEndpoint.Port == 0 || bal.RemoteEndpoint.ServiceName != "svc" {
		t.Errorf("balancer remote endpoint %+v", bal.RemoteEndpoint)
	}
	if req.RemoteEndpoint == nil || req.RemoteEndpoint.IPv4 != "127.0.0.1" || req.RemoteEndpoint.Port == 0 {
		t.Errorf("request remote endpoint %+v", req.RemoteEndpoint)
	}
	values := func(s span) (out []string) {
		for _, a := range s.Annotations {
			out = append(out, a.Value)
		}
		return out
	}
	if got := values(req); !reflect.DeepEqual(got, []string{"krs", "krf"}) {
		t.Errorf("request annotations %v", got)
	}
	if got := values(proxy); !reflect.DeepEqual(got, []string{"kas", "kaf", "khs", "khf", "kbs", "kbf"}) {
		t.Errorf("proxy annotations %v", got)
	}
	if req.Duration < proxy.Duration || req.Timestamp > proxy.Timestamp {
		t.Errorf("request span %d+%d does not contain proxy span %d+%d", req.Timestamp, req.Duration, proxy.Timestamp, proxy.Duration)
	}
}

// TestW3CAndSampling: a W3C parent becomes the request span's parent; an
// unsampled request reports nothing but still sends its context, in the
// default format (B3) when none came.
func TestW3CAndSampling(t *testing.T) {
	url, ch := collector(t)
	g := gateway(t, map[string]any{"http_endpoint": url, "sample_ratio": 1, "http_span_name": "method_path",
		"http_response_header_for_traceid": "X-Trace", "phase_duration_flavor": "tags"})
	res, body := g.Do(t, "GET", "/w", map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"}, "")
	up := proxytest.DecodeEcho(t, body).Headers
	spans := receive(t, ch)
	req := spans[len(spans)-1]
	if req.Name != "GET /w" || req.ParentID != inSpan || req.ID == inSpan {
		t.Errorf("request span %+v", req)
	}
	if m := regexp.MustCompile(`^00-` + inTrace + `-([0-9a-f]{16})-01$`).FindStringSubmatch(up.Get("traceparent")); m == nil || m[1] != spans[len(spans)-2].ID {
		t.Errorf("upstream traceparent %q; want the proxy span %s", up.Get("traceparent"), spans[len(spans)-2].ID)
	}
	if res.Header.Get("X-Trace") != inTrace {
		t.Errorf("X-Trace = %q", res.Header.Get("X-Trace"))
	}
	if req.Annotations != nil || req.Tags["kong.rewrite.duration_ms"] == "" || spans[len(spans)-2].Tags["kong.access.duration_ms"] == "" {
		t.Errorf("tags flavor: request %v, proxy %v", req, spans[len(spans)-2].Tags)
	}

	g0 := gateway(t, map[string]any{"http_endpoint": url, "sample_ratio": 0, "traceid_byte_count": 8})
	_, body = g0.Do(t, "GET", "/", nil, "")
	up = proxytest.DecodeEcho(t, body).Headers
	if len(up.Get("X-B3-TraceId")) != 16 || up.Get("X-B3-Sampled") != "0" {
		t.Errorf("unsampled upstream headers %v; want a new 8-byte B3 trace, not sampled", up)
	}
	select {
	case s := <-ch:
		t.Errorf("unsampled request reported %+v", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestSchema(t *testing.T) {
	plugins, _ := model.Lookup("plugins")
	lookup := plugin.SchemaLookup(nil)
	for _, tt := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"static_tags": []any{map[string]any{"name": "foo", "value": "bar"}, map[string]any{"name": "foo", "value": "baz"}}},
			"repeated tags are not allowed: foo"},
		{map[string]any{"static_tags": []any{map[string]any{"name": "lc", "value": "x"}}}, "must not be one of"},
		{map[string]any{"traceid_byte_count": 12}, "expected one of: 8, 16"},
		{map[string]any{"sample_ratio": 2}, "value should be between 0 and 1"},
	} {
		_, serr := plugins.Process(map[string]any{"name": Name, "config": tt.cfg}, &model.ProcessOptions{Plugins: lookup})
		if serr == nil || !strings.Contains(serr.Error(), tt.want) {
			t.Errorf("%v: %v; want %q", tt.cfg, serr, tt.want)
		}
	}
	rec, serr := Schema.Process(map[string]any{}, nil)
	if serr != nil || rec["sample_ratio"] != 0.001 || rec["default_header_type"] != "b3" || rec["local_service_name"] != "kong" {
		t.Errorf("defaults %v %v", rec, serr)
	}
}

// TestParseTags: Kong's request_tags spec cases.
func TestParseTags(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		tags map[string]string
		bad  []string
	}{
		{[]string{"foo=bar; baz=qux"}, map[string]string{"foo": "bar", "baz": "qux"}, nil},
		{[]string{"foobar;foo=;=bar;keep=true;="}, map[string]string{"keep": "true"}, []string{"foobar", "foo=", "=bar", "="}},
		{[]string{"foo=bar baz"}, map[string]string{"foo": "bar baz"}, nil},
		{[]string{"foo bar=baz"}, map[string]string{}, []string{"foo bar=baz"}},
		{[]string{";;foo=bar;;;;baz=qux;;"}, map[string]string{"foo": "bar", "baz": "qux"}, nil},
		{[]string{"foo=bar;baz=qux", "quux=quuz"}, map[string]string{"foo": "bar", "baz": "qux", "quux": "quuz"}, nil},
	} {
		tags, bad := ParseTags(tt.in)
		if !reflect.DeepEqual(tags, tt.tags) || !reflect.DeepEqual(bad, tt.bad) {
			t.Errorf("%q: %v %q; want %v %q", tt.in, tags, bad, tt.tags, tt.bad)
		}
	}
}

// FuzzParseTags: any header value parses without panicking into tags whose
// names have no blanks and whose values are not empty.
func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"foo=bar; baz=qux", "foobar;foo=;=bar;keep=true;=", " a = b c ", ";;", "=", "x==y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tags, _ := ParseTags([]string{v})
		for k, val := range tags {
			if k == "" || val == "" || strings.ContainsAny(k, " \t") {
				t.Errorf("%q gave tag %q=%q", v, k, val)
			}
		}
	})
}

// TestReportedWhenAnEarlierPluginAnswers: a request ended by a plugin
// running before zipkin's access phase (pre-function) is still reported,
// in its incoming trace.
func TestReportedWhenAnEarlierPluginAnswers(t *testing.T) {
	url, ch := collector(t)
	b, _ := json.Marshal(map[string]any{"http_endpoint": url, "sample_ratio": 1})
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: string(b),
		"pre-function": `{"access":["return kong.response.exit(403, 'no')"]}`})
	res, _ := g.Do(t, "GET", "/", map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"}, "")
	if res.StatusCode != 403 {
		t.Fatalf("status %d", res.StatusCode)
	}
	spans := receive(t, ch)
	req := spans[len(spans)-1]
	if req.TraceID != inTrace || req.ParentID != inSpan || req.Tags["http.status_code"] != "403" {
		t.Errorf("request span %+v", req)
	}
}
