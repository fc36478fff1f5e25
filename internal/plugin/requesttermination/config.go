package requesttermination

import "sluice/internal/model"

// Schema is the config record of request-termination (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "status_code", Type: model.TypeInteger, Required: true, Default: 503, Between: []float64{100, 599}},
		{Name: "message", Type: model.TypeString},
		{Name: "content_type", Type: model.TypeString},
		{Name: "body", Type: model.TypeString},
		{Name: "echo", Type: model.TypeBoolean, Required: true, Default: false},
		model.HeaderNameField("trigger"),
	},
	ConfigValidator: validate,
}

// validate is Kong's custom_validator: message excludes body and
// content_type, content_type needs a body, echo excludes both.
func validate(cfg map[string]any) string {
	message, contentType, body := present(cfg["message"]), present(cfg["content_type"]), present(cfg["body"])
	switch {
	case message && (contentType || body):
		return "message cannot be used with content_type or body"
	case contentType && !body:
		return "content_type requires a body"
	case cfg["echo"] == true && (contentType || body):
		return "echo cannot be used with content_type and body"
	}
	return ""
}

// present is Kong's is_present: a non-empty string.
func present(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// Config is the decoded config record.
type Config struct {
	StatusCode  int     `json:"status_code"`
	Message     string  `json:"message"`
	ContentType string  `json:"content_type"`
	Body        *string `json:"body"` // nil: not configured ("" is a body)
	Echo        bool    `json:"echo"`
	Trigger     string  `json:"trigger"`
}
