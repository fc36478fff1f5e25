package awslambda

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"sluice/internal/proxytest"
)

// fakeLambda is an Invoke API: it records each call and answers with the
// handler's status, headers and body.
type fakeLambda struct {
	mu    sync.Mutex
	calls []call
	reply func(w http.ResponseWriter, payload []byte)
	port  string
}

type call struct {
	method, path, query, host string
	header                    http.Header
	payload                   map[string]any
	raw                       []byte
}

func newFake(t *testing.T) *fakeLambda {
	f := &fakeLambda{reply: func(w http.ResponseWriter, payload []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "req-1")
		w.Write(payload) // echo
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(b, &p)
		f.mu.Lock()
		f.calls = append(f.calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Host, r.Header.Clone(), p, b})
		f.mu.Unlock()
		f.reply(w, b)
	}))
	t.Cleanup(srv.Close)
	_, f.port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return f
}

func (f *fakeLambda) last(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the function was not invoked")
	}
	return f.calls[len(f.calls)-1]
}

// gateway serves the plugin with cfg (JSON fields added to the fake's
// address, region and keys).
func (f *fakeLambda) gateway(t *testing.T, extra string) *proxytest.Gateway {
	cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%s,"disable_https":true,"aws_region":"us-east-1",
		"aws_key":"AKIDEXAMPLE","aws_secret":"secret","function_name":"kongLambdaTest"%s}`, f.port, extra)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the service was called")
	})
	return proxytest.New(t, up, map[string]string{Name: cfg})
}

func TestInvokeDefaultPayload(t *testing.T) {
	f := newFake(t)
	g := f.gateway(t, `,"qualifier":"v1"`)
	res, body := g.Do(t, "POST", "/post?key1=from_query&key2=q", map[string]string{"Content-Type": "application/json"}, `{"key2":"from_body","n":1}`)
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s", res.StatusCode, body)
	}
	c := f.last(t)
	if c.method != "POST" || c.path != "/2015-03-31/functions/kongLambdaTest/invocations" || c.query != "Qualifier=v1" {
		t.Errorf("invoked %s %s?%s", c.method, c.path, c.query)
	}
	if c.host != "127.0.0.1:"+f.port || c.header.Get("X-Amz-Invocation-Type") != "RequestResponse" || c.header.Get("X-Amz-Log-Type") != "Tail" {
		t.Errorf("host %q, headers %v", c.host, c.header)
	}
	auth := c.header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/lambda/aws4_request") ||
		!strings.Contains(auth, "SignedHeaders=host;x-amz-date;x-amz-invocation-type;x-amz-log-type") {
		t.Errorf("Authorization %q", auth)
	}
	want := map[string]any{"key1": "from_query", "key2": "from_body", "n": float64(1)}
	for k, v := range want {
		if c.payload[k] != v {
			t.Errorf("payload[%s] = %v; want %v (payload %s)", k, c.payload[k], v, c.raw)
		}
	}
	if res.Header.Get("X-Amzn-RequestId") != "req-1" || !strings.HasPrefix(res.Header.Get("Via"), "2 kong/") {
		t.Errorf("response headers %v", res.Header)
	}
	if body != string(c.raw) {
		t.Errorf("answer %q; want the function's %q", body, c.raw)
	}
}

func TestForwardRequest(t *testing.T) {
	f := newFake(t)
	g := f.gateway(t, `,"forward_request_method":true,"forward_request_uri":true,"forward_request_headers":true,"forward_request_body":true`)
	g.Do(t, "POST", "/post?key1=from_querystring", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Custom": "a"}, "key2=from_body")
	c := f.last(t)
	p := c.payload
	if p["request_method"] != "POST" || p["request_uri"] != "/post?key1=from_querystring" || p["request_body"] != "key2=from_body" {
		t.Errorf("payload %s", c.raw)
	}
	if args, _ := p["request_body_args"].(map[string]any); args["key2"] != "from_body" {
		t.Errorf("request_body_args %v", p["request_body_args"])
	}
	if args, _ := p["request_uri_args"].(map[string]any); args["key1"] != "from_querystring" {
		t.Errorf("request_uri_args %v", p["request_uri_args"])
	}
	if h, _ := p["request_headers"].(map[string]any); h["x-custom"] != "a" || h["host"] == nil {
		t.Errorf("request_headers %v", p["request_headers"])
	}
	// a body of another type is sent in base64; a text one as it is
	g.Do(t, "POST", "/b", map[string]string{"Content-Type": "application/octet-stream"}, "\x00\x01binary")
	if p := f.last(t).payload; p["request_body"] != base64.StdEncoding.EncodeToString([]byte("\x00\x01binary")) || p["request_body_base64"] != true {
		t.Errorf("octet-stream payload %s", f.last(t).raw)
	}
	g.Do(t, "POST", "/b", map[string]string{"Content-Type": "text/plain"}, "plain words")
	if p := f.last(t).payload; p["request_body"] != "plain words" || p["request_body_base64"] != nil {
		t.Errorf("text/plain payload %s", f.last(t).raw)
	}
	// a body larger than the client body buffer is skipped
	g.Do(t, "POST", "/b", map[string]string{"Content-Type": "text/plain"}, strings.Repeat("x", 9000))
	if p := f.last(t).payload; p["request_body"] != "" {
		t.Errorf("large body sent: %d bytes", len(fmt.Sprint(p["request_body"])))
	}
}

func TestInvocationTypesAndErrors(t *testing.T) {
	f := newFake(t)
	f.reply = func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Write([]byte(`{"errorMessage":"boom"}`))
	}
	g := f.gateway(t, `,"unhandled_status":412,"function_name":"arn:aws:lambda:us-east-1:123:function:f"`)
	res, _ := g.Do(t, "GET", "/", nil, "")
	if res.StatusCode != 412 {
		t.Errorf("unhandled error: %d; want 412", res.StatusCode)
	}
	if p := f.last(t).path; p != "/2015-03-31/functions/arn:aws:lambda:us-east-1:123:function:f/invocations" {
		t.Errorf("path %q", p)
	}
	f.reply = func(w http.ResponseWriter, _ []byte) { w.WriteHeader(202) }
	g = f.gateway(t, `,"invocation_type":"Event"`)
	if res, _ := g.Do(t, "GET", "/", nil, ""); res.StatusCode != 202 || f.last(t).header.Get("X-Amz-Invocation-Type") != "Event" {
		t.Errorf("Event: %d", res.StatusCode)
	}
	f.reply = func(w http.ResponseWriter, _ []byte) {
		w.WriteHeader(403)
		w.Write([]byte(`{"Message":"The security token included in the request is invalid."}`))
	}
	res, body := g.Do(t, "GET", "/", nil, "")
	if res.StatusCode != 500 || proxytest.Message(t, body) != "An unexpected error occurred" {
		t.Errorf("Lambda 403: %d %s; want 500", res.StatusCode, body)
	}
}

func TestProxyIntegration(t *testing.T) {
	f := newFake(t)
	g := f.gateway(t, `,"is_proxy_integration":true`)
	for _, tc := range []struct {
		reply, body string
		status      int
		header      [2]string
	}{
		{`{"statusCode":201,"headers":{"X-Foo":"bar","x-amzn-RequestId":"mine"},"body":"dGVzdA==","isBase64Encoded":true}`, "test", 201, [2]string{"X-Amzn-Requestid", "mine"}},
		{`{"statusCode":"200","body":"dGVzdA=","isBase64Encoded":false}`, "dGVzdA=", 200, [2]string{}},
		{`{"statusCode":201}`, "", 201, [2]string{}},
	} {
		f.reply = func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("X-Amzn-RequestId", "req-1")
			w.Write([]byte(tc.reply))
		}
		res, body := g.Do(t, "GET", "/", nil, "")
		if res.StatusCode != tc.status || body != tc.body || (tc.header[0] != "" && res.Header.Get(tc.header[0]) != tc.header[1]) {
			t.Errorf("reply %s: %d %q %v", tc.reply, res.StatusCode, body, res.Header)
		}
	}
	for _, bad := range []string{`not json`, `{"statusCode":"abc"}`, `{"isBase64Encoded":"yes"}`, `{"body":1}`, `{"statusCode":700}`} {
		f.reply = func(w http.ResponseWriter, _ []byte) { w.Write([]byte(bad)) }
		res, body := g.Do(t, "GET", "/", nil, "")
		var e map[string]string
		_ = json.Unmarshal([]byte(body), &e)
		if res.StatusCode != 502 || e["message"] != "Bad Gateway" || !strings.HasPrefix(e["error"], "could not JSON decode Lambda function response: ") {
			t.Errorf("reply %s: %d %s; want 502 Bad Gateway", bad, res.StatusCode, body)
		}
	}
	f.reply = func(w http.ResponseWriter, _ []byte) {
		w.Write([]byte(`{"statusCode":200,"multiValueHeaders":{"Access-Control-Allow-Origin":["site1.com","site2.com"]}}`))
	}
	if res, _ := g.Do(t, "GET", "/", nil, ""); len(res.Header.Values("Access-Control-Allow-Origin")) != 2 {
		t.Errorf("multiValueHeaders: %v", res.Header.Values("Access-Control-Allow-Origin"))
	}
}

func TestEmptyArraysMode(t *testing.T) {
	f := newFake(t)
	f.reply = func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"testbody":[],"list":[1]}`))
	}
	if _, body := f.gateway(t, "").Do(t, "GET", "/", nil, ""); !strings.Contains(body, `"testbody":{}`) || !strings.Contains(body, `"list":[1]`) {
		t.Errorf("legacy: %s", body)
	}
	if _, body := f.gateway(t, `,"empty_arrays_mode":"correct"`).Do(t, "GET", "/", nil, ""); body != `{"testbody":[],"list":[1]}` {
		t.Errorf("correct: %s", body)
	}
}

