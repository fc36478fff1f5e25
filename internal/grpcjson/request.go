package grpcjson

import (
	"encoding/binary"
	"errors"
	"net/url"
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
// arguments ("a.b=1" sets field b of message field a; arguments naming no
// field are dropped). The error text is what Kong answers with a 400.
func (r *Rule) Request(vars map[string]string, query url.Values, body []byte) ([]byte, error) {
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
		for k, vs := range query {
			var v any = vs[0]
			if len(vs) > 1 {
				arr := make([]any, len(vs))
				for i, s := range vs {
					arr[i] = s
				}
				v = arr
			}
			setQuery(payload, r.Method.Input, k, v)
		}
	}
	msg, err := Encode(r.Method.Input, payload)
	if err != nil {
		return nil, ErrEncode
	}
	return Frame(nil, msg), nil
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
