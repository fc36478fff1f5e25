// Package awslambda is Kong's aws-lambda plugin (3.x): it answers the
// request by invoking an AWS Lambda function (signed with Signature
// Version 4) with the request as the function's payload, Kong's own
// format or API Gateway's, and returns what the function returned; the
// route's service is not called.
package awslambda

import "sluice/internal/plugin"

// Name and Priority are Kong's.
const (
	Name     = "aws-lambda"
	Priority = 750
)

func init() {
	plugin.Register(plugin.Definition{
		Name:      Name,
		Priority:  Priority,
		Version:   "3.9.1",
		Schema:    Schema,
		Protocols: Schema.Protocols,
		New:       New,
	})
}
