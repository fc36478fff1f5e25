package redirect

import "sluice/internal/model"

// Schema is redirect's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "status_code", Type: model.TypeInteger, Required: true, Default: 301, Between: []float64{100, 599}},
		model.Require(model.URLField("location")),
		{Name: "keep_incoming_path", Type: model.TypeBoolean, Default: false},
	},
}

// Config is the decoded config record.
type Config struct {
	StatusCode       int    `json:"status_code"`
	Location         string `json:"location"`
	KeepIncomingPath bool   `json:"keep_incoming_path"`
}
