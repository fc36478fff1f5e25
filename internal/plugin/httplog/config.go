package httplog

import (
	"net/url"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

func validateURL(v any) string {
	s, _ := v.(string)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "missing host in url"
	}
	return ""
}

// Schema is http-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		{Name: "http_endpoint", Type: model.TypeString, Required: true, Custom: validateURL, Referenceable: true, Encrypted: true},
		{Name: "method", Type: model.TypeString, Default: "POST", OneOf: []any{"POST", "PUT", "PATCH"}},
		{Name: "content_type", Type: model.TypeString, Default: "application/json",
			OneOf: []any{"application/json", "application/json; charset=utf-8"}},
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		{Name: "keepalive", Type: model.TypeNumber, Default: 60000},
		{Name: "retry_count", Type: model.TypeInteger},
		{Name: "queue_size", Type: model.TypeInteger},
		{Name: "flush_timeout", Type: model.TypeNumber},
		{Name: "headers", Type: model.TypeMap,
			Keys: model.HeaderNameField(""), Values: &model.Field{Type: model.TypeString, Referenceable: true}},
		plugin.QueueField(),
		plugin.CustomFieldsByLuaField(),
	},
}

// QueueConfig is Kong's queue record.
type QueueConfig struct {
	MaxBatchSize       int     `json:"max_batch_size"`
	MaxCoalescingDelay float64 `json:"max_coalescing_delay"`
	MaxEntries         int     `json:"max_entries"`
	MaxBytes           *int    `json:"max_bytes"`
	MaxRetryTime       float64 `json:"max_retry_time"`
	InitialRetryDelay  float64 `json:"initial_retry_delay"`
	MaxRetryDelay      float64 `json:"max_retry_delay"`
	ConcurrencyLimit   int     `json:"concurrency_limit"`
}

// Config is the decoded config record.
type Config struct {
	HTTPEndpoint      string            `json:"http_endpoint"`
	Method            string            `json:"method"`
	ContentType       string            `json:"content_type"`
	Timeout           float64           `json:"timeout"`
	Keepalive         float64           `json:"keepalive"`
	RetryCount        *int              `json:"retry_count"`
	QueueSize         *int              `json:"queue_size"`
	FlushTimeout      *float64          `json:"flush_timeout"`
	Headers           map[string]string `json:"headers"`
	Queue             QueueConfig       `json:"queue"`
	CustomFieldsByLua map[string]string `json:"custom_fields_by_lua"`
}
