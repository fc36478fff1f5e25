// Package grpcjson transcodes between JSON and gRPC the way Kong's
// grpc-gateway and grpc-web plugins do: it compiles a service's .proto
// file, finds the REST mappings of its methods (google.api.http rules),
// builds the request message from path variables, query arguments or a
// JSON body, and writes response messages as JSON.
//
// Kong does this with lua-protobuf and lua-cjson, and their conventions
// are kept where a client can see them: JSON errors worded as cjson words
// them, proto field names, proto3 scalars written even when they hold
// their default, empty repeated fields as [], enums by name, numbers as
// cjson formats them (%.14g), google.protobuf.Timestamp as an ISO 8601
// string, and unknown JSON keys ignored.
package grpcjson
