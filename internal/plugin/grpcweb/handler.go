package grpcweb

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"sluice/internal/grpcjson"
	"sluice/internal/plugin"
)

// Messages of the answers the plugin produces. msgTranscoding is Kong's
// (deco.lua) for a content type that needs JSON transcoding.
const (
	msgTranscoding = "transcoding requests require a .proto file defining the service"
	msgUnknownPath = "Unkown path " //nolint:misspell // Kong's deco.lua spells it so, and clients may match it
	msgBadBase64   = "invalid base64 body"
	msgBadRequest  = "Bad request"
	msgTooLarge    = "Payload too large"
)

// maxTextBody caps a grpc-web-text request body, which is read whole to
// be decoded: 8 MiB of base64 is 6 MiB of frames, above gRPC's default
// 4 MiB message limit. Binary bodies stream and have no cap.
const maxTextBody = 8 << 20

// stateKey keys the request's state in the Ctx shared map.
const stateKey = "grpc-web.state"

// GRPCWeb is one configured instance.
type GRPCWeb struct {
	allowOrigin  string
	passStripped bool
	preflight    http.Header
	proto        *grpcjson.Cached // nil without a proto
	log          *slog.Logger
}

// state is what access learned for the response phases.
type state struct {
	mime string // the client's content type, sent back on the response
	mode
	output protoreflect.MessageDescriptor // the method's answer, for JSON modes
	frames grpcjson.Frames                // answer bytes not yet a whole frame (JSON modes)
	raw    bool                           // a frame too large: the rest passes as is
	out    []byte                         // body_filter's output, reused across chunks
}

// mode is how a content type carries messages (Kong's deco.lua tables).
type mode struct {
	text   bool // base64 (grpc-web-text)
	json   bool // messages as JSON, transcoded with the .proto file
	framed bool // JSON messages in gRPC frames (not application/json)
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	g := &GRPCWeb{log: deps.Logger}
	if g.log == nil {
		g.log = slog.Default()
	}
	if s, ok := cfg["allow_origin_header"].(string); ok {
		g.allowOrigin = s
	}
	g.passStripped, _ = cfg["pass_stripped_path"].(bool)
	// Kong's answer to a preflight (kong.response.exit(200, "OK", ...)
	// with a gRPC content type, hence grpc-status 0 and grpc-message OK).
	g.preflight = http.Header{
		"Content-Type":                 {"application/grpc-web-text+proto"},
		"Access-Control-Allow-Methods": {"POST"},
		"Access-Control-Allow-Headers": {"content-type,x-grpc-web,x-user-agent"},
		"Grpc-Status":                  {"0"},
		"Grpc-Message":                 {"OK"},
	}
	if g.allowOrigin != "" {
		g.preflight["Access-Control-Allow-Origin"] = []string{g.allowOrigin}
	}
	if p, _ := cfg["proto"].(string); p != "" {
		g.proto = &grpcjson.Cached{Path: p}
	}
	return g, nil
}

// modeOf tells how a content type (matched exactly, as Kong does) carries
// messages; ok is false for the others.
func modeOf(ct string) (m mode, ok bool) {
	switch ct {
	case "application/grpc-web", "application/grpc-web+proto":
		return mode{}, true
	case "application/grpc-web-text", "application/grpc-web-text+proto":
		return mode{text: true}, true
	case "application/grpc-web+json":
		return mode{json: true, framed: true}, true
	case "application/grpc-web-text+json":
		return mode{text: true, json: true, framed: true}, true
	case "application/json":
		return mode{json: true}, true
	}
	return mode{}, false
}

// Access answers preflights, checks the content type, decodes a text body
// and turns the request into a gRPC one.
func (g *GRPCWeb) Access(c *plugin.Ctx) {
	if g.allowOrigin != "" {
		c.SetResponseHeader("Access-Control-Allow-Origin", g.allowOrigin)
	}
	r := c.Request
	if r.Method == http.MethodOptions {
		c.Terminate(&plugin.Exit{Status: http.StatusOK, Body: []byte("OK"), Header: g.preflight.Clone()})
		return
	}
	if !g.passStripped {
		// Kong's grpc_pass sends the client's path unless the plugin
		// sets the stripped one.
		c.UpstreamPath = requestPath(r)
	}
	ct := c.RequestHeader("Content-Type")
	m, ok := modeOf(ct)
	if !ok || (m.json && g.proto == nil) {
		g.reject(c, http.StatusBadRequest, msgTranscoding)
		return
	}
	st := &state{mime: ct, mode: m}
	if m.json {
		if !g.transcodeBody(c, st) {
			return
		}
	} else if m.text && !g.decodeBody(c) {
		return
	}
	c.SetRequestHeader("Content-Type", "application/grpc")
	c.SetRequestHeader("Te", "trailers")
	c.Set(stateKey, st)
}

