package grpcjson

import (
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// AppendJSON decodes a message of type md from its wire form and appends
// it as JSON, as Kong writes it: proto field names in declaration order;
// a field without presence (a proto3 scalar, repeated, map) always, with
// its default when unset; one with presence (message, oneof member,
// optional) only when set.
func AppendJSON(dst []byte, md protoreflect.MessageDescriptor, wire []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true}).Unmarshal(wire, msg); err != nil {
		return dst, err
	}
	return appendMessage(dst, msg), nil
}

func appendMessage(dst []byte, msg protoreflect.Message) []byte {
	md := msg.Descriptor()
	if isTimestamp(md) {
		secs := msg.Get(md.Fields().ByName("seconds")).Int()
		return appendString(dst, time.Unix(secs, 0).UTC().Format("2006-01-02T15:04:05"))
	}
	dst = append(dst, '{')
	first := true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.HasPresence() && !msg.Has(fd) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, string(fd.Name()))
		dst = append(dst, ':')
		dst = appendField(dst, fd, msg.Get(fd))
	}
	return append(dst, '}')
}

func appendField(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch {
	case fd.IsList():
		l := v.List()
		dst = append(dst, '[')
		for i := range l.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, fd, l.Get(i))
		}
		return append(dst, ']')
	case fd.IsMap():
		m := v.Map()
		keys := make([]protoreflect.MapKey, 0, m.Len())
		m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys = append(keys, k)
			return true
		})
		slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
			if a.String() < b.String() {
				return -1
			}
			if a.String() > b.String() {
				return 1
			}
			return 0
		})
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k.String())
			dst = append(dst, ':')
			dst = appendValue(dst, fd.MapValue(), m.Get(k))
		}
		return append(dst, '}')
	}
	return appendValue(dst, fd, v)
}

func appendValue(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(dst, v.Message())
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, v.Bool())
	case protoreflect.StringKind:
		return appendString(dst, v.String())
	case protoreflect.BytesKind:
		return appendString(dst, string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(dst, string(ev.Name()))
		}
		return appendNumber(dst, float64(v.Enum()))
	case protoreflect.FloatKind:
		return appendNumber(dst, float64(float32(v.Float())))
	case protoreflect.DoubleKind:
		return appendNumber(dst, v.Float())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return appendNumber(dst, float64(v.Uint()))
	default:
		return appendNumber(dst, float64(v.Int()))
	}
}

// appendNumber writes a number as cjson does (%.14g; NaN and infinities,
// which cjson refuses, as null).
func appendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 14, 64)
}

// appendString writes s as cjson does: quote, backslash and slash
// escaped, control characters and DEL as \uXXXX (or their short forms),
// other bytes as they are.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '/':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
