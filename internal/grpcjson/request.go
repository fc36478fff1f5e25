package grpcjson

import (
	"encoding/binary"
	"errors"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Errors of Request, worded as Kong's deco.lua words them.
var (
	ErrBodyNotTable = errors.New("body must be a table")
	ErrEncode       = errors.New("failed to encode payload")
)

// Request builds the gRPC request body (one frame) for a call matched by
// r: the path variables, then either the JSON body (placed as the rule's
// body field says) or, for a rule without a body field, the query
// arguments (ParseQuery; "a.b=1" sets field b of message field a;
// arguments naming no field are dropped). The error text is what Kong
// answers with a 400.
func (r *Rule) Request(vars map[string]string, query map[string]any, body []byte) ([]byte, error) {
	payload := make(map[string]any, len(vars))
	for k, v := range vars {
		setPath(payload, k, v)
	}
	if r.Body != "" {
		if len(body) > 0 {
			decoded, err := DecodeJSON(body)
			if err != nil {
				return nil, errors.New("decode json err: " + err.Error())
			}
			if r.Body != "*" {
				payload[r.Body] = decoded
			} else if obj, ok := decoded.(map[string]any); ok {
				for k, v := range obj {
					payload[k] = v
				}
			} else if _, ok := decoded.([]any); !ok {
				return nil, ErrBodyNotTable
			}
		}
	} else {
		// Shorter paths first: "a" is set before "a.b" would need it.
		keys := make([]string, 0, len(query))
		for k := range query {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			setQuery(payload, r.Method.Input, k, query[k])
		}
	}
	msg, err := Encode(r.Method.Input, payload)
	if err != nil {
		return nil, ErrEncode
	}
	return Frame(nil, msg), nil
}

// maxQueryArgs is how many arguments ParseQuery reads (Kong's
// lua_max_uri_args).
const maxQueryArgs = 1000

// ParseQuery reads a query string as ngx.req.get_uri_args does: "k=v"
// gives a string (percent- and "+"-decoded), a bare "k" gives true, a
// repeated key a []any of its values in order; empty keys are skipped.
func ParseQuery(raw string) map[string]any {
	out := map[string]any{}
	n := 0
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if n++; n > maxQueryArgs {
			break
		}
		k, v, hasValue := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if key == "" {
			continue
		}
		var val any = true
		if hasValue {
			s, err := url.QueryUnescape(v)
			if err != nil {
				s = v
			}
			val = s
		}
		switch prev := out[key].(type) {
		case nil:
			out[key] = val
		case []any:
			out[key] = append(prev, val)
		default:
			out[key] = []any{prev, val}
		}
	}
	return out
}

// setPath sets payload[a][b][c] = v for the path "a.b.c".
func setPath(payload map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	t := payload
	for _, k := range keys[:len(keys)-1] {
		next, ok := t[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			t[k] = next
		}
		t = next
	}
	t[keys[len(keys)-1]] = v
}

// setQuery is setPath for a query argument: every key of the path must
// name a field (all but the last of message type), else the argument is
// dropped.
func setQuery(payload map[string]any, md protoreflect.MessageDescriptor, path string, v any) {
	keys := strings.Split(path, ".")
	for i, k := range keys {
		if k == "" || md == nil {
			return
		}
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			return
		}
		if i < len(keys)-1 {
			md = fd.Message()
		}
	}
	setPath(payload, path, v)
}

// Frame appends a gRPC message frame (uncompressed) holding msg.
func Frame(dst, msg []byte) []byte {
	var h [5]byte
	binary.BigEndian.PutUint32(h[1:], uint32(len(msg)))
	return append(append(dst, h[:]...), msg...)
}

// NextFrame splits the first whole frame off b: its message and the rest.
// ok is false when b does not yet hold a whole frame.
func NextFrame(b []byte) (msg, rest []byte, ok bool) {
	if len(b) < 5 {
		return nil, b, false
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(len(b)-5) < uint64(n) {
		return nil, b, false
	}
	return b[5 : 5+n], b[5+n:], true
}

// MaxFrame bounds the message a Frames gathers (gRPC's own default
// limit is 4 MiB).
const MaxFrame = 64 << 20

// Frames gathers gRPC frames from a stream that comes in chunks.
type Frames struct {
	buf []byte
	off int // bytes of buf already taken
}

// Add appends a chunk.
func (f *Frames) Add(chunk []byte) {
	if f.off > 0 {
		n := copy(f.buf, f.buf[f.off:])
		f.buf, f.off = f.buf[:n], 0
	}
	f.buf = append(f.buf, chunk...)
}

// Next takes the next whole frame's message (valid until the next Add).
// ok is false when no whole frame is there yet; tooBig reports a frame
// declaring more than MaxFrame bytes, which is never taken.
func (f *Frames) Next() (msg []byte, ok, tooBig bool) {
	b := f.buf[f.off:]
	if len(b) >= 5 && binary.BigEndian.Uint32(b[1:5]) > MaxFrame {
		return nil, false, true
	}
	msg, rest, ok := NextFrame(b)
	if ok {
		f.off = len(f.buf) - len(rest)
	}
	return msg, ok, false
}

// Rest returns the bytes not taken, and forgets them.
func (f *Frames) Rest() []byte {
	b := f.buf[f.off:]
	f.buf, f.off = nil, 0
	return b
}
