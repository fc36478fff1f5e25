package statsd

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// MetricNames are the metrics Kong's statsd plugin knows.
var MetricNames = []any{"kong_latency", "latency", "request_count", "request_per_user", "request_size", "response_size",
	"status_count", "status_count_per_user", "unique_users", "upstream_latency", "status_count_per_workspace",
	"status_count_per_user_per_route", "shdict_usage"}

var (
	statTypes           = []any{"counter", "gauge", "histogram", "meter", "set", "timer"}
	consumerIdentifiers = []any{"consumer_id", "custom_id", "username"}
	serviceIdentifiers  = []any{"service_id", "service_name", "service_host", "service_name_or_host"}
	workspaceIDs        = []any{"workspace_id", "workspace_name"}
)

// defaultMetrics is Kong's default metrics list.
func defaultMetrics() []any {
	m := func(name, typ string, rate any) any {
		return map[string]any{"name": name, "stat_type": typ, "sample_rate": rate,
			"consumer_identifier": nil, "service_identifier": nil, "workspace_identifier": nil}
	}
	return []any{
		m("request_count", "counter", 1), m("latency", "timer", nil), m("request_size", "counter", 1),
		m("status_count", "counter", 1), m("response_size", "counter", 1), m("unique_users", "set", nil),
		m("request_per_user", "counter", 1), m("upstream_latency", "timer", nil), m("kong_latency", "timer", nil),
		m("status_count_per_user", "counter", 1), m("status_count_per_workspace", "counter", 1),
		m("status_count_per_user_per_route", "counter", 1), m("shdict_usage", "gauge", 1),
	}
}

func gt0() *float64 { z := 0.0; return &z }

var metricField = &model.Field{Type: model.TypeRecord, Fields: []*model.Field{
	{Name: "name", Type: model.TypeString, Required: true, OneOf: MetricNames},
	{Name: "stat_type", Type: model.TypeString, Required: true, OneOf: statTypes},
	{Name: "sample_rate", Type: model.TypeNumber, Gt: gt0()},
	{Name: "consumer_identifier", Type: model.TypeString, OneOf: consumerIdentifiers},
	{Name: "service_identifier", Type: model.TypeString, OneOf: serviceIdentifiers},
	{Name: "workspace_identifier", Type: model.TypeString, OneOf: workspaceIDs},
}, Checks: []*model.Check{{Conditional: &model.Conditional{
	IfField: "stat_type", IfMatch: &model.Field{OneOf: []any{"counter", "gauge"}},
	ThenField: "sample_rate", ThenMatch: &model.Field{Required: true}}}}}

// Schema is statsd's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		withDefault(model.HostField("host"), "localhost"),
		withDefault(model.PortField("port"), 8125),
		{Name: "prefix", Type: model.TypeString, Default: "kong"},
		{Name: "metrics", Type: model.TypeArray, Default: defaultMetrics(), Elements: metricField},
		{Name: "allow_status_codes", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeString,
			MatchAll: []model.MatchRule{{Pattern: `^[0-9]+-[0-9]+$`}}}},
		{Name: "udp_packet_size", Type: model.TypeNumber, Default: 0, Between: []float64{0, 65507}},
		{Name: "use_tcp", Type: model.TypeBoolean, Default: false},
		{Name: "hostname_in_prefix", Type: model.TypeBoolean, Default: false},
		{Name: "consumer_identifier_default", Type: model.TypeString, Required: true, Default: "custom_id", OneOf: consumerIdentifiers},
		{Name: "service_identifier_default", Type: model.TypeString, Required: true, Default: "service_name_or_host", OneOf: serviceIdentifiers},
		{Name: "workspace_identifier_default", Type: model.TypeString, Required: true, Default: "workspace_id", OneOf: workspaceIDs},
		{Name: "retry_count", Type: model.TypeInteger},
		{Name: "queue_size", Type: model.TypeInteger},
		{Name: "flush_timeout", Type: model.TypeNumber},
		{Name: "tag_style", Type: model.TypeString, OneOf: []any{"dogstatsd", "influxdb", "librato", "signalfx"}},
		plugin.QueueField(),
	},
}

func withDefault(f *model.Field, v any) *model.Field {
	f.Default = v
	return f
}

// Metric is one configured metric.
type Metric struct {
	Name                string   `json:"name"`
	StatType            string   `json:"stat_type"`
	SampleRate          *float64 `json:"sample_rate"`
	ConsumerIdentifier  *string  `json:"consumer_identifier"`
	ServiceIdentifier   *string  `json:"service_identifier"`
	WorkspaceIdentifier *string  `json:"workspace_identifier"`
}

// Config is the decoded config record.
type Config struct {
	Host                       string   `json:"host"`
	Port                       int      `json:"port"`
	Prefix                     string   `json:"prefix"`
	Metrics                    []Metric `json:"metrics"`
	AllowStatusCodes           []string `json:"allow_status_codes"`
	UDPPacketSize              float64  `json:"udp_packet_size"`
	UseTCP                     bool     `json:"use_tcp"`
	HostnameInPrefix           bool     `json:"hostname_in_prefix"`
	ConsumerIdentifierDefault  string   `json:"consumer_identifier_default"`
	ServiceIdentifierDefault   string   `json:"service_identifier_default"`
	WorkspaceIdentifierDefault string   `json:"workspace_identifier_default"`
	TagStyle                   *string  `json:"tag_style"`
	Queue                      struct {
		MaxEntries int    `json:"max_entries"`
		MaxBytes   *int64 `json:"max_bytes"`
	} `json:"queue"`
}
