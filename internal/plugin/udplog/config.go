package udplog

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Schema is udp-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		model.Require(model.HostField("host")),
		model.Require(model.PortField("port")),
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		plugin.CustomFieldsByLuaField(),
	},
}

// Config is the decoded config record.
type Config struct {
	Host              string            `json:"host"`
	Port              int               `json:"port"`
	Timeout           float64           `json:"timeout"` // ms, for each send
	CustomFieldsByLua map[string]string `json:"custom_fields_by_lua"`
}
