package awslambda

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// MaxBody bounds a request body read when skip_large_bodies is off, and
// the Lambda's answer.
const MaxBody = 8 << 20

// now is the clock (tests fix it).
var now = time.Now

// Lambda is one plugin instance.
type Lambda struct {
	conf   Config
	region string
	cred   Credentials
	// confErr, when set, fails every request with 500 (Kong raises the
	// same error per request: no region, no credentials).
	confErr error
	url     string // the invocation URL, with Qualifier
	host    string // the Host header
	client  *http.Client
	log     *slog.Logger
	close   sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	l := &Lambda{conf: c, log: deps.Logger}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.region = c.AWSRegion
	if l.region == "" {
		l.region = os.Getenv("AWS_REGION")
	}
	if l.region == "" {
		l.region = os.Getenv("AWS_DEFAULT_REGION")
	}
	switch {
	case c.AWSKey != "":
		l.cred = Credentials{AccessKey: c.AWSKey, SecretKey: c.AWSSecret}
	case os.Getenv("AWS_ACCESS_KEY_ID") != "":
		l.cred = Credentials{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
	}
	switch {
	case l.region == "":
		l.confErr = errors.New("no region specified")
	case c.AWSAssumeRoleARN != "":
		l.confErr = errors.New("aws_assume_role_arn is not supported by sluice")
	case l.cred.AccessKey == "":
		l.confErr = errors.New("no AWS credentials: set aws_key and aws_secret, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case c.FunctionName == "":
		l.confErr = errors.New("no function_name")
	}
	host := c.Host
	if host == "" {
		host = "lambda." + l.region + ".amazonaws.com"
	}
	scheme, port := "https", c.Port
	if c.DisableHTTPS {
		scheme = "http"
	}
	if port == 0 {
		port = 443
	}
	l.host = host
	if scheme == "https" && port != 443 || scheme == "http" && port != 80 {
		l.host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)),
		Path:    "/2015-03-31/functions/" + c.FunctionName + "/invocations",
		RawPath: "/2015-03-31/functions/" + escapeName(c.FunctionName) + "/invocations"}
	if c.Qualifier != "" {
		u.RawQuery = "Qualifier=" + url.QueryEscape(c.Qualifier)
	}
	l.url = u.String()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Kong's ssl_verify = false
		IdleConnTimeout:     time.Duration(c.Keepalive * float64(time.Millisecond)),
		MaxIdleConnsPerHost: 16,
	}
	if c.ProxyURL != "" {
		if pu, err := url.Parse(c.ProxyURL); err == nil {
			tr.Proxy = http.ProxyURL(pu)
		}
	}
	l.client = &http.Client{Transport: tr, Timeout: time.Duration(c.Timeout * float64(time.Millisecond)),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return l, nil
}

