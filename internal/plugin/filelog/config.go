package filelog

import (
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Schema is file-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		{Name: "path", Type: model.TypeString, Required: true,
			MatchAll: []model.MatchRule{{Pattern: "^[^*&%\\\\`]+$", Err: "not a valid filename"}}},
		{Name: "reopen", Type: model.TypeBoolean, Required: true, Default: false},
		plugin.CustomFieldsByLuaField(),
	},
}

// Config is the decoded config record.
type Config struct {
	Path              string            `json:"path"`
	Reopen            bool              `json:"reopen"`
	CustomFieldsByLua map[string]string `json:"custom_fields_by_lua"`
}
