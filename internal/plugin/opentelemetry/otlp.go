package opentelemetry

import (
	"encoding/binary"
	"math"
)

// The OTLP trace export, encoded by hand in protobuf's wire format
// (opentelemetry-proto's collector/trace/v1 ExportTraceServiceRequest and
// trace/v1 messages): the few fields sluice fills do not warrant a
// generated codec.

// span is one finished span.
type span struct {
	traceID    []byte // 16 bytes
	spanID     []byte // 8 bytes
	parentID   []byte // 8 bytes, or none
	name       string
	kind       int // SpanKind: 2 server, 3 client
	start, end int64
	attrs      []attr
	status     int // StatusCode: 0 unset, 2 error
}

// attr is an attribute: its value a string, an int64 or a bool.
type attr struct {
	key string
	val any
}

type pb []byte

func (b pb) tag(field, wire int) pb { return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire)) }

func (b pb) varint(field int, v uint64) pb { return binary.AppendUvarint(b.tag(field, 0), v) }

func (b pb) fixed64(field int, v uint64) pb {
	return binary.LittleEndian.AppendUint64(b.tag(field, 1), v)
}

func (b pb) bytes(field int, v []byte) pb {
	return append(binary.AppendUvarint(b.tag(field, 2), uint64(len(v))), v...)
}

func (b pb) str(field int, v string) pb {
	return append(binary.AppendUvarint(b.tag(field, 2), uint64(len(v))), v...)
}

func (b pb) msg(field int, f func(pb) pb) pb { return b.bytes(field, f(nil)) }

// keyValue is a KeyValue: key (1) and an AnyValue (2).
func keyValue(a attr) func(pb) pb {
	return func(b pb) pb {
		return b.str(1, a.key).msg(2, func(v pb) pb {
			switch t := a.val.(type) {
			case string:
				return v.str(1, t)
			case bool:
				if t {
					return v.varint(2, 1)
				}
				return v.varint(2, 0)
			case int:
				return v.varint(3, uint64(int64(t)))
			case int64:
				return v.varint(3, uint64(t))
			case float64:
				return v.fixed64(4, math.Float64bits(t))
			}
			return v
		})
	}
}

// exportRequest is an ExportTraceServiceRequest with one ResourceSpans
// (the resource's attributes) holding one ScopeSpans (Kong's scope).
func exportRequest(resource []attr, spans []span) []byte {
	return pb(nil).msg(1, func(rs pb) pb {
		rs = rs.msg(1, func(r pb) pb {
			for _, a := range resource {
				r = r.msg(1, keyValue(a))
			}
			return r
		})
		return rs.msg(2, func(ss pb) pb {
			ss = ss.msg(1, func(sc pb) pb { return sc.str(1, "kong-internal").str(2, "0.1.0") })
			for i := range spans {
				ss = ss.msg(2, spans[i].encode)
			}
			return ss
		})
	})
}

func (s *span) encode(b pb) pb {
	b = b.bytes(1, s.traceID).bytes(2, s.spanID)
	if len(s.parentID) > 0 {
		b = b.bytes(4, s.parentID)
	}
	b = b.str(5, s.name).varint(6, uint64(s.kind))
	b = b.fixed64(7, uint64(s.start)).fixed64(8, uint64(s.end))
	for _, a := range s.attrs {
		b = b.msg(9, keyValue(a))
	}
	if s.status != 0 {
		b = b.msg(15, func(st pb) pb { return st.varint(3, uint64(s.status)) })
	}
	return b
}
