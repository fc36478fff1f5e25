package prometheus

import "sluice/internal/model"

// Schema is prometheus's config record (Kong 3.x schema.lua: every switch
// defaults to false).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		{Name: "per_consumer", Type: model.TypeBoolean, Default: false},
		{Name: "status_code_metrics", Type: model.TypeBoolean, Default: false},
		{Name: "ai_metrics", Type: model.TypeBoolean, Default: false},
		{Name: "latency_metrics", Type: model.TypeBoolean, Default: false},
		{Name: "bandwidth_metrics", Type: model.TypeBoolean, Default: false},
		{Name: "upstream_health_metrics", Type: model.TypeBoolean, Default: false},
	},
}

// Config is the decoded config record.
type Config struct {
	PerConsumer           bool `json:"per_consumer"`
	StatusCodeMetrics     bool `json:"status_code_metrics"`
	AIMetrics             bool `json:"ai_metrics"`
	LatencyMetrics        bool `json:"latency_metrics"`
	BandwidthMetrics      bool `json:"bandwidth_metrics"`
	UpstreamHealthMetrics bool `json:"upstream_health_metrics"`
}
