package tcplog

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Schema is tcp-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		model.Require(model.HostField("host")),
		model.Require(model.PortField("port")),
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		{Name: "keepalive", Type: model.TypeNumber, Default: 60000},
		{Name: "tls", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "tls_sni", Type: model.TypeString},
		plugin.CustomFieldsByLuaField(),
	},
}

// Config is the decoded config record.
type Config struct {
	Host              string            `json:"host"`
	Port              int               `json:"port"`
	Timeout           float64           `json:"timeout"`   // ms: connect, handshake and send
	Keepalive         float64           `json:"keepalive"` // ms an idle connection is kept
	TLS               bool              `json:"tls"`
	TLSSNI            *string           `json:"tls_sni"`
	CustomFieldsByLua map[string]string `json:"custom_fields_by_lua"`
}
