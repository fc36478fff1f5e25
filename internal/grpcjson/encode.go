package grpcjson

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// isTimestamp tells google.protobuf.Timestamp (by name and shape: a file
// may declare its own message of that name).
func isTimestamp(md protoreflect.MessageDescriptor) bool {
	if md.FullName() != "google.protobuf.Timestamp" {
		return false
	}
	s, n := md.Fields().ByName("seconds"), md.Fields().ByName("nanos")
	return s != nil && n != nil && s.Kind() == protoreflect.Int64Kind && n.Kind() == protoreflect.Int32Kind &&
		s.Cardinality() != protoreflect.Repeated && n.Cardinality() != protoreflect.Repeated
}

// Encode builds a message of type md from payload (decoded JSON, path
// variables and query arguments: strings, Number, bool, Null, []any and
// map[string]any) and returns its wire form. Keys that name no field are
// ignored; a value of the wrong type is an error, as it is for
// lua-protobuf's pb.encode.
func Encode(md protoreflect.MessageDescriptor, payload map[string]any) ([]byte, error) {
	msg := dynamicpb.NewMessage(md)
	if err := fill(msg, payload); err != nil {
		return nil, err
	}
	// lua-protobuf checks no proto2 required field.
	return proto.MarshalOptions{AllowPartial: true}.Marshal(msg)
}

// fill sets the fields obj names, in the message's field order (so that
// of two members of a oneof the later field wins, whatever the JSON's
// order).
func fill(msg protoreflect.Message, obj map[string]any) error {
	if len(obj) == 0 {
		return nil
	}
	fields := msg.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		v, ok := obj[string(fd.Name())]
		if !ok {
			continue
		}
		if err := setField(msg, fd, v); err != nil {
			return fmt.Errorf("%s: %w", fd.Name(), err)
		}
	}
	return nil
}

func setField(msg protoreflect.Message, fd protoreflect.FieldDescriptor, v any) error {
	switch {
	case fd.IsMap():
		obj, ok := asObject(v)
		if !ok {
			return errors.New("object expected")
		}
		m := msg.Mutable(fd).Map()
		for k, ev := range obj {
			key, err := scalar(fd.MapKey(), k)
			if err != nil {
				return err
			}
			val, err := element(m.NewValue, fd.MapValue(), ev)
			if err != nil {
				return err
			}
			m.Set(key.MapKey(), val)
		}
		return nil
	case fd.IsList():
		arr, ok := asArray(v)
		if !ok {
			if s, isStr := v.(string); isStr {
				arr = []any{s} // one query argument for a repeated field
			} else {
				return errors.New("array expected")
			}
		}
		l := msg.Mutable(fd).List()
		for _, ev := range arr {
			val, err := element(l.NewElement, fd, ev)
			if err != nil {
				return err
			}
			l.Append(val)
		}
		return nil
	}
	val, err := element(func() protoreflect.Value { return msg.NewField(fd) }, fd, v)
	if err != nil {
		return err
	}
	msg.Set(fd, val)
	return nil
}

// element converts one value of fd's type (a list element, a map value or
// a singular field); newMsg makes the message for message types.
func element(newMsg func() protoreflect.Value, fd protoreflect.FieldDescriptor, v any) (protoreflect.Value, error) {
	if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
		return scalar(fd, v)
	}
	if _, null := v.(Null); null {
		return protoreflect.Value{}, errors.New("unexpected null")
	}
	mv := newMsg()
	m := mv.Message()
	if isTimestamp(m.Descriptor()) {
		s, ok := v.(string)
		if !ok {
			return protoreflect.Value{}, fmt.Errorf("expected time string, got %s", luaType(v))
		}
		t, err := parseTime(s)
		if err != nil {
			return protoreflect.Value{}, err
		}
		fs := m.Descriptor().Fields()
		m.Set(fs.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(fs.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
		return mv, nil
	}
	obj, ok := asObject(v)
	if !ok {
		return protoreflect.Value{}, fmt.Errorf("table expected, got %s", luaType(v))
	}
	return mv, fill(m, obj)
}

// asObject accepts an object, or an empty array (Lua has one table type).
func asObject(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case []any:
		return nil, len(t) == 0
	}
	return nil, false
}

// asArray accepts an array, or an empty object.
func asArray(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case map[string]any:
		return nil, len(t) == 0
	}
	return nil, false
}

func luaType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case Number:
		return "number"
	case bool:
		return "boolean"
	case Null:
		return "userdata"
	}
	return "table"
}

