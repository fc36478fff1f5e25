package awslambda

import (
	"net/url"

	"sluice/internal/model"
)

func withDefault(f *model.Field, v any) *model.Field {
	f.Default = v
	return f
}

// Schema is aws-lambda's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "timeout", Type: model.TypeNumber, Required: true, Default: 60000},
		{Name: "keepalive", Type: model.TypeNumber, Required: true, Default: 60000},
		{Name: "aws_key", Type: model.TypeString, Encrypted: true, Referenceable: true},
		{Name: "aws_secret", Type: model.TypeString, Encrypted: true, Referenceable: true},
		{Name: "aws_assume_role_arn", Type: model.TypeString, Encrypted: true, Referenceable: true},
		{Name: "aws_role_session_name", Type: model.TypeString, Default: "kong"},
		model.URLField("aws_sts_endpoint_url"),
		model.HostField("aws_region"),
		{Name: "function_name", Type: model.TypeString},
		{Name: "qualifier", Type: model.TypeString},
		{Name: "invocation_type", Type: model.TypeString, Required: true, Default: "RequestResponse",
			OneOf: []any{"RequestResponse", "Event", "DryRun"}},
		{Name: "log_type", Type: model.TypeString, Required: true, Default: "Tail", OneOf: []any{"Tail", "None"}},
		model.HostField("host"),
		withDefault(model.PortField("port"), 443),
		{Name: "disable_https", Type: model.TypeBoolean, Default: false},
		{Name: "unhandled_status", Type: model.TypeInteger, Between: []float64{100, 999}},
		{Name: "forward_request_method", Type: model.TypeBoolean, Default: false},
		{Name: "forward_request_uri", Type: model.TypeBoolean, Default: false},
		{Name: "forward_request_headers", Type: model.TypeBoolean, Default: false},
		{Name: "forward_request_body", Type: model.TypeBoolean, Default: false},
		{Name: "is_proxy_integration", Type: model.TypeBoolean, Default: false},
		{Name: "awsgateway_compatible", Type: model.TypeBoolean, Default: false},
		model.URLField("proxy_url"),
		{Name: "skip_large_bodies", Type: model.TypeBoolean, Default: true},
		{Name: "base64_encode_body", Type: model.TypeBoolean, Default: true},
		{Name: "aws_imds_protocol_version", Type: model.TypeString, Required: true, Default: "v1", OneOf: []any{"v1", "v2"}},
		{Name: "empty_arrays_mode", Type: model.TypeString, Required: true, Default: "legacy", OneOf: []any{"legacy", "correct"}},
	},
	Checks: []*model.Check{
		{MutuallyRequired: []string{"aws_key", "aws_secret"}},
		{Custom: &model.CustomCheck{Fn: func(rec map[string]any) ([]string, map[string]any) {
			if s, ok := rec["proxy_url"].(string); ok {
				if u, err := url.Parse(s); err == nil && u.Scheme != "http" {
					return []string{"proxy_url scheme must be http"}, nil
				}
			}
			return nil, nil
		}}},
	},
}

// Config is the decoded config record.
type Config struct {
	Timeout               float64 `json:"timeout"`   // ms
	Keepalive             float64 `json:"keepalive"` // ms
	AWSKey                string  `json:"aws_key"`
	AWSSecret             string  `json:"aws_secret"`
	AWSAssumeRoleARN      string  `json:"aws_assume_role_arn"`
	AWSRegion             string  `json:"aws_region"`
	FunctionName          string  `json:"function_name"`
	Qualifier             string  `json:"qualifier"`
	InvocationType        string  `json:"invocation_type"`
	LogType               string  `json:"log_type"`
	Host                  string  `json:"host"`
	Port                  int     `json:"port"`
	DisableHTTPS          bool    `json:"disable_https"`
	UnhandledStatus       *int    `json:"unhandled_status"`
	ForwardRequestMethod  bool    `json:"forward_request_method"`
	ForwardRequestURI     bool    `json:"forward_request_uri"`
	ForwardRequestHeaders bool    `json:"forward_request_headers"`
	ForwardRequestBody    bool    `json:"forward_request_body"`
	IsProxyIntegration    bool    `json:"is_proxy_integration"`
	AWSGatewayCompatible  bool    `json:"awsgateway_compatible"`
	ProxyURL              string  `json:"proxy_url"`
	SkipLargeBodies       bool    `json:"skip_large_bodies"`
	Base64EncodeBody      bool    `json:"base64_encode_body"`
	EmptyArraysMode       string  `json:"empty_arrays_mode"`
}
