package opentelemetry

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

const (
	inTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpan  = "00f067aa0ba902b7"
)

func instance(t *testing.T, cfg string) *OTel {
	t.Helper()
	return proxytest.Instance[*OTel](t, Schema, New, cfg)
}

// run sends a request with hdr through the access and header_filter
// phases and returns the upstream's request headers and the response's.
func run(p *OTel, hdr map[string]string) (up, resp http.Header) {
	r := httptest.NewRequest("GET", "/", nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	c := &plugin.Ctx{Request: r}
	p.Access(c)
	resp = http.Header{}
	c.BeginResponse(200, resp)
	p.HeaderFilter(c)
	return r.Header, resp
}

var traceparentOut = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-00$`)

func TestW3C(t *testing.T) {
	p := instance(t, `{"traces_endpoint":"http://collector:4318/v1/traces","http_response_header_for_traceid":"X-Trace-Id"}`)
	// no incoming context: a new trace, not sampled
	up, resp := run(p, nil)
	m := traceparentOut.FindStringSubmatch(up.Get("traceparent"))
	if m == nil {
		t.Fatalf("traceparent %q", up.Get("traceparent"))
	}
	if resp.Get("X-Trace-Id") != m[1] {
		t.Errorf("response trace id %q; want %q", resp.Get("X-Trace-Id"), m[1])
	}
	// an incoming sampled context: same trace, this hop's span, not sampled
	up, resp = run(p, map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"})
	m = traceparentOut.FindStringSubmatch(up.Get("traceparent"))
	if m == nil || m[1] != inTrace || m[2] == inSpan {
		t.Fatalf("traceparent %q; want trace %s and a new span", up.Get("traceparent"), inTrace)
	}
	if resp.Get("X-Trace-Id") != inTrace {
		t.Errorf("response trace id %q", resp.Get("X-Trace-Id"))
	}
	// an invalid one is ignored
	up, _ = run(p, map[string]string{"traceparent": "01-" + inTrace + "-" + inSpan + "-01"})
	if m = traceparentOut.FindStringSubmatch(up.Get("traceparent")); m == nil || m[1] == inTrace {
		t.Errorf("traceparent after an invalid one %q", up.Get("traceparent"))
	}
}

func TestB3Preserved(t *testing.T) {
	p := instance(t, `{"traces_endpoint":"http://collector:4318/v1/traces"}`)
	up, _ := run(p, map[string]string{"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"})
	b3 := strings.Split(up.Get("b3"), "-")
	if len(b3) != 4 || b3[0] != "80f198ee56343ba864fe8b2a57d3eff7" || b3[2] != "0" || b3[3] != "e457b5a2e4d86bd1" || b3[1] == "e457b5a2e4d86bd1" {
		t.Errorf("b3 %q; want the trace, a new span, 0, the incoming span as parent", up.Get("b3"))
	}
	// multi-header B3 with an 8-byte trace id keeps its size
	up, _ = run(p, map[string]string{"X-B3-TraceId": "64fe8b2a57d3eff7", "X-B3-SpanId": "e457b5a2e4d86bd1", "X-B3-Sampled": "1"})
	if up.Get("X-B3-TraceId") != "64fe8b2a57d3eff7" || up.Get("X-B3-ParentSpanId") != "e457b5a2e4d86bd1" || up.Get("X-B3-Sampled") != "0" {
		t.Errorf("b3 headers %v", up)
	}
}

func TestExtractInjectClear(t *testing.T) {
	p := instance(t, `{"traces_endpoint":"http://collector:4318/v1/traces","propagation":{"extract":["b3"],"inject":["w3c","jaeger","datadog","aws","gcp","ot"],"clear":["ot-tracer-baggage-x"]}}`)
	in := "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
	up, _ := run(p, map[string]string{"b3": in, "ot-tracer-baggage-x": "y"})
	if up.Get("b3") != in {
		t.Errorf("the incoming b3 header changed: %q", up.Get("b3"))
	}
	if up.Get("ot-tracer-baggage-x") != "" {
		t.Error("a cleared header reached the upstream")
	}
	m := traceparentOut.FindStringSubmatch(up.Get("traceparent"))
	if m == nil || m[1] != "80f198ee56343ba864fe8b2a57d3eff7" {
		t.Fatalf("traceparent %q", up.Get("traceparent"))
	}
	span := m[2]
	want := map[string]string{
		"uber-trace-id":               "80f198ee56343ba864fe8b2a57d3eff7:" + span + ":e457b5a2e4d86bd1:00",
		"X-Amzn-Trace-Id":             "Root=1-80f198ee-56343ba864fe8b2a57d3eff7;Parent=" + span + ";Sampled=0",
		"X-Datadog-Sampling-Priority": "0",
		"Ot-Tracer-Traceid":           "80f198ee56343ba864fe8b2a57d3eff7",
		"Ot-Tracer-Spanid":            span,
	}
	for k, v := range want {
		if up.Get(k) != v {
			t.Errorf("%s = %q; want %q", k, up.Get(k), v)
		}
	}
	if dd := up.Get("X-Datadog-Trace-Id"); dd != "7277407061855694839" { // 0x64fe8b2a57d3eff7
		t.Errorf("X-Datadog-Trace-Id %q", dd)
	}
	if g := up.Get("X-Cloud-Trace-Context"); !strings.HasPrefix(g, "80f198ee56343ba864fe8b2a57d3eff7/") || !strings.HasSuffix(g, ";o=0") {
		t.Errorf("X-Cloud-Trace-Context %q", g)
	}
}

func TestExtractFormats(t *testing.T) {
	p := instance(t, `{"traces_endpoint":"http://collector:4318/v1/traces","propagation":{"inject":["w3c"]}}`)
	for name, hdr := range map[string]map[string]string{
		"jaeger":  {"uber-trace-id": inTrace + ":" + inSpan + ":0:1"},
		"datadog": {"X-Datadog-Trace-Id": "11803532876627986230", "X-Datadog-Parent-Id": "67667974448284343"},
		"aws":     {"X-Amzn-Trace-Id": "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=" + inSpan + ";Sampled=1"},
		"gcp":     {"X-Cloud-Trace-Context": inTrace + "/67667974448284343;o=1"},
		"ot":      {"Ot-Tracer-Traceid": inTrace, "Ot-Tracer-Spanid": inSpan, "Ot-Tracer-Sampled": "true"},
	} {
		p.prop.Extract = []string{"b3", "w3c", "jaeger", "ot", "datadog", "aws", "gcp"}
		up, _ := run(p, hdr)
		m := traceparentOut.FindStringSubmatch(up.Get("traceparent"))
		wantTrace := inTrace
		if name == "datadog" {
			wantTrace = "0000000000000000a3ce929d0e0e4736"
		}
		if m == nil || m[1] != wantTrace {
			t.Errorf("%s: traceparent %q; want trace %s", name, up.Get("traceparent"), wantTrace)
		}
	}
}

func TestNoTracesEndpoint(t *testing.T) {
	p := instance(t, `{"logs_endpoint":"http://collector:4318/v1/logs"}`)
	if up, _ := run(p, nil); up.Get("traceparent") != "" {
		t.Error("trace context injected without a traces endpoint")
	}
}

func TestSchema(t *testing.T) {
	for _, cfg := range []string{`{}`, `{"traces_endpoint":"collector"}`, `{"traces_endpoint":"http://c","propagation":{"inject":["zipkin"]}}`,
		`{"traces_endpoint":"http://c","sampling_rate":2}`} {
		var in map[string]any
		_ = json.Unmarshal([]byte(cfg), &in)
		if _, serr := Schema.Process(in, nil); serr == nil {
			t.Errorf("%s accepted", cfg)
		}
	}
	rec, serr := Schema.Process(map[string]any{"endpoint": "http://c:4318/v1/traces"}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	if pr, _ := rec["propagation"].(map[string]any); pr["default_format"] != "w3c" || rec["header_type"] != "preserve" {
		t.Errorf("defaults %v", rec)
	}
}

func TestThroughProxy(t *testing.T) {
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: `{"traces_endpoint":"http://127.0.0.1:9/v1/traces"}`})
	_, body := g.Do(t, "GET", "/", map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"}, "")
	e := proxytest.DecodeEcho(t, body)
	if m := traceparentOut.FindStringSubmatch(e.Headers.Get("traceparent")); m == nil || m[1] != inTrace {
		t.Errorf("upstream traceparent %q", e.Headers.Get("traceparent"))
	}
}

// FuzzExtract: any incoming trace headers give a context with ids of the
// right sizes, or none, and the injection that follows does not panic.
func FuzzExtract(f *testing.F) {
	f.Add("00-"+inTrace+"-"+inSpan+"-01", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", inTrace+":"+inSpan+":0:1", "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=1;Sampled=1")
	f.Fuzz(func(t *testing.T, w3c, b3, jaeger, aws string) {
		h := http.Header{}
		h.Set("traceparent", w3c)
		h.Set("b3", b3)
		h.Set("uber-trace-id", jaeger)
		h.Set("X-Amzn-Trace-Id", aws)
		h.Set("X-Cloud-Trace-Context", b3)
		h.Set("X-Datadog-Trace-Id", jaeger)
		h.Set("X-Datadog-Parent-Id", aws)
		for _, f := range []string{"b3", "w3c", "jaeger", "ot", "datadog", "aws", "gcp"} {
			tc := plugin.ExtractTrace(h, []string{f})
			if tc == nil {
				continue
			}
			if tc.TraceID != nil && len(tc.TraceID) != 8 && len(tc.TraceID) != 16 || tc.SpanID != nil && len(tc.SpanID) != 8 {
				t.Fatalf("%s: ids of %d and %d bytes", f, len(tc.TraceID), len(tc.SpanID))
			}
			trace := tc.TraceID
			if trace == nil {
				trace = make([]byte, 16)
			}
			for _, out := range plugin.TraceFormats {
				plugin.InjectTrace(http.Header{}, out.(string), trace, make([]byte, 8), tc.ParentID, false, tc)
			}
		}
	})
}

// collector is an OTLP/HTTP traces endpoint: it decodes each export (the
// wire format of ExportTraceServiceRequest is TracesData's) and hands
// over the request's headers and the data.
type export struct {
	header http.Header
	data   *tracepb.TracesData
}

func collector(t *testing.T) (string, chan export) {
	t.Helper()
	got := make(chan export, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var td tracepb.TracesData
		if err := proto.Unmarshal(b, &td); err != nil {
			t.Errorf("export is not OTLP protobuf: %v", err)
			w.WriteHeader(400)
			return
		}
		got <- export{r.Header.Clone(), &td}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1/traces", got
}

func withTracing(t *testing.T, instr ...string) {
	t.Helper()
	saved := plugin.Tracing()
	plugin.SetTracing(plugin.TracingSettings{Instrumentations: instr, SamplingRate: 1})
	t.Cleanup(func() { plugin.SetTracing(saved) })
}

func TestRequestSpanExport(t *testing.T) {
	withTracing(t, "request")
	url, got := collector(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: `{"traces_endpoint":"` + url + `",
		"headers":{"X-Auth":"k"},"resource_attributes":{"deployment.environment":"test"}}`})
	res, body := g.Do(t, "GET", "/x?y=1", map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"}, "")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	up := proxytest.DecodeEcho(t, body).Headers.Get("traceparent")
	m := regexp.MustCompile(`^00-` + inTrace + `-([0-9a-f]{16})-01$`).FindStringSubmatch(up)
	if m == nil {
		t.Fatalf("upstream traceparent %q; want the trace, sampled", up)
	}
	var e export
	select {
	case e = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no export reached the collector")
	}
	if e.header.Get("Content-Type") != "application/x-protobuf" || e.header.Get("X-Auth") != "k" {
		t.Errorf("export headers %v", e.header)
	}
	rs := e.data.ResourceSpans
	if len(rs) != 1 || len(rs[0].ScopeSpans) != 1 || len(rs[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("export %v", e.data)
	}
	res0 := map[string]string{}
	for _, kv := range rs[0].Resource.Attributes {
		res0[kv.Key] = kv.Value.GetStringValue()
	}
	if res0["service.name"] != "kong" || res0["deployment.environment"] != "test" || res0["service.version"] == "" {
		t.Errorf("resource %v", res0)
	}
	if sc := rs[0].ScopeSpans[0].Scope; sc.Name != "kong-internal" {
		t.Errorf("scope %v", sc)
	}
	sp := rs[0].ScopeSpans[0].Spans[0]
	if sp.Name != "kong" || sp.Kind != tracepb.Span_SPAN_KIND_SERVER || hex.EncodeToString(sp.TraceId) != inTrace ||
		hex.EncodeToString(sp.ParentSpanId) != inSpan || hex.EncodeToString(sp.SpanId) != m[1] || sp.EndTimeUnixNano < sp.StartTimeUnixNano {
		t.Errorf("span %v", sp)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range sp.Attributes {
		attrs[kv.Key] = kv.Value
	}
	if attrs["http.method"].GetStringValue() != "GET" || attrs["http.status_code"].GetIntValue() != 200 ||
		!strings.HasSuffix(attrs["http.url"].GetStringValue(), "/x?y=1") || attrs["http.route"].GetStringValue() != "/" ||
		attrs["http.flavor"].GetStringValue() != "1.1" || attrs["kong.request.id"].GetStringValue() == "" {
		t.Errorf("attributes %v", sp.Attributes)
	}
}

// An unsampled parent, or a sampling rate of 0, exports nothing and
// passes the decision on.
func TestNotSampled(t *testing.T) {
	withTracing(t, "all")
	url, got := collector(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: `{"traces_endpoint":"` + url + `","sampling_rate":0}`})
	_, body := g.Do(t, "GET", "/", map[string]string{"traceparent": "00-" + inTrace + "-" + inSpan + "-01"}, "")
	if up := proxytest.DecodeEcho(t, body).Headers.Get("traceparent"); !strings.HasSuffix(up, "-00") {
		t.Errorf("upstream traceparent %q; want not sampled", up)
	}
	select {
	case e := <-got:
		t.Errorf("an unsampled request was exported: %v", e.data)
	case <-time.After(300 * time.Millisecond):
	}
}

// Kong's sampler reads the trace id's first 8 bytes little-endian (its
// spec's pair at rate 0.5).
func TestSampler(t *testing.T) {
	yes, _ := hex.DecodeString("92a54b3e1a7c4f2da9e44b8a6f3e1dab")
	no, _ := hex.DecodeString("4bf92f3577b34da6a3ce929d0e0e4736")
	if !sample(yes, 0.5) || sample(no, 0.5) {
		t.Errorf("sample at 0.5: %v, %v; want true, false", sample(yes, 0.5), sample(no, 0.5))
	}
}

// With the balancer instrumentation, each try is a kong.balancer span
// under the request span, and its id is the parent the upstream sees.
func TestBalancerSpans(t *testing.T) {
	withTracing(t, "request", "balancer")
	url, got := collector(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{Name: `{"traces_endpoint":"` + url + `"}`})
	_, body := g.Do(t, "GET", "/", nil, "")
	up := proxytest.DecodeEcho(t, body).Headers.Get("traceparent")
	m := regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`).FindStringSubmatch(up)
	if m == nil {
		t.Fatalf("upstream traceparent %q", up)
	}
	var e export
	select {
	case e = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no export")
	}
	spans := e.data.ResourceSpans[0].ScopeSpans[0].Spans
	if len(spans) != 2 || spans[0].Name != "kong" || spans[1].Name != "kong.balancer" {
		t.Fatalf("spans %v", spans)
	}
	root, bal := spans[0], spans[1]
	if hex.EncodeToString(bal.SpanId) != m[2] || !bytes.Equal(bal.ParentSpanId, root.SpanId) || len(root.ParentSpanId) != 0 ||
		bal.Kind != tracepb.Span_SPAN_KIND_CLIENT || hex.EncodeToString(root.TraceId) != m[1] || bal.EndTimeUnixNano < bal.StartTimeUnixNano {
		t.Errorf("request span %v, balancer span %v", root, bal)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range bal.Attributes {
		attrs[kv.Key] = kv.Value
	}
	if attrs["try_count"].GetIntValue() != 1 || attrs["net.peer.ip"].GetStringValue() != "127.0.0.1" || attrs["net.peer.port"].GetIntValue() == 0 {
		t.Errorf("balancer attributes %v", bal.Attributes)
	}
	if bal.Status != nil && bal.Status.Code == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("the answering try is marked an error")
	}
}

// TestLegacyEndpoint: a config stored by an earlier sluice, where endpoint
// was a plain field, still traces to it.
func TestLegacyEndpoint(t *testing.T) {
	rec, serr := Schema.Process(map[string]any{"traces_endpoint": "http://collector:4318/v1/traces"}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	rec["endpoint"], rec["traces_endpoint"] = "http://legacy:4318/v1/traces", nil
	impl, err := New(rec, plugin.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if p := impl.(*OTel); !p.tracing || p.endpoint != "http://legacy:4318/v1/traces" && p.endpoint != "" {
		t.Errorf("tracing %v endpoint %q; want the legacy endpoint", p.tracing, p.endpoint)
	}
	// As a shorthand it fills traces_endpoint, and is not stored.
	rec, serr = Schema.Process(map[string]any{"endpoint": "http://e:4318/v1/traces"}, nil)
	if serr != nil || rec["traces_endpoint"] != "http://e:4318/v1/traces" {
		t.Errorf("endpoint shorthand: %v %v", rec, serr)
	}
	if _, ok := rec["endpoint"]; ok {
		t.Error("endpoint is kept in the processed config")
	}
}
