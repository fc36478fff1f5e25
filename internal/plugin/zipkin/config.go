package zipkin

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// protectedTags may not be static tags (Kong's PROTECTED_TAGS).
var protectedTags = []any{"error", "http.method", "http.path", "http.status_code", "kong.balancer.state",
	"kong.balancer.try", "kong.consumer", "kong.credential", "kong.node.id", "kong.route", "kong.service", "lc",
	"peer.hostname"}

func timeout(name string, def int) *model.Field {
	return &model.Field{Name: name, Type: model.TypeInteger, Default: def, Between: []float64{0, 2147483646}}
}

// Schema is zipkin's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "local_service_name", Type: model.TypeString, Required: true, Default: "kong"},
		model.URLField("http_endpoint"),
		{Name: "sample_ratio", Type: model.TypeNumber, Default: 0.001, Between: []float64{0, 1}},
		{Name: "default_service_name", Type: model.TypeString},
		{Name: "include_credential", Type: model.TypeBoolean, Required: true, Default: true},
		{Name: "traceid_byte_count", Type: model.TypeInteger, Required: true, Default: 16, OneOf: []any{8, 16}},
		{Name: "header_type", Type: model.TypeString, Required: true, Default: "preserve",
			OneOf: []any{"preserve", "ignore", "b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp"}},
		{Name: "default_header_type", Type: model.TypeString, Required: true, Default: "b3",
			OneOf: []any{"b3", "b3-single", "w3c", "jaeger", "ot", "aws", "datadog", "gcp"}},
		{Name: "tags_header", Type: model.TypeString, Required: true, Default: "Zipkin-Tags"},
		{Name: "static_tags", Type: model.TypeArray, Elements: &model.Field{Type: model.TypeRecord, Fields: []*model.Field{
			{Name: "name", Type: model.TypeString, Required: true, NotOneOf: protectedTags},
			{Name: "value", Type: model.TypeString, Required: true},
		}}, Custom: func(v any) string {
			seen := map[string]bool{}
			for _, e := range v.([]any) {
				m, _ := e.(map[string]any)
				name, _ := m["name"].(string)
				if seen[name] {
					return "repeated tags are not allowed: " + name
				}
				seen[name] = true
			}
			return ""
		}},
		{Name: "http_span_name", Type: model.TypeString, Required: true, Default: "method", OneOf: []any{"method", "method_path"}},
		timeout("connect_timeout", 2000),
		timeout("send_timeout", 5000),
		timeout("read_timeout", 5000),
		{Name: "http_response_header_for_traceid", Type: model.TypeString},
		{Name: "phase_duration_flavor", Type: model.TypeString, Required: true, Default: "annotations", OneOf: []any{"annotations", "tags"}},
		plugin.QueueField(),
		plugin.PropagationField("b3"),
	},
}

// Config is the decoded config record.
type Config struct {
	LocalServiceName   string  `json:"local_service_name"`
	HTTPEndpoint       *string `json:"http_endpoint"`
	SampleRatio        float64 `json:"sample_ratio"`
	DefaultServiceName *string `json:"default_service_name"`
	IncludeCredential  bool    `json:"include_credential"`
	TraceIDByteCount   int     `json:"traceid_byte_count"`
	HeaderType         string  `json:"header_type"`
	DefaultHeaderType  string  `json:"default_header_type"`
	TagsHeader         string  `json:"tags_header"`
	StaticTags         []Tag   `json:"static_tags"`
	HTTPSpanName       string  `json:"http_span_name"`
	ConnectTimeout     int     `json:"connect_timeout"`
	SendTimeout        int     `json:"send_timeout"`
	ReadTimeout        int     `json:"read_timeout"`
	TraceIDHeader      *string `json:"http_response_header_for_traceid"`
	PhaseFlavor        string  `json:"phase_duration_flavor"`
	Queue              struct {
		MaxEntries int    `json:"max_entries"`
		MaxBytes   *int64 `json:"max_bytes"`
	} `json:"queue"`
	Propagation plugin.PropagationConfig `json:"propagation"`
}

// Tag is a static tag.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
