package plugin

import (
	"sluice/internal/model"

	"encoding/binary"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// TraceContext is what a request's headers say of its trace, read by
// ExtractTrace in one of the formats Kong's tracing plugins propagate.
type TraceContext struct {
	TraceID  []byte // 8 or 16 bytes
	SpanID   []byte // 8 bytes
	ParentID []byte // 8 bytes, when the format carries it
	Sampled  *bool
	Flags    string // B3's x-b3-flags, kept as written
	Format   string // the format it was read in
	Single   bool   // B3 from the single b3 header
}

func unhexTrace(s string, sizes ...int) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	for _, n := range sizes {
		if len(b) == n {
			return b
		}
	}
	return nil
}

func zeroID(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func boolPtr(v bool) *bool { return &v }

var traceparentRE = regexp.MustCompile(`^([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)$`)

// ExtractTrace reads the first of formats ("w3c", "b3", "jaeger", "ot",
// "datadog", "aws", "gcp") found in h; nil when none is.
func ExtractTrace(h http.Header, formats []string) *TraceContext {
	for _, f := range formats {
		var tc *TraceContext
		switch f {
		case "w3c":
			tc = extractW3C(h.Get("traceparent"))
		case "b3":
			tc = extractB3(h)
		case "jaeger":
			tc = extractJaeger(h.Get("uber-trace-id"))
		case "ot":
			tc = extractOT(h)
		case "datadog":
			tc = extractDatadog(h)
		case "aws":
			tc = extractAWS(h.Get("X-Amzn-Trace-Id"))
		case "gcp":
			tc = extractGCP(h.Get("X-Cloud-Trace-Context"))
		}
		if tc != nil {
			tc.Format = f
			return tc
		}
	}
	return nil
}

func extractW3C(v string) *TraceContext {
	m := traceparentRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil || m[1] != "00" || len(m[2]) != 32 || len(m[3]) != 16 || len(m[4]) != 2 {
		return nil
	}
	trace, span := unhexTrace(m[2], 16), unhexTrace(m[3], 8)
	flags, err := strconv.ParseUint(m[4], 16, 8)
	if trace == nil || span == nil || zeroID(trace) || zeroID(span) || err != nil {
		return nil
	}
	return &TraceContext{TraceID: trace, SpanID: span, Sampled: boolPtr(flags&1 == 1)}
}

func extractB3(h http.Header) *TraceContext {
	if v := h.Get("b3"); v != "" {
		parts := strings.Split(v, "-")
		tc := &TraceContext{Single: true}
		if len(parts) == 1 { // sampling only
			switch parts[0] {
			case "1", "d":
				tc.Sampled = boolPtr(true)
			case "0":
				tc.Sampled = boolPtr(false)
			default:
				return nil
			}
			return tc
		}
		tc.TraceID, tc.SpanID = unhexTrace(parts[0], 8, 16), unhexTrace(parts[1], 8)
		if tc.TraceID == nil || tc.SpanID == nil {
			return nil
		}
		if len(parts) > 2 {
			switch parts[2] {
			case "1", "d":
				tc.Sampled = boolPtr(true)
			case "0":
				tc.Sampled = boolPtr(false)
			}
		}
		if len(parts) > 3 {
			tc.ParentID = unhexTrace(parts[3], 8)
		}
		return tc
	}
	trace, span := h.Get("X-B3-TraceId"), h.Get("X-B3-SpanId")
	sampled, flags := h.Get("X-B3-Sampled"), h.Get("X-B3-Flags")
	if trace == "" && span == "" && sampled == "" && flags == "" {
		return nil
	}
	tc := &TraceContext{Flags: flags}
	if trace != "" || span != "" {
		tc.TraceID, tc.SpanID = unhexTrace(trace, 8, 16), unhexTrace(span, 8)
		if tc.TraceID == nil || tc.SpanID == nil {
			return nil
		}
		tc.ParentID = unhexTrace(h.Get("X-B3-ParentSpanId"), 8)
	}
	switch {
	case flags == "1":
		tc.Sampled = boolPtr(true)
	case sampled == "1" || sampled == "true":
		tc.Sampled = boolPtr(true)
	case sampled == "0" || sampled == "false":
		tc.Sampled = boolPtr(false)
	}
	return tc
}

func extractJaeger(v string) *TraceContext {
	parts := strings.Split(v, ":")
	if len(parts) != 4 {
		return nil
	}
	trace := unhexTrace(leftPad(parts[0], 32), 16)
	span := unhexTrace(leftPad(parts[1], 16), 8)
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if trace == nil || span == nil || err != nil {
		return nil
	}
	tc := &TraceContext{TraceID: trace, SpanID: span, Sampled: boolPtr(flags&1 == 1)}
	if parts[2] != "0" {
		tc.ParentID = unhexTrace(leftPad(parts[2], 16), 8)
	}
	return tc
}

func leftPad(s string, n int) string {
	if len(s) < n {
		return strings.Repeat("0", n-len(s)) + s
	}
	return s
}

func extractOT(h http.Header) *TraceContext {
	trace, span := h.Get("Ot-Tracer-Traceid"), h.Get("Ot-Tracer-Spanid")
	if trace == "" || span == "" {
		return nil
	}
	tc := &TraceContext{TraceID: unhexTrace(trace, 8, 16), SpanID: unhexTrace(span, 8)}
	if tc.TraceID == nil || tc.SpanID == nil {
		return nil
	}
	switch h.Get("Ot-Tracer-Sampled") {
	case "1", "true":
		tc.Sampled = boolPtr(true)
	case "0", "false":
		tc.Sampled = boolPtr(false)
	}
	return tc
}

func decimal8(s string) []byte {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, n)
}

