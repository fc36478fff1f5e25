package redirect

import (
	"net/url"

	"sluice/internal/model"
)

// Schema is redirect's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "status_code", Type: model.TypeInteger, Required: true, Default: 301, Between: []float64{100, 599}},
		{Name: "location", Type: model.TypeString, Required: true, Custom: validateURL},
		{Name: "keep_incoming_path", Type: model.TypeBoolean, Default: false},
	},
}

// validateURL is Kong's typedefs.url: a host and a scheme.
func validateURL(v any) string {
	s, _ := v.(string)
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return "missing host in url"
	case u.Scheme == "":
		return "missing scheme in url"
	}
	return ""
}

// Config is the decoded config record.
type Config struct {
	StatusCode       int    `json:"status_code"`
	Location         string `json:"location"`
	KeepIncomingPath bool   `json:"keep_incoming_path"`
}