// escapeName escapes a function name as Kong does: everything outside
// unreserved and reserved characters (so an ARN keeps its colons).
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || strings.IndexByte("!#$&'()*+,/:;=?@[]-_.~%", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// Close drops the idle connections to Lambda.
func (l *Lambda) Close() {
	l.close.Do(func() { l.client.CloseIdleConnections() })
}

// Access invokes the function and answers with what it returned.
func (l *Lambda) Access(c *plugin.Ctx) {
	if l.confErr != nil {
		l.log.Error("aws-lambda: " + l.confErr.Error())
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	payload, err := l.payload(c)
	if err != nil {
		l.log.Error("aws-lambda: could not JSON encode upstream body", "error", err)
		payload = nil
	}
	start := now()
	status, resHeader, body, err := l.invoke(c.Request.Context(), payload)
	c.Timing.Upstream = now().Sub(start)
	if err != nil {
		l.log.Error("aws-lambda: invoking the function failed", "error", err)
		c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		return
	}
	h := plugin.AnswerHeaders(resHeader)
	if l.conf.IsProxyIntegration {
		var perr error
		status, body, perr = proxyResponse(body, h)
		if perr != nil {
			b, _ := json.Marshal(map[string]string{"message": "Bad Gateway",
				"error": "could not JSON decode Lambda function response: " + perr.Error()})
			c.Terminate(&plugin.Exit{Status: http.StatusBadGateway, Body: b,
				Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}})
			return
		}
	} else {
		if l.conf.UnhandledStatus != nil && resHeader.Get("X-Amz-Function-Error") == "Unhandled" {
			status = *l.conf.UnhandledStatus
		}
		if l.conf.EmptyArraysMode == "legacy" && isJSON(h.Get("Content-Type")) {
			body = emptyArraysAsObjects(body)
		}
	}
	via := "2 kong/" + model.KongVersion
	if v := h.Get("Via"); v != "" {
		via = v + ", " + via
	}
	h.Set("Via", via)
	if body == nil {
		body = []byte{}
	}
	c.Terminate(&plugin.Exit{Status: status, Body: body, Header: h})
}

var jsonType = regexp.MustCompile(`application/.*json`)

func isJSON(ct string) bool { return jsonType.MatchString(ct) }

// invoke calls the Lambda Invoke API, signed, and returns its answer.
func (l *Lambda) invoke(ctx context.Context, payload []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Host = l.host
	req.Header.Set("X-Amz-Invocation-Type", l.conf.InvocationType)
	req.Header.Set("X-Amz-Log-Type", l.conf.LogType)
	sign(req, payload, l.cred, l.region, "lambda", now())
	res, err := l.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(body) > MaxBody {
		return 0, nil, nil, fmt.Errorf("the function's answer is larger than %d bytes", MaxBody)
	}
	if res.StatusCode >= 400 {
		var e struct{ Message, Type string }
		_ = json.Unmarshal(body, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return 0, nil, nil, fmt.Errorf("lambda answered %d: %s", res.StatusCode, e.Message)
	}
	return res.StatusCode, res.Header, body, nil
}

// proxyResponse reads an API Gateway proxy integration answer: statusCode,
// headers, multiValueHeaders, body, isBase64Encoded.
func proxyResponse(raw []byte, h http.Header) (int, []byte, error) {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || v == nil {
		return 0, nil, errors.New("proxy response must be json format")
	}
	status := 200
	switch s := v["statusCode"].(type) {
	case nil:
	case json.Number:
		n, err := strconv.ParseFloat(string(s), 64)
		if err != nil || n < 100 || n > 599 {
			return 0, nil, errors.New("statusCode validation failed")
		}
		status = int(n)
	case string:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 100 || n > 599 {
			return 0, nil, errors.New("statusCode validation failed")
		}
		status = int(n)
	default:
		return 0, nil, errors.New("statusCode validation failed")
	}
	headers, ok := v["headers"].(map[string]any)
	if !ok && v["headers"] != nil {
		return 0, nil, errors.New("headers must be a table")
	}
	body := ""
	switch b := v["body"].(type) {
	case nil:
	case string:
		body = b
	default:
		return 0, nil, errors.New("body must be a string")
	}
	b64 := false
	switch e := v["isBase64Encoded"].(type) {
	case nil:
	case bool:
		b64 = e
	default:
		return 0, nil, errors.New("isBase64Encoded must be a boolean")
	}
	out := []byte(body)
	if b64 {
		d, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return 0, nil, errors.New("body is not valid base64")
		}
		out = d
	}
	for k, val := range headers {
		h.Set(k, scalar(val))
	}
	if mv, ok := v["multiValueHeaders"].(map[string]any); ok {
		for k, val := range mv {
			list, ok := val.([]any)
			if !ok {
				h.Set(k, scalar(val))
				continue
			}
			h.Del(k)
			for _, e := range list {
				h.Add(k, scalar(e))
			}
		}
	}
	return status, out, nil
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// emptyArraysAsObjects is Kong's legacy empty_arrays_mode: the JSON
// answer, decoded and encoded again, has {} where it had [].
func emptyArraysAsObjects(raw []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return raw
	}
	out, err := json.Marshal(legacyArrays(v))
	if err != nil {
		return raw
	}
	return out
}

func legacyArrays(v any) any {
	switch t := v.(type) {
	case []any:
		if len(t) == 0 {
			return map[string]any{}
		}
		for i, e := range t {
			t[i] = legacyArrays(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = legacyArrays(e)
		}
	}
	return v
}