func extractDatadog(h http.Header) *TraceContext {
	trace, span := decimal8(h.Get("X-Datadog-Trace-Id")), decimal8(h.Get("X-Datadog-Parent-Id"))
	if trace == nil || span == nil {
		return nil
	}
	tc := &TraceContext{TraceID: trace, SpanID: span}
	if p := h.Get("X-Datadog-Sampling-Priority"); p != "" {
		n, err := strconv.Atoi(p)
		tc.Sampled = boolPtr(err == nil && n > 0)
	}
	return tc
}

func extractAWS(v string) *TraceContext {
	if v == "" {
		return nil
	}
	tc := &TraceContext{}
	for _, kv := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "Root":
			p := strings.Split(val, "-")
			if len(p) != 3 || p[0] != "1" || len(p[1]) != 8 || len(p[2]) != 24 {
				return nil
			}
			tc.TraceID = unhexTrace(p[1]+p[2], 16)
		case "Parent":
			tc.SpanID = unhexTrace(val, 8)
		case "Sampled":
			tc.Sampled = boolPtr(val == "1")
		}
	}
	if tc.TraceID == nil || tc.SpanID == nil {
		return nil
	}
	return tc
}

func extractGCP(v string) *TraceContext {
	trace, rest, ok := strings.Cut(v, "/")
	if !ok {
		return nil
	}
	span, opts, _ := strings.Cut(rest, ";")
	tc := &TraceContext{TraceID: unhexTrace(trace, 16), SpanID: decimal8(span)}
	if tc.TraceID == nil || tc.SpanID == nil {
		return nil
	}
	tc.Sampled = boolPtr(opts == "o=1")
	return tc
}

// InjectTrace writes the trace context of this hop (trace, its span, its
// parent, the sampling decision) in format (ExtractTrace's, or
// "b3-single"); tc, the incoming context, may carry B3 flags to keep.
func InjectTrace(h http.Header, format string, trace, span, parent []byte, sampled bool, tc *TraceContext) {
	hx := hex.EncodeToString
	flag01, flag10 := "00", "0"
	if sampled {
		flag01, flag10 = "01", "1"
	}
	trace16 := trace
	if len(trace16) == 8 {
		trace16 = append(make([]byte, 8), trace...)
	}
	switch format {
	case "w3c":
		h.Set("traceparent", "00-"+hx(trace16)+"-"+hx(span)+"-"+flag01)
	case "b3":
		h.Set("X-B3-TraceId", hx(trace)) // an incoming 8-byte id keeps its size
		h.Set("X-B3-SpanId", hx(span))
		if len(parent) > 0 {
			h.Set("X-B3-ParentSpanId", hx(parent))
		}
		if tc != nil && tc.Flags != "" {
			h.Set("X-B3-Flags", tc.Flags)
			h.Del("X-B3-Sampled")
		} else {
			h.Set("X-B3-Sampled", flag10)
		}
	case "b3-single":
		v := hx(trace) + "-" + hx(span) + "-" + flag10
		if tc != nil && tc.Flags == "1" {
			v = hx(trace) + "-" + hx(span) + "-d"
		}
		if len(parent) > 0 {
			v += "-" + hx(parent)
		}
		h.Set("b3", v)
	case "jaeger":
		p := "0"
		if len(parent) > 0 {
			p = hx(parent)
		}
		h.Set("uber-trace-id", hx(trace16)+":"+hx(span)+":"+p+":"+flag01)
	case "ot":
		h.Set("Ot-Tracer-Traceid", hx(trace))
		h.Set("Ot-Tracer-Spanid", hx(span))
		h.Set("Ot-Tracer-Sampled", flag10)
	case "datadog":
		h.Set("X-Datadog-Trace-Id", strconv.FormatUint(binary.BigEndian.Uint64(trace16[8:]), 10))
		h.Set("X-Datadog-Parent-Id", strconv.FormatUint(binary.BigEndian.Uint64(span), 10))
		h.Set("X-Datadog-Sampling-Priority", flag10)
	case "aws":
		t := hx(trace16)
		h.Set("X-Amzn-Trace-Id", "Root=1-"+t[:8]+"-"+t[8:]+";Parent="+hx(span)+";Sampled="+flag10)
	case "gcp":
		h.Set("X-Cloud-Trace-Context", hx(trace16)+"/"+strconv.FormatUint(binary.BigEndian.Uint64(span), 10)+";o="+flag10)
	}
}

