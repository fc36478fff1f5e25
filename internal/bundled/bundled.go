// Package bundled imports every plugin that ships with sluice, so that each
// registers itself (Kong's "bundled" plugins). cmd/sluice imports it, and so
// does the test that checks every plugin's README.
package bundled

import (
	_ "sluice/internal/plugin/acl"
	_ "sluice/internal/plugin/awslambda"
	_ "sluice/internal/plugin/azurefunctions"
	_ "sluice/internal/plugin/basicauth"
	_ "sluice/internal/plugin/botdetection"
	_ "sluice/internal/plugin/correlationid"
	_ "sluice/internal/plugin/cors"
	_ "sluice/internal/plugin/datadog"
	_ "sluice/internal/plugin/filelog"
	_ "sluice/internal/plugin/hmacauth"
	_ "sluice/internal/plugin/httplog"
	_ "sluice/internal/plugin/iprestriction"
	_ "sluice/internal/plugin/jwt"
	_ "sluice/internal/plugin/keyauth"
	_ "sluice/internal/plugin/loggly"
	_ "sluice/internal/plugin/opentelemetry"
	_ "sluice/internal/plugin/prometheus"
	_ "sluice/internal/plugin/proxycache"
	_ "sluice/internal/plugin/ratelimiting"
	_ "sluice/internal/plugin/redirect"
	_ "sluice/internal/plugin/requestsizelimiting"
	_ "sluice/internal/plugin/requesttermination"
	_ "sluice/internal/plugin/requesttransformer"
	_ "sluice/internal/plugin/responseratelimiting"
	_ "sluice/internal/plugin/responsetransformer"
	_ "sluice/internal/plugin/serverless"
	_ "sluice/internal/plugin/standardwebhooks"
	_ "sluice/internal/plugin/statsd"
	_ "sluice/internal/plugin/syslog"
	_ "sluice/internal/plugin/tcplog"
	_ "sluice/internal/plugin/udplog"
	_ "sluice/internal/plugin/zipkin"
)
