package awslambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// textTypes are the content types whose unparsed body is sent as it is
// when it cannot be parsed into arguments (others are base64-encoded).
var textTypes = map[string]bool{"text/plain": true, "text/html": true, "application/xml": true,
	"text/xml": true, "application/soap+xml": true}

// body reads the request's body: "" when it is larger than the client
// body buffer and skip_large_bodies is on (Kong skips a body nginx
// buffered to disk), and whether the read was complete.
func (l *Lambda) body(r *http.Request) []byte {
	limit := int64(MaxBody)
	if l.conf.SkipLargeBodies {
		limit = plugin.ClientBodyBufferSize()
	}
	b, complete := plugin.ReadBody(r, limit)
	if !complete {
		if l.conf.SkipLargeBodies {
			l.log.Error("aws-lambda: request body was buffered to disk, too large")
		} else {
			l.log.Error("aws-lambda: request body larger than 8 MiB: not sent")
		}
		return nil
	}
	return b
}

// payload is the function's input, as JSON.
func (l *Lambda) payload(c *plugin.Ctx) ([]byte, error) {
	if l.conf.AWSGatewayCompatible {
		return json.Marshal(l.gatewayEvent(c))
	}
	r := c.Request
	query := plugin.QueryTable(r.URL.RawQuery)
	if !l.conf.ForwardRequestMethod && !l.conf.ForwardRequestURI && !l.conf.ForwardRequestHeaders && !l.conf.ForwardRequestBody {
		// Kong's kong.table.merge(get_query(), get_body()): body arguments
		// over query arguments
		args, _ := plugin.BodyArgs(r.Header.Get("Content-Type"), l.body(r))
		switch t := args.(type) {
		case map[string]any:
			for k, v := range t {
				query[k] = v
			}
		case []any:
			if len(query) == 0 {
				return json.Marshal(t)
			}
			for i, v := range t {
				query[strconv.Itoa(i+1)] = v
			}
		}
		return json.Marshal(query)
	}
	p := map[string]any{}
	if l.conf.ForwardRequestMethod {
		p["request_method"] = r.Method
	}
	if l.conf.ForwardRequestHeaders {
		p["request_headers"] = requestHeaders(r)
	}
	if l.conf.ForwardRequestURI {
		p["request_uri"] = plugin.RequestURI(r)
		p["request_uri_args"] = query
	}
	if l.conf.ForwardRequestBody {
		raw := l.body(r)
		ct := r.Header.Get("Content-Type")
		args, err := plugin.BodyArgs(ct, raw)
		switch {
		case err == nil:
			p["request_body_args"] = args
			p["request_body"] = string(raw)
		case errors.Is(err, plugin.ErrBodyInvalidJSON):
			p["request_body"] = string(raw)
		default: // no or another content type
			p["request_body_args"] = map[string]any{}
			if !textTypes[ct] && l.conf.Base64EncodeBody {
				p["request_body"] = base64.StdEncoding.EncodeToString(raw)
				p["request_body_base64"] = true
			} else {
				p["request_body"] = string(raw)
			}
		}
	}
	return json.Marshal(p)
}

// requestHeaders is kong.request.get_headers(), Host included.
func requestHeaders(r *http.Request) map[string]any {
	h := plugin.HeaderTable(r.Header)
	if r.Host != "" {
		h["host"] = r.Host
	}
	return h
}

// gatewayEvent is API Gateway's proxy integration event, version 1.0.
func (l *Lambda) gatewayEvent(c *plugin.Ctx) map[string]any {
	r := c.Request
	headers, multi := map[string]any{}, map[string]any{}
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		headers[k] = vs[0]
		multi[k] = append([]string(nil), vs...)
	}
	if r.Host != "" {
		headers["host"], multi["host"] = r.Host, []string{r.Host}
	}
	qs, mqs := map[string]any{}, map[string]any{}
	for k, v := range plugin.QueryTable(r.URL.RawQuery) {
		switch t := v.(type) {
		case []any:
			qs[k], mqs[k] = t[0], t
		default:
			qs[k], mqs[k] = t, []any{t}
		}
	}
	params := map[string]any{}
	for k, v := range c.Captures {
		if _, err := strconv.Atoi(k); err != nil {
			params[k] = v
		}
	}
	path := c.UpstreamPath
	if path == "" {
		path = r.URL.EscapedPath()
	}
	resource := ""
	if c.Route != nil && len(c.Route.Paths) > 0 {
		resource = c.Route.Paths[0]
	}
	raw := l.body(r)
	body, b64 := string(raw), false
	if (raw == nil || len(raw) > 0) && l.conf.Base64EncodeBody {
		body, b64 = base64.StdEncoding.EncodeToString(raw), true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	start := c.Timing.Start
	if start.IsZero() {
		start = now()
	}
	return map[string]any{
		"version":                         "1.0",
		"resource":                        resource,
		"path":                            path,
		"httpMethod":                      r.Method,
		"headers":                         headers,
		"multiValueHeaders":               multi,
		"queryStringParameters":           qs,
		"multiValueQueryStringParameters": mqs,
		"pathParameters":                  params,
		"body":                            body,
		"isBase64Encoded":                 b64,
		"requestContext": map[string]any{
			"path":             path,
			"resourcePath":     path,
			"protocol":         r.Proto,
			"httpMethod":       r.Method,
			"domainName":       host,
			"domainPrefix":     prefix,
			"identity":         map[string]any{"sourceIp": c.ClientIP, "userAgent": r.Header.Get("User-Agent")},
			"requestId":        c.RequestID,
			"requestTime":      start.Format("02/Jan/2006:15:04:05 -0700"),
			"requestTimeEpoch": start.UnixMilli(),
		},
	}
}
