package opentelemetry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
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
		p.extract = legacyExtract
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
		for _, f := range legacyExtract {
			tc := extract(h, []string{f})
			if tc == nil {
				continue
			}
			if tc.traceID != nil && len(tc.traceID) != 8 && len(tc.traceID) != 16 || tc.spanID != nil && len(tc.spanID) != 8 {
				t.Fatalf("%s: ids of %d and %d bytes", f, len(tc.traceID), len(tc.spanID))
			}
			trace := tc.traceID
			if trace == nil {
				trace = make([]byte, 16)
			}
			for _, out := range formats {
				inject(http.Header{}, out.(string), trace, make([]byte, 8), tc.parentID, false, tc)
			}
		}
	})
}
