package opentelemetry

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

func urlField(name string) *model.Field {
	f := model.URLField(name)
	f.Referenceable = true
	return f
}

func queueField() *model.Field {
	f := plugin.QueueField()
	f.Default = map[string]any{"max_batch_size": 200}
	return f
}

// Schema is opentelemetry's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		urlField("traces_endpoint"),
		urlField("logs_endpoint"),
		{Name: "headers", Type: model.TypeMap, Keys: &model.Field{Type: model.TypeString},
			Values: &model.Field{Type: model.TypeString, Referenceable: true}},
		{Name: "resource_attributes", Type: model.TypeMap, Keys: &model.Field{Type: model.TypeString, Required: true},
			Values: &model.Field{Type: model.TypeString, Required: true}},
		queueField(),
		{Name: "batch_span_count", Type: model.TypeInteger},
		{Name: "batch_flush_delay", Type: model.TypeInteger},
		{Name: "connect_timeout", Type: model.TypeInteger, Default: 1000, Between: []float64{0, 2147483646}},
		{Name: "send_timeout", Type: model.TypeInteger, Default: 5000, Between: []float64{0, 2147483646}},
		{Name: "read_timeout", Type: model.TypeInteger, Default: 5000, Between: []float64{0, 2147483646}},
		{Name: "http_response_header_for_traceid", Type: model.TypeString},
		{Name: "header_type", Type: model.TypeString, Default: "preserve",
			OneOf: []any{"preserve", "ignore", "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "gcp", "datadog"}},
		{Name: "sampling_rate", Type: model.TypeNumber, Between: []float64{0, 1}},
		plugin.PropagationField("w3c"),
	},
	// endpoint is Kong's deprecated name of traces_endpoint: it fills
	// traces_endpoint when that is unset, and is not shown in answers.
	Shorthands: []model.Shorthand{{
		Name:  "endpoint",
		Field: urlField(""),
		Expand: func(v any) (map[string]any, string) {
			return map[string]any{"traces_endpoint": v}, ""
		},
		Deprecation: &model.Deprecation{
			Message:          "OpenTelemetry: config.endpoint is deprecated, please use config.traces_endpoint instead",
			RemovalInVersion: "4.0",
		},
	}},
	Checks: []*model.Check{{Custom: &model.CustomCheck{Fn: func(rec map[string]any) ([]string, map[string]any) {
		if rec["traces_endpoint"] == nil && rec["logs_endpoint"] == nil {
			return []string{"at least one of these fields must be non-empty: 'config.traces_endpoint', 'config.logs_endpoint'"}, nil
		}
		return nil, nil
	}}}},
}

// Config is the decoded config record.
type Config struct {
	Headers            map[string]string `json:"headers"`
	ResourceAttributes map[string]string `json:"resource_attributes"`
	SamplingRate       *float64          `json:"sampling_rate"`
	ConnectTimeout     int               `json:"connect_timeout"`
	SendTimeout        int               `json:"send_timeout"`
	ReadTimeout        int               `json:"read_timeout"`
	Queue              struct {
		MaxEntries int    `json:"max_entries"`
		MaxBytes   *int64 `json:"max_bytes"`
	} `json:"queue"`
	TracesEndpoint *string `json:"traces_endpoint"`
	// Endpoint is only in configs stored by an earlier sluice, where the
	// deprecated endpoint was a plain field.
	Endpoint            *string                  `json:"endpoint"`
	HTTPResponseTraceID *string                  `json:"http_response_header_for_traceid"`
	HeaderType          string                   `json:"header_type"`
	Propagation         plugin.PropagationConfig `json:"propagation"`
}