func TestGatewayEvent(t *testing.T) {
	f := newFake(t)
	g := f.gateway(t, `,"awsgateway_compatible":true`)
	g.Do(t, "POST", "/orders/7?a=1&a=2&b", map[string]string{"Content-Type": "application/json", "User-Agent": "ua"}, `{"x":1}`)
	p := f.last(t).payload
	if p["version"] != "1.0" || p["httpMethod"] != "POST" || p["path"] != "/orders/7" || p["resource"] != "/" {
		t.Errorf("event %s", f.last(t).raw)
	}
	if p["body"] != base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)) || p["isBase64Encoded"] != true {
		t.Errorf("body %v %v", p["body"], p["isBase64Encoded"])
	}
	qs, _ := p["queryStringParameters"].(map[string]any)
	mqs, _ := p["multiValueQueryStringParameters"].(map[string]any)
	if qs["a"] != "1" || qs["b"] != true || len(mqs["a"].([]any)) != 2 {
		t.Errorf("query %v %v", qs, mqs)
	}
	rc, _ := p["requestContext"].(map[string]any)
	if id, _ := rc["identity"].(map[string]any); id["userAgent"] != "ua" || id["sourceIp"] != "127.0.0.1" {
		t.Errorf("identity %v", rc["identity"])
	}
	if rc["requestId"] == "" || rc["domainName"] != "127.0.0.1" {
		t.Errorf("requestContext %v", rc)
	}
}

