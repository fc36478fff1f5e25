package loggly

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// severities are syslog's, by their number (emerg 0 to debug 7).
var severities = map[string]int{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

func severity(name string) *model.Field {
	return &model.Field{Name: name, Type: model.TypeString, Default: "info",
		OneOf: []any{"debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"}}
}

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
		severity("log_level"),
		severity("successful_severity"),
		severity("client_errors_severity"),
		severity("server_errors_severity"),
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