// transcodeBody replaces a JSON request (framed or not, base64 or not) by
// the gRPC frame of the message it describes, the method found by the
// path in the .proto file. It reports false after answering the request.
func (g *GRPCWeb) transcodeBody(c *plugin.Ctx, st *state) bool {
	s, fresh, err := g.proto.Get()
	if err != nil {
		if fresh {
			g.log.Error("grpc-web: cannot load the .proto file", "proto", g.proto.Path, "error", err)
		}
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return false
	}
	path := c.Path // kong.request.get_path: normalized
	if path == "" {
		path = c.Request.URL.Path
	}
	if g.passStripped {
		path = c.UpstreamPath
	}
	m := s.Methods[path]
	if m == nil {
		g.reject(c, http.StatusBadRequest, msgUnknownPath+grpcjson.LuaQuote(path))
		return false
	}
	b, complete := plugin.ReadBody(c.Request, maxTextBody)
	if !complete {
		if int64(len(b)) > maxTextBody {
			g.reject(c, http.StatusRequestEntityTooLarge, msgTooLarge)
		} else {
			g.reject(c, http.StatusBadRequest, msgBadRequest)
		}
		return false
	}
	if st.text {
		n, ok := decodeText(b)
		if !ok {
			g.reject(c, http.StatusBadRequest, msgBadBase64)
			return false
		}
		b = b[:n]
	}
	if st.framed {
		b, _, _ = grpcjson.NextFrame(b) // nil without a whole frame: invalid JSON
	}
	v, err := grpcjson.DecodeJSON(b)
	if err != nil {
		g.reject(c, http.StatusBadRequest, "decode json err: "+err.Error())
		return false
	}
	obj, ok := v.(map[string]any)
	if _, isArray := v.([]any); !ok && !isArray {
		// An array is a Lua table too: its items name no field.
		g.reject(c, http.StatusBadRequest, grpcjson.ErrEncode.Error())
		return false
	}
	msg, err := grpcjson.Encode(m.Input, obj)
	if err != nil {
		g.reject(c, http.StatusBadRequest, grpcjson.ErrEncode.Error())
		return false
	}
	plugin.SetRequestBody(c.Request, grpcjson.Frame(nil, msg))
	st.output = m.Output
	return true
}