func TestSchemaAndConfigErrors(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"function_name": "f", "aws_key": "k"},
		{"function_name": "f", "proxy_url": "https://proxy:3128"},
		{"function_name": "f", "unhandled_status": 1000},
		{"function_name": "f", "invocation_type": "Async"},
	} {
		if _, serr := Schema.Process(cfg, nil); serr == nil {
			t.Errorf("%v accepted", cfg)
		}
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	f := newFake(t)
	up := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	g := proxytest.New(t, up, map[string]string{Name: `{"function_name":"f","aws_key":"k","aws_secret":"s","host":"127.0.0.1","port":` + f.port + `}`})
	if res, _ := g.Do(t, "GET", "/", nil, ""); res.StatusCode != 500 {
		t.Errorf("no region: %d; want 500", res.StatusCode)
	}
}

// An answer larger than MaxBody is refused, not cut; a multiValueHeaders
// entry that is not a list sets the header.
func TestLargeAnswerAndScalarMultiValue(t *testing.T) {
	f := newFake(t)
	f.reply = func(w http.ResponseWriter, _ []byte) { w.Write(make([]byte, MaxBody+1)) }
	g := f.gateway(t, "")
	if res, _ := g.Do(t, "GET", "/", nil, ""); res.StatusCode != 500 {
		t.Errorf("answer over %d bytes: %d; want 500", MaxBody, res.StatusCode)
	}
	f.reply = func(w http.ResponseWriter, _ []byte) {
		w.Write([]byte(`{"statusCode":200,"multiValueHeaders":{"X-One":"a"}}`))
	}
	if res, _ := f.gateway(t, `,"is_proxy_integration":true`).Do(t, "GET", "/", nil, ""); res.Header.Get("X-One") != "a" {
		t.Errorf("scalar multiValueHeaders entry: X-One %q; want a", res.Header.Get("X-One"))
	}
}

// FuzzProxyResponse: any function answer is either refused with an error
// or gives a status in 100-599, without a panic.
func FuzzProxyResponse(f *testing.F) {
	for _, s := range []string{`{"statusCode":201,"body":"dGVzdA==","isBase64Encoded":true}`, `{"statusCode":"abc"}`, `[]`, `null`,
		`{"headers":{"a":1,"b":null},"multiValueHeaders":{"c":["x",2],"d":"y"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		status, _, err := proxyResponse(raw, http.Header{})
		if err == nil && (status < 100 || status > 599) {
			t.Fatalf("%q: status %d", raw, status)
		}
	})
}