// legacyExtract is what header_type "preserve" (and the other legacy
// values but "ignore") reads: every format, in Kong's order.
var legacyExtract = []string{"b3", "w3c", "jaeger", "ot", "datadog", "aws", "gcp"}

// Propagation is a tracing plugin's propagation settings (Kong's
// propagation record, or the deprecated header_type it replaces).
type Propagation struct {
	Extract, Inject, Clear []string
	DefaultFormat          string
}

// NewPropagation resolves Kong's settings: propagation.extract, inject and
// clear when any is set; otherwise the deprecated header_type decides
// (Kong's get_plugin_params): "ignore" reads nothing and writes the
// default format, "preserve" reads every format and writes the incoming
// one, another format reads every format and writes the incoming one and
// that format.
func NewPropagation(headerType string, extract, inject, clear []string, defaultFormat string) Propagation {
	p := Propagation{DefaultFormat: defaultFormat, Clear: clear}
	if extract != nil || inject != nil || clear != nil {
		p.Extract, p.Inject = extract, inject
		return p
	}
	switch headerType {
	case "ignore":
		p.Inject = []string{defaultFormat}
	case "preserve", "":
		p.Extract, p.Inject = legacyExtract, []string{"preserve"}
	default:
		p.Extract, p.Inject = legacyExtract, []string{"preserve", headerType}
	}
	return p
}

// Read returns the incoming trace context and removes the headers in
// Clear.
func (p Propagation) Read(h http.Header) *TraceContext {
	tc := ExtractTrace(h, p.Extract)
	for _, name := range p.Clear {
		h.Del(name)
	}
	return tc
}

// Write injects this hop's context in each format of Inject; "preserve"
// is the incoming context's format (B3 single when it came so), else
// DefaultFormat.
func (p Propagation) Write(h http.Header, tc *TraceContext, trace, span, parent []byte, sampled bool) {
	for _, f := range p.Inject {
		if f == "preserve" {
			switch {
			case tc != nil && tc.Format == "b3" && tc.Single:
				f = "b3-single"
			case tc != nil && tc.Format != "":
				f = tc.Format
			default:
				f = p.DefaultFormat
			}
		}
		InjectTrace(h, f, trace, span, parent, sampled, tc)
	}
}

// TraceFormats are the formats Kong's tracing plugins inject.
var TraceFormats = []any{"b3", "b3-single", "w3c", "jaeger", "ot", "aws", "gcp", "datadog"}

// PropagationField is Kong's propagation record (typedefs.propagation) with
// a plugin's default format.
func PropagationField(defaultFormat string) *model.Field {
	return &model.Field{Name: "propagation", Type: model.TypeRecord, Default: map[string]any{"default_format": defaultFormat},
		Fields: []*model.Field{
			{Name: "extract", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString,
				OneOf: []any{"b3", "w3c", "jaeger", "ot", "datadog", "aws", "gcp"}}},
			{Name: "clear", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString}},
			{Name: "inject", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString,
				OneOf: append([]any{"preserve"}, TraceFormats...)}},
			{Name: "default_format", Type: model.TypeString, Required: true, Default: defaultFormat, OneOf: TraceFormats},
		}}
}

// PropagationConfig is the decoded propagation record.
type PropagationConfig struct {
	Extract       []string `json:"extract"`
	Clear         []string `json:"clear"`
	Inject        []string `json:"inject"`
	DefaultFormat string   `json:"default_format"`
}
