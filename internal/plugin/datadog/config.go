package datadog

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// MetricNames are the metrics Kong's datadog plugin knows.
var MetricNames = []any{"kong_latency", "latency", "request_count", "request_size", "response_size", "upstream_latency"}

var (
	statTypes           = []any{"counter", "gauge", "histogram", "meter", "set", "timer", "distribution"}
	consumerIdentifiers = []any{"consumer_id", "custom_id", "username"}
)

// defaultMetrics is Kong's default metrics list: all six, tagged
// app:kong, with the consumer's custom id.
func defaultMetrics() []any {
	m := func(name, typ string, rate any) any {
		return map[string]any{"name": name, "stat_type": typ, "sample_rate": rate,
			"tags": []any{"app:kong"}, "consumer_identifier": "custom_id"}
	}
	return []any{
		m("request_count", "counter", 1), m("latency", "timer", nil), m("request_size", "timer", nil),
		m("response_size", "timer", nil), m("upstream_latency", "timer", nil), m("kong_latency", "timer", nil),
	}
}

var metricField = &model.Field{Type: model.TypeRecord, Fields: []*model.Field{
	{Name: "name", Type: model.TypeString, Required: true, OneOf: MetricNames},
	{Name: "stat_type", Type: model.TypeString, Required: true, OneOf: statTypes},
	{Name: "tags", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString, Match: `^.*[^:]$`}},
	{Name: "sample_rate", Type: model.TypeNumber, Between: []float64{0, 1}},
	{Name: "consumer_identifier", Type: model.TypeString, OneOf: consumerIdentifiers},
}, Checks: []*model.Check{{Conditional: &model.Conditional{
	IfField: "stat_type", IfMatch: &model.Field{OneOf: []any{"counter", "gauge"}},
	ThenField: "sample_rate", ThenMatch: &model.Field{Required: true}}}}}

// Schema is datadog's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		host(),
		withDefault(model.PortField("port"), 8125),
		{Name: "prefix", Type: model.TypeString, Default: "kong"},
		{Name: "service_name_tag", Type: model.TypeString, Default: "name"},
		{Name: "status_tag", Type: model.TypeString, Default: "status"},
		{Name: "consumer_tag", Type: model.TypeString, Default: "consumer"},
		{Name: "retry_count", Type: model.TypeInteger},
		{Name: "queue_size", Type: model.TypeInteger},
		{Name: "flush_timeout", Type: model.TypeNumber},
		plugin.QueueField(),
		{Name: "metrics", Type: model.TypeArray, Required: true, Default: defaultMetrics(), Elements: metricField},
	},
}

func host() *model.Field {
	f := withDefault(model.HostField("host"), "localhost")
	f.Referenceable = true
	return f
}

func withDefault(f *model.Field, v any) *model.Field {
	f.Default = v
	return f
}

// Metric is one configured metric.
type Metric struct {
	Name               string   `json:"name"`
	StatType           string   `json:"stat_type"`
	Tags               []string `json:"tags"`
	SampleRate         *float64 `json:"sample_rate"`
	ConsumerIdentifier *string  `json:"consumer_identifier"`
}

// Config is the decoded config record.
type Config struct {
	Host           *string  `json:"host"`
	Port           *int     `json:"port"`
	Prefix         *string  `json:"prefix"`
	ServiceNameTag *string  `json:"service_name_tag"`
	StatusTag      *string  `json:"status_tag"`
	ConsumerTag    *string  `json:"consumer_tag"`
	Metrics        []Metric `json:"metrics"`
	Queue          struct {
		MaxEntries int    `json:"max_entries"`
		MaxBytes   *int64 `json:"max_bytes"`
	} `json:"queue"`
}