// decodeBody replaces a grpc-web-text body by its decoded frames. It
// reports false after answering the request.
func (g *GRPCWeb) decodeBody(c *plugin.Ctx) bool {
	r := c.Request
	b, complete := plugin.ReadBody(r, maxTextBody)
	if !complete {
		if int64(len(b)) > maxTextBody {
			g.reject(c, http.StatusRequestEntityTooLarge, msgTooLarge)
		} else {
			g.reject(c, http.StatusBadRequest, msgBadRequest)
		}
		return false
	}
	n, ok := decodeText(b)
	if !ok {
		g.reject(c, http.StatusBadRequest, msgBadBase64)
		return false
	}
	b = b[:n]
	if r.Body != nil {
		r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = nil
	r.ContentLength = int64(n)
	r.TransferEncoding = nil
	r.Header.Set("Content-Length", strconv.Itoa(n))
	return true
}

// reject ends the request with Kong's kong.response.exit(status, msg): the
// message as a body without Content-Type, or, for an HTTP/2 request with
// a gRPC content type, in grpc-message with an empty body.
func (g *GRPCWeb) reject(c *plugin.Ctx, status int, msg string) {
	if g.log != nil {
		g.log.Debug("grpc-web: request rejected", "request_id", c.RequestID, "status", status, "reason", msg)
	}
	r := c.Request
	if r.ProtoMajor == 2 && strings.HasPrefix(c.RequestHeader("Content-Type"), "application/grpc") {
		code := "2" // Unknown
		if status == http.StatusBadRequest {
			code = "3" // InvalidArgument
		}
		c.Terminate(&plugin.Exit{Status: status, Body: []byte{},
			Header: http.Header{"Content-Type": nil, "Grpc-Status": {code}, "Grpc-Message": {msg}}})
		return
	}
	c.Terminate(&plugin.Exit{Status: status, Body: []byte(msg), Header: http.Header{"Content-Type": nil}})
}

// requestPath is the path the client sent, as sent (Kong's
// kong.request.get_path).
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p[0] != '/' {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

func stateOf(c *plugin.Ctx) *state {
	v, _ := c.Get(stateKey)
	st, _ := v.(*state)
	return st
}

// HeaderFilter gives the response the client's gRPC-Web content type.
func (g *GRPCWeb) HeaderFilter(c *plugin.Ctx) {
	if c.Request.Method == http.MethodOptions {
		return
	}
	if st := stateOf(c); st != nil {
		c.Header.Set("Content-Type", st.mime)
	}
}

// BodyFilter encodes the response of a POST for the client: base64 for
// text modes (each chunk on its own, as Kong does), and a trailer frame
// with the gRPC trailers after the last chunk.
func (g *GRPCWeb) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	if c.Request.Method != http.MethodPost {
		return chunk
	}
	st := stateOf(c)
	if st == nil || (!st.text && !st.json && !last) {
		return chunk
	}
	if st.json {
		chunk = g.transcodeAnswer(c, st, chunk)
	}
	out := st.out[:0]
	if st.text {
		out = appendBase64(out, chunk)
	} else {
		out = append(out, chunk...)
	}
	if last && (!st.json || st.framed) {
		out = g.appendTrailers(c, out, st.text)
	}
	st.out = out
	return out
}

// transcodeAnswer turns the whole answer frames received so far into
// JSON, each in a frame of its own when the client's type is framed.
// Bytes that never make a whole frame are dropped, as Kong drops them;
// from a frame over grpcjson.MaxFrame on, the answer passes as is.
func (g *GRPCWeb) transcodeAnswer(c *plugin.Ctx, st *state, chunk []byte) []byte {
	if st.raw {
		return chunk
	}
	st.frames.Add(chunk)
	var out []byte
	for {
		msg, ok, tooBig := st.frames.Next()
		if tooBig {
			g.log.Error("grpc-web: upstream message over the size limit, passed on as is", "limit", grpcjson.MaxFrame, "request_id", c.RequestID)
			st.raw = true
			return append(out, st.frames.Rest()...)
		}
		if !ok {
			return out
		}
		start := len(out)
		if st.framed {
			out = append(out, 0, 0, 0, 0, 0)
		}
		var err error
		if out, err = grpcjson.AppendJSON(out, st.output, msg); err != nil {
			g.log.Error("grpc-web: cannot decode the upstream's message", "error", err, "request_id", c.RequestID)
			out = out[:start]
		} else if st.framed {
			binary.BigEndian.PutUint32(out[start+1:start+5], uint32(len(out)-start-5))
		}
	}
}

// appendTrailers appends the trailer frame: grpc-status and grpc-message
// from the upstream's trailers (else its headers; else 0 and "", Kong's
// defaults), then its other trailers.
func (g *GRPCWeb) appendTrailers(c *plugin.Ctx, out []byte, text bool) []byte {
	tr := c.ResponseTrailers()
	status, message := first(tr, "Grpc-Status"), first(tr, "Grpc-Message")
	if status == "" {
		status, message = first(c.Header, "Grpc-Status"), first(c.Header, "Grpc-Message")
	}
	if status == "" {
		status = "0"
	}
	if !text {
		return appendTrailerFrame(out, status, message, tr)
	}
	var arr [128]byte
	return appendBase64(out, appendTrailerFrame(arr[:0], status, message, tr))
}

func first(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

var (
	_ plugin.Accessor       = (*GRPCWeb)(nil)
	_ plugin.HeaderFilterer = (*GRPCWeb)(nil)
	_ plugin.BodyFilterer   = (*GRPCWeb)(nil)
)
