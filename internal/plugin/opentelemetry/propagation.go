package opentelemetry

import (
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// traceContext is what a request's headers say of its trace.
type traceContext struct {
	traceID  []byte // 8 or 16 bytes
	spanID   []byte // 8 bytes
	parentID []byte // 8 bytes, when the format carries it
	sampled  *bool
	flags    string // B3's x-b3-flags, kept as written
	format   string // the format it was read in
	single   bool   // B3 from the single b3 header
}

func unhex(s string, sizes ...int) []byte {
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

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func boolp(v bool) *bool { return &v }

var traceparentRE = regexp.MustCompile(`^([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)-([0-9a-fA-F]+)$`)

// extract reads the first format of formats found in h.
func extract(h http.Header, formats []string) *traceContext {
	for _, f := range formats {
		var tc *traceContext
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
			tc.format = f
			return tc
		}
	}
	return nil
}

func extractW3C(v string) *traceContext {
	m := traceparentRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil || m[1] != "00" || len(m[2]) != 32 || len(m[3]) != 16 || len(m[4]) != 2 {
		return nil
	}
	trace, span := unhex(m[2], 16), unhex(m[3], 8)
	flags, err := strconv.ParseUint(m[4], 16, 8)
	if trace == nil || span == nil || zero(trace) || zero(span) || err != nil {
		return nil
	}
	return &traceContext{traceID: trace, spanID: span, sampled: boolp(flags&1 == 1)}
}

func extractB3(h http.Header) *traceContext {
	if v := h.Get("b3"); v != "" {
		parts := strings.Split(v, "-")
		tc := &traceContext{single: true}
		if len(parts) == 1 { // sampling only
			switch parts[0] {
			case "1", "d":
				tc.sampled = boolp(true)
			case "0":
				tc.sampled = boolp(false)
			default:
				return nil
			}
			return tc
		}
		tc.traceID, tc.spanID = unhex(parts[0], 8, 16), unhex(parts[1], 8)
		if tc.traceID == nil || tc.spanID == nil {
			return nil
		}
		if len(parts) > 2 {
			switch parts[2] {
			case "1", "d":
				tc.sampled = boolp(true)
			case "0":
				tc.sampled = boolp(false)
			}
		}
		if len(parts) > 3 {
			tc.parentID = unhex(parts[3], 8)
		}
		return tc
	}
	trace, span := h.Get("X-B3-TraceId"), h.Get("X-B3-SpanId")
	sampled, flags := h.Get("X-B3-Sampled"), h.Get("X-B3-Flags")
	if trace == "" && span == "" && sampled == "" && flags == "" {
		return nil
	}
	tc := &traceContext{flags: flags}
	if trace != "" || span != "" {
		tc.traceID, tc.spanID = unhex(trace, 8, 16), unhex(span, 8)
		if tc.traceID == nil || tc.spanID == nil {
			return nil
		}
		tc.parentID = unhex(h.Get("X-B3-ParentSpanId"), 8)
	}
	switch {
	case flags == "1":
		tc.sampled = boolp(true)
	case sampled == "1" || sampled == "true":
		tc.sampled = boolp(true)
	case sampled == "0" || sampled == "false":
		tc.sampled = boolp(false)
	}
	return tc
}

func extractJaeger(v string) *traceContext {
	parts := strings.Split(v, ":")
	if len(parts) != 4 {
		return nil
	}
	trace := unhex(leftPad(parts[0], 32), 16)
	span := unhex(leftPad(parts[1], 16), 8)
	flags, err := strconv.ParseUint(parts[3], 16, 8)
	if trace == nil || span == nil || err != nil {
		return nil
	}
	tc := &traceContext{traceID: trace, spanID: span, sampled: boolp(flags&1 == 1)}
	if parts[2] != "0" {
		tc.parentID = unhex(leftPad(parts[2], 16), 8)
	}
	return tc
}

func leftPad(s string, n int) string {
	if len(s) < n {
		return strings.Repeat("0", n-len(s)) + s
	}
	return s
}

func extractOT(h http.Header) *traceContext {
	trace, span := h.Get("Ot-Tracer-Traceid"), h.Get("Ot-Tracer-Spanid")
	if trace == "" || span == "" {
		return nil
	}
	tc := &traceContext{traceID: unhex(trace, 8, 16), spanID: unhex(span, 8)}
	if tc.traceID == nil || tc.spanID == nil {
		return nil
	}
	switch h.Get("Ot-Tracer-Sampled") {
	case "1", "true":
		tc.sampled = boolp(true)
	case "0", "false":
		tc.sampled = boolp(false)
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

func extractDatadog(h http.Header) *traceContext {
	trace, span := decimal8(h.Get("X-Datadog-Trace-Id")), decimal8(h.Get("X-Datadog-Parent-Id"))
	if trace == nil || span == nil {
		return nil
	}
	tc := &traceContext{traceID: trace, spanID: span}
	if p := h.Get("X-Datadog-Sampling-Priority"); p != "" {
		n, err := strconv.Atoi(p)
		tc.sampled = boolp(err == nil && n > 0)
	}
	return tc
}

func extractAWS(v string) *traceContext {
	if v == "" {
		return nil
	}
	tc := &traceContext{}
	for _, kv := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "Root":
			p := strings.Split(val, "-")
			if len(p) != 3 || p[0] != "1" || len(p[1]) != 8 || len(p[2]) != 24 {
				return nil
			}
			tc.traceID = unhex(p[1]+p[2], 16)
		case "Parent":
			tc.spanID = unhex(val, 8)
		case "Sampled":
			tc.sampled = boolp(val == "1")
		}
	}
	if tc.traceID == nil || tc.spanID == nil {
		return nil
	}
	return tc
}

func extractGCP(v string) *traceContext {
	trace, rest, ok := strings.Cut(v, "/")
	if !ok {
		return nil
	}
	span, opts, _ := strings.Cut(rest, ";")
	tc := &traceContext{traceID: unhex(trace, 16), spanID: decimal8(span)}
	if tc.traceID == nil || tc.spanID == nil {
		return nil
	}
	tc.sampled = boolp(opts == "o=1")
	return tc
}

// inject writes the trace context of this hop (trace, its span, its
// parent, the sampling decision) in format.
func inject(h http.Header, format string, trace, span, parent []byte, sampled bool, tc *traceContext) {
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
		if tc != nil && tc.flags != "" {
			h.Set("X-B3-Flags", tc.flags)
			h.Del("X-B3-Sampled")
		} else {
			h.Set("X-B3-Sampled", flag10)
		}
	case "b3-single":
		v := hx(trace) + "-" + hx(span) + "-" + flag10
		if tc != nil && tc.flags == "1" {
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
