// Package grpcweb is Kong's grpc-web plugin: it lets browser clients that
// speak gRPC-Web (HTTP/1.1 or HTTP/2, binary or base64 text framing) call a
// gRPC service. The request goes upstream as gRPC over HTTP/2; the
// response's gRPC trailers come back inside the body as a gRPC-Web trailer
// frame, and CORS preflights are answered by the plugin.
package grpcweb

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "grpc-web"
	Priority = 3
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
