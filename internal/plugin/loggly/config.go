package loggly

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

func withDefault(f *model.Field, v any) *model.Field {
	f.Default = v
	return f
}

// Schema is loggly's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		withDefault(model.HostField("host"), "logs-01.loggly.com"),
		withDefault(model.PortField("port"), 514),
		{Name: "key", Type: model.TypeString, Required: true, Encrypted: true},
		{Name: "tags", Type: model.TypeSet, Default: []any{"kong"}, Elements: &model.Field{Type: model.TypeString}},
		plugin.SeverityField("log_level", false),
		plugin.SeverityField("successful_severity", false),
		plugin.SeverityField("client_errors_severity", false),
		plugin.SeverityField("server_errors_severity", false),
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		plugin.CustomFieldsByLuaField(),
	},
}

// Config is the decoded config record.
type Config struct {
	Host                 string            `json:"host"`
	Port                 int               `json:"port"`
	Key                  string            `json:"key"`
	Tags                 []string          `json:"tags"`
	LogLevel             string            `json:"log_level"`
	SuccessfulSeverity   string            `json:"successful_severity"`
	ClientErrorsSeverity string            `json:"client_errors_severity"`
	ServerErrorsSeverity string            `json:"server_errors_severity"`
	Timeout              float64           `json:"timeout"` // ms
	CustomFieldsByLua    map[string]string `json:"custom_fields_by_lua"`
}
