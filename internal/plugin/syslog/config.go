package syslog

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Facilities are syslog's, by their number.
var Facilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// Schema is syslog's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		plugin.SeverityField("log_level", true),
		plugin.SeverityField("successful_severity", true),
		plugin.SeverityField("client_errors_severity", true),
		plugin.SeverityField("server_errors_severity", true),
		plugin.CustomFieldsByLuaField(),
		{Name: "facility", Type: model.TypeString, Required: true, Default: "user",
			OneOf: []any{"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
				"user", "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}},
	},
}

// Config is the decoded config record.
type Config struct {
	LogLevel             string            `json:"log_level"`
	SuccessfulSeverity   string            `json:"successful_severity"`
	ClientErrorsSeverity string            `json:"client_errors_severity"`
	ServerErrorsSeverity string            `json:"server_errors_severity"`
	Facility             string            `json:"facility"`
	CustomFieldsByLua    map[string]string `json:"custom_fields_by_lua"`
}
