// Package opentelemetry is Kong's opentelemetry plugin (3.9): it reads the
// request's trace context (W3C, B3, Jaeger, OpenTracing, Datadog, AWS
// X-Ray, GCP headers), sends it on to the upstream in the configured
// formats with this hop's span id, and can name the trace id in a
// response header. With tracing_instrumentations request (or all), a
// sampled request's span is exported to the collector over OTLP/HTTP
// protobuf; with them off (Kong's default) nothing is sampled or exported.
package opentelemetry

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "opentelemetry"
	Priority = 14
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
