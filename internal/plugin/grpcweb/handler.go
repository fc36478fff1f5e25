package grpcweb

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// Messages of the answers the plugin produces. msgTranscoding is Kong's
// (deco.lua) for a content type that needs JSON transcoding.
const (
	msgTranscoding = "transcoding requests require a .proto file defining the service"
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
	log          *slog.Logger
}

// state is what access learned for the response phases.
type state struct {
	mime string // the client's content type, sent back on the response
	text bool   // base64 framing (grpc-web-text)
	out  []byte // body_filter's output, reused across chunks
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	g := &GRPCWeb{log: deps.Logger}
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
	if p, _ := cfg["proto"].(string); p != "" && deps.Logger != nil {
		deps.Logger.Warn("grpc-web: JSON transcoding is not supported, application/grpc-web+json and application/json requests will be rejected", "proto", p)
	}
	return g, nil
}

// modeOf tells the gRPC-Web content types that need no transcoding (Kong's
// deco.lua tables, matched exactly): ok is false for the others.
func modeOf(ct string) (text, ok bool) {
	switch ct {
	case "application/grpc-web", "application/grpc-web+proto":
		return false, true
	case "application/grpc-web-text", "application/grpc-web-text+proto":
		return true, true
	}
	return false, false
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
	text, ok := modeOf(ct)
	if !ok {
		g.reject(c, http.StatusBadRequest, msgTranscoding)
		return
	}
	if text && !g.decodeBody(c) {
		return
	}
	c.SetRequestHeader("Content-Type", "application/grpc")
	c.SetRequestHeader("Te", "trailers")
	c.Set(stateKey, &state{mime: ct, text: text})
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
	if st == nil || (!st.text && !last) {
		return chunk
	}
	out := st.out[:0]
	if st.text {
		out = appendBase64(out, chunk)
	} else {
		out = append(out, chunk...)
	}
	if last {
		out = g.appendTrailers(c, out, st.text)
	}
	st.out = out
	return out
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
