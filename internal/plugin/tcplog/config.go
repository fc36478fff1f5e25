package tcplog

import "sluice/internal/model"

// Schema is tcp-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		required(model.HostField("host")),
		required(model.PortField("port")),
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		{Name: "keepalive", Type: model.TypeNumber, Default: 60000},
		{Name: "tls", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "tls_sni", Type: model.TypeString},
		{Name: "custom_fields_by_lua", Type: model.TypeMap,
			Keys: &model.Field{Type: model.TypeString, LenMin: 1}, Values: &model.Field{Type: model.TypeString, LenMin: 1}},
	},
}

func required(f *model.Field) *model.Field {
	f.Required = true
	return f
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
