package filelog

import "sluice/internal/model"

// Schema is file-log's config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	Fields: []*model.Field{
		{Name: "path", Type: model.TypeString, Required: true,
			MatchAll: []model.MatchRule{{Pattern: "^[^*&%\\\\`]+$", Err: "not a valid filename"}}},
		{Name: "reopen", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "custom_fields_by_lua", Type: model.TypeMap,
			Keys: &model.Field{Type: model.TypeString, LenMin: 1}, Values: &model.Field{Type: model.TypeString, LenMin: 1}},
	},
}

// Config is the decoded config record.
type Config struct {
	Path              string            `json:"path"`
	Reopen            bool              `json:"reopen"`
	CustomFieldsByLua map[string]string `json:"custom_fields_by_lua"`
}
