package standardwebhooks

import "sluice/internal/model"

// Schema is standard-webhooks' config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "secret_v1", Type: model.TypeString, Required: true, Referenceable: true, Encrypted: true},
		{Name: "tolerance_second", Type: model.TypeInteger, Required: true, Default: 300, Gt: model.Float(-1)},
	},
}

// Config is the decoded config record.
type Config struct {
	SecretV1        string `json:"secret_v1"`
	ToleranceSecond int64  `json:"tolerance_second"`
}
