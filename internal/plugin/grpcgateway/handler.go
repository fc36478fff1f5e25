package grpcgateway

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"sluice/internal/grpcjson"
	"sluice/internal/plugin"
)

// Messages of the answers the plugin produces (Kong's deco.lua).
const (
	msgNoProto   = "transcoding requests require a .proto file defining the service"
	msgTranscode = "failed to transcode .proto file "
	msgTooLarge  = "Payload too large"
)

// maxBody caps the JSON request body, which is read whole.
const maxBody = 8 << 20

// stateKey keys the request's state in the Ctx shared map.
const stateKey = "grpc-gateway.state"

// GRPCGateway is one configured instance.
type GRPCGateway struct {
	proto *grpcjson.Cached
	log   *slog.Logger
}

// state is what access learned for the response phases.
type state struct {
	output protoreflect.MessageDescriptor
	frames grpcjson.Frames // the answer's bytes not yet written
	raw    bool            // a frame too large: the rest passes as is
	out    []byte          // body_filter's output, reused across chunks
}

// preflight is Kong's answer to OPTIONS.
var preflight = http.Header{
	"Content-Type":                 {"application/json"},
	"Access-Control-Allow-Origin":  {"*"},
	"Access-Control-Allow-Methods": {"GET,POST,PATCH,DELETE"},
	"Access-Control-Allow-Headers": {"content-type"},
}

// New builds an instance from a validated config. The .proto file is
// compiled on the first request.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	g := &GRPCGateway{log: deps.Logger}
	if p, _ := cfg["proto"].(string); p != "" {
		g.proto = &grpcjson.Cached{Path: p}
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	return g, nil
}

// load returns the compiled .proto file, logging its compilation.
func (g *GRPCGateway) load() (*grpcjson.Schema, error) {
	s, fresh, err := g.proto.Get()
	if fresh && err != nil {
		g.log.Error("grpc-gateway: cannot load the .proto file", "proto", g.proto.Path, "error", err)
	}
	if fresh && err == nil {
		for _, w := range s.Warnings {
			g.log.Error("grpc-gateway: rule skipped", "proto", g.proto.Path, "rule", w)
		}
	}
	return s, err
}

// Access answers preflights, finds the method the request maps to and
// turns the request into a gRPC call of it.
func (g *GRPCGateway) Access(c *plugin.Ctx) {
	c.SetResponseHeader("Access-Control-Allow-Origin", "*")
	r := c.Request
	if r.Method == http.MethodOptions {
		c.Terminate(&plugin.Exit{Status: http.StatusOK, Body: []byte("OK"), Header: preflight.Clone()})
		return
	}
	if g.proto == nil {
		g.reject(c, http.StatusBadRequest, msgNoProto)
		return
	}
	s, err := g.load()
	if err != nil {
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	rule, vars, err := s.Match(r.Method, requestPath(c))
	if err != nil {
		g.reject(c, http.StatusBadRequest, msgTranscode+err.Error())
		return
	}
	var body []byte
	if rule.Body != "" {
		b, complete := plugin.ReadBody(r, maxBody)
		if !complete {
			g.reject(c, http.StatusRequestEntityTooLarge, msgTooLarge)
			return
		}
		body = b
	}
	frame, err := rule.Request(vars, grpcjson.ParseQuery(r.URL.RawQuery), body)
	if err != nil {
		g.reject(c, http.StatusBadRequest, err.Error())
		return
	}
	plugin.SetRequestBody(r, frame)
	r.Method = http.MethodPost
	c.SetRequestHeader("Content-Type", "application/grpc")
	c.SetRequestHeader("Te", "trailers")
	c.UpstreamPath = rule.Method.Path
	c.SetQuery(nil)
	c.Set(stateKey, &state{output: rule.Method.Output})
}

// reject ends the request with Kong's kong.response.exit(status, msg): the
// message as the body, without a Content-Type.
func (g *GRPCGateway) reject(c *plugin.Ctx, status int, msg string) {
	g.log.Error("grpc-gateway: "+msg, "request_id", c.RequestID)
	c.Terminate(&plugin.Exit{Status: status, Body: []byte(msg), Header: http.Header{"Content-Type": nil}})
}

// requestPath is the request's normalized path (kong.request.get_path),
// as the proxy computed it; the path sent, outside the proxy.
func requestPath(c *plugin.Ctx) string {
	if c.Path != "" {
		return c.Path
	}
	return c.Request.URL.Path
}

func stateOf(c *plugin.Ctx) *state {
	v, _ := c.Get(stateKey)
	st, _ := v.(*state)
	return st
}

// statusOf maps a gRPC status to an HTTP status (Kong's table, after
// google/rpc/code.proto); unknown codes are 500.
var statusOf = map[int]int{
	0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429,
	9: 400, 10: 409, 11: 400, 12: 500, 13: 500, 14: 503, 15: 500, 16: 401,
}

// HeaderFilter makes the answer JSON and gives it the HTTP status of a
// grpc-status the upstream sent in its headers (a trailers-only answer).
func (g *GRPCGateway) HeaderFilter(c *plugin.Ctx) {
	if c.Request.Method == http.MethodOptions {
		return
	}
	if stateOf(c) != nil {
		c.Header.Set("Content-Type", "application/json")
	}
	gs := c.Header.Get("Grpc-Status")
	if gs == "" {
		return
	}
	if n, err := strconv.Atoi(strings.TrimSpace(gs)); err == nil {
		if code, ok := statusOf[n]; ok {
			c.Status = code
			return
		}
	}
	g.log.Warn("grpc-gateway: unable to map grpc-status to an HTTP status", "grpc_status", gs, "request_id", c.RequestID)
	c.Status = http.StatusInternalServerError
}

// BodyFilter writes each whole response message as JSON. Bytes that never
// make a whole message (an answer that is not gRPC) are sent as they are
// at the end (Kong sends nothing); so is everything from a frame over
// grpcjson.MaxFrame on.
func (g *GRPCGateway) BodyFilter(c *plugin.Ctx, chunk []byte, last bool) []byte {
	st := stateOf(c)
	if st == nil || st.raw {
		return chunk
	}
	st.frames.Add(chunk)
	out := st.out[:0]
	for {
		msg, ok, tooBig := st.frames.Next()
		if tooBig {
			g.log.Error("grpc-gateway: upstream message over the size limit, passed on as is", "limit", grpcjson.MaxFrame, "request_id", c.RequestID)
			st.raw = true
			out = append(out, st.frames.Rest()...)
			break
		}
		if !ok {
			break
		}
		var err error
		if out, err = grpcjson.AppendJSON(out, st.output, msg); err != nil {
			g.log.Error("grpc-gateway: cannot decode the upstream's message", "error", err, "request_id", c.RequestID)
		}
	}
	if last {
		out = append(out, st.frames.Rest()...)
	}
	st.out = out
	return out
}

var (
	_ plugin.Accessor       = (*GRPCGateway)(nil)
	_ plugin.HeaderFilterer = (*GRPCGateway)(nil)
	_ plugin.BodyFilterer   = (*GRPCGateway)(nil)
)