// scalar converts a value for a field of scalar kind. Numbers may come as
// strings (query arguments); strings and bytes take only strings.
func scalar(fd protoreflect.FieldDescriptor, v any) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch t := v.(type) {
		case bool:
			return protoreflect.ValueOfBool(t), nil
		case string:
			// Kong's rule for query arguments: "0" and "false" are false.
			return protoreflect.ValueOfBool(t != "0" && t != "false"), nil
		case Number:
			return protoreflect.ValueOfBool(true), nil // Lua: any number is true
		}
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s), nil
		}
	case protoreflect.BytesKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfBytes([]byte(s)), nil
		}
	case protoreflect.EnumKind:
		switch t := v.(type) {
		case string:
			if ev := fd.Enum().Values().ByName(protoreflect.Name(t)); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number()), nil
			}
			if n, err := integer(t, 32, true); err == nil {
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
			}
			return protoreflect.Value{}, fmt.Errorf("unknown enum value %q", t)
		case Number:
			n, err := integer(string(t), 32, true)
			if err != nil {
				return protoreflect.Value{}, err
			}
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if s, ok := numeric(v); ok {
			f, err := parseFloat(s)
			if err != nil {
				return protoreflect.Value{}, err
			}
			if fd.Kind() == protoreflect.FloatKind {
				return protoreflect.ValueOfFloat32(float32(f)), nil
			}
			return protoreflect.ValueOfFloat64(f), nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if s, ok := numeric(v); ok {
			n, err := integer(s, 32, true)
			return protoreflect.ValueOfInt32(int32(n)), err
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if s, ok := numeric(v); ok {
			n, err := integer(s, 64, true)
			return protoreflect.ValueOfInt64(n), err
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if s, ok := numeric(v); ok {
			n, err := unsigned(s, 32)
			return protoreflect.ValueOfUint32(uint32(n)), err
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := numeric(v); ok {
			n, err := unsigned(s, 64)
			return protoreflect.ValueOfUint64(n), err
		}
	}
	return protoreflect.Value{}, fmt.Errorf("%s expected, got %s", kindName(fd), luaType(v))
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	}
	return "number"
}

func numeric(v any) (string, bool) {
	switch t := v.(type) {
	case Number:
		return string(t), true
	case string:
		return t, true
	}
	return "", false
}

// integer parses a whole number as strtod reads it (decimal, with
// leading zeros allowed, or 0x hex), or a number with a fraction or
// exponent that has an integral value.
func integer(s string, bits int, signed bool) (int64, error) {
	s = strings.TrimSpace(s)
	body, neg := strings.CutPrefix(s, "-")
	if !neg {
		body = strings.TrimPrefix(body, "+")
	}
	base := 10
	if len(body) > 2 && body[0] == '0' && (body[1]|0x20) == 'x' {
		base, body = 16, body[2:]
	}
	if neg {
		body = "-" + body
	}
	if n, err := strconv.ParseInt(body, base, bits); err == nil {
		return n, nil
	}
	f, err := parseFloat(s)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("integer expected, got %q", s)
	}
	lim := math.Ldexp(1, bits-1)
	if f < -lim || f >= lim {
		return 0, fmt.Errorf("integer %q out of range", s)
	}
	return int64(f), nil
}

// parseFloat reads a number as strtod does, hex integers included.
func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	body, neg := strings.CutPrefix(s, "-")
	if !neg {
		body = strings.TrimPrefix(body, "+")
	}
	if len(body) > 2 && body[0] == '0' && (body[1]|0x20) == 'x' {
		if u, err := strconv.ParseUint(body[2:], 16, 64); err == nil {
			if neg {
				return -float64(u), nil
			}
			return float64(u), nil
		}
	}
	return 0, fmt.Errorf("number expected, got %q", s)
}

func unsigned(s string, bits int) (uint64, error) {
	s = strings.TrimSpace(s)
	body := strings.TrimPrefix(s, "+")
	base := 10
	if len(body) > 2 && body[0] == '0' && (body[1]|0x20) == 'x' {
		base, body = 16, body[2:]
	}
	if n, err := strconv.ParseUint(body, base, bits); err == nil {
		return n, nil
	}
	n, err := integer(s, 64, true)
	if err != nil {
		return 0, err
	}
	if n < 0 || (bits == 32 && n > math.MaxUint32) {
		return 0, fmt.Errorf("unsigned integer %q out of range", s)
	}
	return uint64(n), nil
}

// parseTime reads the ISO 8601 forms a Timestamp is written in: a date,
// "T" or a space, a time with optional fraction, and an optional zone
// (UTC when absent).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time string %q", s)
}
