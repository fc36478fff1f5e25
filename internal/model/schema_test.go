package model

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const (
	uuid1 = "a4fbd24e-6a52-4937-bd78-2536713072d2"
	uuid2 = "64a8670b-900f-44e7-a900-6ec7ef5aa4d3"
)

// decodeJSON turns a JSON literal into the generic input Process takes.
func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test input %s: %v", s, err)
	}
	return m
}

func mustLookup(t testing.TB, name string) *Schema {
	t.Helper()
	s, ok := Lookup(name)
	if !ok {
		t.Fatalf("Lookup(%q) failed", name)
	}
	return s
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

type schemaCase struct {
	name   string
	entity string
	in     string
	// fields is the JSON of SchemaError.Fields; "" means the input is valid.
	fields string
	// msg is SchemaError.Error(); checked when not empty.
	msg string
}

func runSchemaCases(t *testing.T, cases []schemaCase, opts *ProcessOptions) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.entity+"/"+tc.name, func(t *testing.T) {
			s := mustLookup(t, tc.entity)
			out, err := s.Process(decodeJSON(t, tc.in), opts)
			if tc.fields == "" {
				if err != nil {
					t.Fatalf("Process(%s) error %q (%s); want none", tc.in, err.Error(), toJSON(err.Fields))
				}
				if out == nil {
					t.Fatalf("Process(%s) returned nil record", tc.in)
				}
				return
			}
			if err == nil {
				t.Fatalf("Process(%s) = %s; want error %s", tc.in, toJSON(out), tc.fields)
			}
			var want any
			if jerr := json.Unmarshal([]byte(tc.fields), &want); jerr != nil {
				t.Fatalf("bad fields literal: %v", jerr)
			}
			var got any
			_ = json.Unmarshal([]byte(toJSON(err.Fields)), &got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Process(%s) fields\n got %s\nwant %s", tc.in, toJSON(err.Fields), tc.fields)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("Error()\n got %q\nwant %q", err.Error(), tc.msg)
			}
		})
	}
}

func TestServices(t *testing.T) {
	runSchemaCases(t, []schemaCase{
		{name: "minimal", entity: "services", in: `{"host":"example.com"}`},
		{name: "url shorthand", entity: "services", in: `{"url":"https://example.com/api"}`},
		{name: "utf8 name", entity: "services", in: `{"name":"sérvice-1","host":"a.b"}`},
		{name: "https with tls options", entity: "services",
			in: `{"protocol":"https","host":"a.b","tls_verify":true,"tls_verify_depth":3,"ca_certificates":["` + uuid1 + `"],"client_certificate":{"id":"` + uuid2 + `"}}`},
		{name: "missing host", entity: "services", in: `{}`,
			fields: `{"host":"required field missing"}`,
			msg:    "schema violation (host: required field missing)"},
		{name: "null host", entity: "services", in: `{"host":null}`,
			fields: `{"host":"required field missing"}`},
		{name: "unknown field", entity: "services", in: `{"host":"a","foo":1}`,
			fields: `{"foo":"unknown field"}`,
			msg:    "schema violation (foo: unknown field)"},
		{name: "bad types", entity: "services", in: `{"host":1,"port":"80","retries":1.5,"enabled":"yes"}`,
			fields: `{"host":"expected a string","port":"expected an integer","retries":"expected an integer","enabled":"expected a boolean"}`,
			msg:    "4 schema violations (enabled: expected a boolean; host: expected a string; port: expected an integer; retries: expected an integer)"},
		{name: "bad protocol", entity: "services", in: `{"host":"a","protocol":"ftp"}`,
			fields: `{"protocol":"expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"}`},
		{name: "host with port", entity: "services", in: `{"host":"a.com:80"}`,
			fields: `{"host":"must not have a port"}`},
		{name: "invalid host", entity: "services", in: `{"host":"a b"}`,
			fields: `{"host":"invalid value: a b"}`},
		{name: "timeouts", entity: "services", in: `{"host":"a","connect_timeout":0,"read_timeout":2147483647}`,
			fields: `{"connect_timeout":"value should be between 1 and 2147483646","read_timeout":"value should be between 1 and 2147483646"}`},
		{name: "retries range", entity: "services", in: `{"host":"a","retries":32768}`,
			fields: `{"retries":"value should be between 0 and 32767"}`},
		{name: "ascii name rule", entity: "services", in: `{"host":"a","name":"a b"}`,
			fields: `{"name":"invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}`},
		{name: "path typedef", entity: "services", in: `{"host":"a","path":"foo"}`,
			fields: `{"path":"should start with: /"}`},
		{name: "path empty segment", entity: "services", in: `{"host":"a","path":"/a//b"}`,
			fields: `{"path":"must not have empty segments"}`},
		{name: "path characters", entity: "services", in: `{"host":"a","path":"/a b"}`,
			fields: `{"path":"invalid path: '/a b' (characters outside of the reserved list of RFC 3986 found)"}`},
		{name: "path percent", entity: "services", in: `{"host":"a","path":"/a%zz"}`,
			fields: `{"path":"invalid url-encoded value: '%zz'"}`},
		{name: "path must be null for tcp", entity: "services", in: `{"host":"a","protocol":"tcp","path":"/x"}`,
			fields: `{"@entity":["failed conditional validation given value of field 'protocol'"],"path":"value must be null"}`,
			msg:    "2 schema violations (failed conditional validation given value of field 'protocol'; path: value must be null)"},
		{name: "tls options only for https", entity: "services",
			in:     `{"host":"a","tls_verify":true,"ca_certificates":["` + uuid1 + `"],"client_certificate":{"id":"` + uuid1 + `"}}`,
			fields: `{"@entity":["failed conditional validation given value of field 'protocol'"],"tls_verify":"value must be null","ca_certificates":"value must be null","client_certificate":"value must be null"}`},
		{name: "ca certificate uuid", entity: "services", in: `{"host":"a","protocol":"https","ca_certificates":["x"]}`,
			fields: `{"ca_certificates":["expected a valid UUID"]}`,
			msg:    "schema violation (ca_certificates.1: expected a valid UUID)"},
		{name: "bad id", entity: "services", in: `{"host":"a","id":"123"}`,
			fields: `{"id":"expected a valid UUID"}`},
		{name: "bad tag", entity: "services", in: `{"host":"a","tags":["ok","a,b"]}`,
			fields: "{\"tags\":[null,\"invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences\"]}"},
		{name: "empty string", entity: "services", in: `{"host":""}`,
			fields: `{"host":"length must be at least 1"}`},
		{name: "bad foreign", entity: "services", in: `{"host":"a","protocol":"https","client_certificate":{"id":"nope"}}`,
			fields: `{"client_certificate":{"id":"expected a valid UUID"}}`,
			msg:    "schema violation (client_certificate.id: expected a valid UUID)"},
	}, nil)
}

func TestServiceURLShorthand(t *testing.T) {
	s := mustLookup(t, "services")
	tests := []struct {
		url                  string
		protocol, host, path any
		port                 int
	}{
		{"http://example.com", "http", "example.com", nil, 80},
		{"https://example.com", "https", "example.com", nil, 443},
		{"https://example.com:8443/a/b", "https", "example.com", "/a/b", 8443},
		{"grpc://svc:50051", "grpc", "svc", nil, 50051},
		{"http://[::1]:8080/", "http", "::1", "/", 8080},
	}
	for _, tt := range tests {
		out, err := s.Process(map[string]any{"url": tt.url}, nil)
		if err != nil {
			t.Errorf("url %q: %v", tt.url, err)
			continue
		}
		if out["protocol"] != tt.protocol || out["host"] != tt.host || out["port"] != tt.port || out["path"] != tt.path {
			t.Errorf("url %q: got protocol=%v host=%v port=%v path=%v; want %v %v %v %v", tt.url,
				out["protocol"], out["host"], out["port"], out["path"], tt.protocol, tt.host, tt.port, tt.path)
		}
		if _, ok := out["url"]; ok {
			t.Errorf("url %q: output keeps the write-only url field", tt.url)
		}
	}
}

func TestRoutes(t *testing.T) {
	runSchemaCases(t, []schemaCase{
		{name: "paths", entity: "routes", in: `{"paths":["/","/a","~/v(?<ver>\\d+)/.*$","/ä%2F","/%25"]}`},
		{name: "hosts", entity: "routes", in: `{"hosts":["example.com","*.example.com","example.*","a.com:8080"]}`},
		{name: "headers", entity: "routes", in: `{"headers":{"x-version":["v1","~*v\\d"]}}`},
		{name: "tcp", entity: "routes", in: `{"protocols":["tcp"],"destinations":[{"ip":"10.0.0.0/8","port":80}]}`},
		{name: "tls passthrough", entity: "routes", in: `{"protocols":["tls_passthrough"],"snis":["a.com"]}`},
		{name: "grpc", entity: "routes", in: `{"protocols":["grpc","grpcs"],"paths":["/pkg.Svc/"]}`},
		{name: "https snis only", entity: "routes", in: `{"protocols":["https"],"snis":["*.example.com"]}`},
		{name: "no matching attribute", entity: "routes", in: `{}`,
			fields: `{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}`,
			msg:    "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')"},
		{name: "http needs attribute", entity: "routes", in: `{"protocols":["http"]}`,
			fields: `{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"]}`},
		{name: "path prefix", entity: "routes", in: `{"paths":["/ok","foo"]}`,
			fields: `{"paths":[null,"should start with: / (fixed path) or ~/ (regex path)"]}`,
			msg:    "schema violation (paths.2: should start with: / (fixed path) or ~/ (regex path))"},
		{name: "path empty segments", entity: "routes", in: `{"paths":["/a//b"]}`,
			fields: `{"paths":["must not have empty segments"]}`},
		{name: "path not normalized", entity: "routes", in: `{"paths":["/a/./b","/%7euser","/%2f","/%c3%A4","/%20"]}`,
			fields: `{"paths":["non-normalized path, consider use '/a/b' instead","non-normalized path, consider use '/~user' instead","non-normalized path, consider use '/%2F' instead","non-normalized path, consider use '/ä' instead","non-normalized path, consider use '/ ' instead"]}`},
		{name: "path bad percent", entity: "routes", in: `{"paths":["/a%2"]}`,
			fields: `{"paths":["invalid url-encoded value: '%2'"]}`},
		{name: "regex lookahead", entity: "routes", in: `{"paths":["~/(?=a)b"]}`,
			fields: "{\"paths\":[\"invalid regex: '/(?=a)b' (PCRE returned: error parsing regexp: invalid or unsupported Perl syntax: `(?=`)\"]}"},
		{name: "regex unbalanced", entity: "routes", in: `{"paths":["~/(a"]}`,
			fields: "{\"paths\":[\"invalid regex: '/(a' (PCRE returned: error parsing regexp: missing closing ): `^(?:/(a)`)\"]}"},
		{name: "methods", entity: "routes", in: `{"methods":["GET","get"]}`,
			fields: `{"methods":[null,"invalid value: get"]}`},
		{name: "host wildcards", entity: "routes", in: `{"hosts":["*.a.*","a.*.b","a b"]}`,
			fields: `{"hosts":["invalid wildcard: must have at most one wildcard","invalid wildcard: must be placed at leftmost or rightmost label","invalid hostname: a b"]}`},
		{name: "host header", entity: "routes", in: `{"headers":{"Host":["a"]}}`,
			fields: `{"headers":"cannot contain 'host' header, which must be specified in the 'hosts' attribute"}`},
		{name: "redirect code", entity: "routes", in: `{"paths":["/"],"https_redirect_status_code":303}`,
			fields: `{"https_redirect_status_code":"expected one of: 426, 301, 302, 307, 308"}`},
		{name: "snis with http", entity: "routes", in: `{"protocols":["http"],"paths":["/"],"snis":["a.com"]}`,
			fields: `{"@entity":["'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"],"snis":"length must be 0"}`,
			msg:    "2 schema violations ('snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'; snis: length must be 0)"},
		{name: "snis ip", entity: "routes", in: `{"snis":["1.2.3.4"]}`,
			fields: `{"snis":["must not be an IP"]}`},
		{name: "sources on http", entity: "routes", in: `{"paths":["/"],"sources":[{"ip":"1.2.3.4"}]}`,
			fields: `{"sources":"cannot set 'sources' when 'protocols' is 'http' or 'https'"}`},
		{name: "stream forbids http attributes", entity: "routes",
			in:     `{"protocols":["tcp"],"paths":["/"],"methods":["GET"],"sources":[{"port":1}]}`,
			fields: `{"paths":"cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'","methods":"cannot set 'methods' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"}`},
		{name: "stream needs attribute", entity: "routes", in: `{"protocols":["tcp"]}`,
			fields: `{"@entity":["must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'"]}`},
		{name: "passthrough needs snis", entity: "routes", in: `{"protocols":["tls_passthrough"],"sources":[{"ip":"127.0.0.1"}]}`,
			fields: `{"@entity":["must set snis when 'protocols' is 'tls_passthrough'"]}`},
		{name: "sources elements", entity: "routes", in: `{"protocols":["tcp"],"sources":[{"ip":"300.1.1.1"},{}]}`,
			fields: `{"sources":[{"ip":"invalid ip or cidr range: '300.1.1.1'"},{"@entity":["at least one of these fields must be non-empty: 'ip', 'port'"]}]}`},
		{name: "protocol groups", entity: "routes", in: `{"protocols":["tls","tls_passthrough"],"snis":["a"]}`,
			fields: `{"protocols":"these sets are mutually exclusive: ('tcp', 'tls', 'udp'), ('tls_passthrough')"}`},
		{name: "http and grpc", entity: "routes", in: `{"protocols":["http","grpc"],"paths":["/"]}`,
			fields: `{"protocols":"these sets are mutually exclusive: ('http', 'https'), ('grpc', 'grpcs')"}`},
		{name: "empty protocols", entity: "routes", in: `{"protocols":[],"paths":["/"]}`,
			fields: `{"protocols":"length must be at least 1"}`},
		{name: "grpc strip_path and methods", entity: "routes", in: `{"protocols":["grpc"],"paths":["/"],"strip_path":true,"methods":["POST"]}`,
			fields: `{"strip_path":"cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'","methods":"cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"}`},
		{name: "grpc needs attribute", entity: "routes", in: `{"protocols":["grpc"]}`,
			fields: `{"@entity":["must set one of 'hosts', 'headers', 'paths' when 'protocols' is 'grpc'"]}`},
		{name: "grpcs needs attribute", entity: "routes", in: `{"protocols":["grpcs"]}`,
			fields: `{"@entity":["must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'"]}`},
		{name: "path_handling", entity: "routes", in: `{"paths":["/"],"path_handling":"v2"}`,
			fields: `{"path_handling":"expected one of: v0, v1"}`},
		{name: "utf8 name", entity: "routes", in: `{"paths":["/"],"name":"ruta-ñ"}`},
		{name: "bad name", entity: "routes", in: `{"paths":["/"],"name":"a/b"}`,
			fields: `{"name":"invalid value 'a/b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}`},
		{name: "nested errors rendered", entity: "routes", in: `{"protocols":["tcp"],"sources":[{"port":"x"}]}`,
			fields: `{"sources":[{"port":"expected an integer"}]}`,
			msg:    "schema violation (sources.1: {\n  port = \"expected an integer\"\n})"},
	}, nil)
}

func TestGRPCRouteStripPathDefault(t *testing.T) {
	out, err := mustLookup(t, "routes").Process(decodeJSON(t, `{"protocols":["grpc"],"paths":["/"]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["strip_path"] != false {
		t.Errorf("grpc route strip_path = %v; want false (the grpc subschema default)", out["strip_path"])
	}
}

func TestSetsDeduplicate(t *testing.T) {
	out, err := mustLookup(t, "routes").Process(decodeJSON(t, `{"methods":["GET","GET","POST"],"tags":["a","a"]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := toJSON(out["methods"]); got != `["GET","POST"]` {
		t.Errorf("methods = %s; want [\"GET\",\"POST\"]", got)
	}
	if got := toJSON(out["tags"]); got != `["a"]` {
		t.Errorf("tags = %s; want [\"a\"]", got)
	}
}

func TestConsumers(t *testing.T) {
	runSchemaCases(t, []schemaCase{
		{name: "username", entity: "consumers", in: `{"username":"bob"}`},
		{name: "custom_id", entity: "consumers", in: `{"custom_id":"42"}`},
		{name: "neither", entity: "consumers", in: `{"tags":["x"]}`,
			fields: `{"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]}`,
			msg:    "schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')"},
		{name: "null username", entity: "consumers", in: `{"username":null}`,
			fields: `{"@entity":["at least one of these fields must be non-empty: 'custom_id', 'username'"]}`},
	}, nil)
}

func TestUpstreamsAndTargets(t *testing.T) {
	runSchemaCases(t, []schemaCase{
		{name: "minimal", entity: "upstreams", in: `{"name":"backend.svc"}`},
		{name: "hash on header", entity: "upstreams", in: `{"name":"u","algorithm":"consistent-hashing","hash_on":"header","hash_on_header":"x-user"}`},
		{name: "name required", entity: "upstreams", in: `{}`,
			fields: `{"name":"required field missing"}`},
		{name: "name ip", entity: "upstreams", in: `{"name":"10.0.0.1"}`,
			fields: `{"name":"Invalid name ('10.0.0.1'); no ip addresses allowed"}`},
		{name: "name port", entity: "upstreams", in: `{"name":"u:80"}`,
			fields: `{"name":"Invalid name ('u:80'); no port allowed"}`},
		{name: "header required", entity: "upstreams", in: `{"name":"u","hash_on":"header"}`,
			fields: `{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_on_header":"required field missing"}`},
		{name: "fallback with none", entity: "upstreams", in: `{"name":"u","hash_fallback":"ip"}`,
			fields: `{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none"}`},
		{name: "same headers", entity: "upstreams", in: `{"name":"u","hash_on":"header","hash_on_header":"a","hash_fallback":"header","hash_fallback_header":"a"}`,
			fields: `{"@entity":["values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"]}`},
		{name: "slots", entity: "upstreams", in: `{"name":"u","slots":5}`,
			fields: `{"slots":"value should be between 10 and 65536"}`},
		{name: "algorithm", entity: "upstreams", in: `{"name":"u","algorithm":"random"}`,
			fields: `{"algorithm":"expected one of: consistent-hashing, least-connections, round-robin, latency"}`},
		{name: "healthcheck nested", entity: "upstreams", in: `{"name":"u","healthchecks":{"active":{"type":"udp","healthy":{"http_statuses":[200,99]}},"threshold":101}}`,
			fields: `{"healthchecks":{"active":{"type":"expected one of: tcp, http, https, grpc, grpcs","healthy":{"http_statuses":[null,"value should be between 100 and 999"]}},"threshold":"value should be between 0 and 100"}}`},
		{name: "healthcheck headers", entity: "upstreams", in: `{"name":"u","healthchecks":{"active":{"headers":{"x-a":["1"]},"https_sni":"a.com"}}}`},
		{name: "target", entity: "targets", in: `{"target":"10.0.0.1:8080","upstream":{"id":"` + uuid1 + `"}}`},
		{name: "target ipv6", entity: "targets", in: `{"target":"[::1]:80","upstream":{"id":"` + uuid1 + `"}}`},
		{name: "target invalid", entity: "targets", in: `{"target":"a b","upstream":{"id":"` + uuid1 + `"}}`,
			fields: `{"target":"Invalid target ('a b'); not a valid hostname or ip address"}`},
		{name: "target weight", entity: "targets", in: `{"target":"a","weight":70000,"upstream":{"id":"` + uuid1 + `"}}`,
			fields: `{"weight":"value should be between 0 and 65535"}`},
		{name: "target needs upstream", entity: "targets", in: `{"target":"a"}`,
			fields: `{"upstream":"required field missing"}`},
	}, nil)
}

func TestTargetDefaultPort(t *testing.T) {
	s := mustLookup(t, "targets")
	for in, want := range map[string]string{
		"example.com":      "example.com:8000",
		"example.com:9000": "example.com:9000",
		"10.0.0.1":         "10.0.0.1:8000",
		"::1":              "[::1]:8000",
		"[::1]:81":         "[::1]:81",
	} {
		out, err := s.Process(map[string]any{"target": in, "upstream": map[string]any{"id": uuid1}}, nil)
		if err != nil {
			t.Errorf("target %q: %v", in, err)
			continue
		}
		if out["target"] != want {
			t.Errorf("target %q normalised to %v; want %q", in, out["target"], want)
		}
	}
}

func TestCredentials(t *testing.T) {
	c := `"consumer":{"id":"` + uuid1 + `"}`
	runSchemaCases(t, []schemaCase{
		{name: "keyauth", entity: "keyauth_credentials", in: `{` + c + `,"key":"abc"}`},
		{name: "keyauth no key", entity: "keyauth_credentials", in: `{` + c + `}`},
		{name: "keyauth needs consumer", entity: "keyauth_credentials", in: `{"key":"abc"}`,
			fields: `{"consumer":"required field missing"}`},
		{name: "basicauth", entity: "basicauth_credentials", in: `{` + c + `,"username":"u","password":"p"}`},
		{name: "basicauth missing", entity: "basicauth_credentials", in: `{` + c + `}`,
			fields: `{"username":"required field missing","password":"required field missing"}`,
			msg:    "2 schema violations (password: required field missing; username: required field missing)"},
		{name: "jwt default", entity: "jwt_secrets", in: `{` + c + `}`},
		{name: "jwt rsa needs key", entity: "jwt_secrets", in: `{` + c + `,"algorithm":"RS256"}`,
			fields: `{"@entity":["failed conditional validation given value of field 'algorithm'"],"rsa_public_key":"required field missing"}`},
		{name: "jwt bad algorithm", entity: "jwt_secrets", in: `{` + c + `,"algorithm":"none"}`,
			fields: `{"algorithm":"expected one of: HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA"}`},
		{name: "jwt bad key", entity: "jwt_secrets", in: `{` + c + `,"algorithm":"RS256","rsa_public_key":"nope"}`,
			fields: `{"@entity":["failed conditional validation given value of field 'algorithm'"],"rsa_public_key":"invalid key"}`},
		{name: "acl", entity: "acls", in: `{` + c + `,"group":"admins"}`},
		{name: "acl group", entity: "acls", in: `{` + c + `}`,
			fields: `{"group":"required field missing"}`},
	}, nil)
}

func TestCredentialGeneration(t *testing.T) {
	ka := mustLookup(t, "keyauth_credentials")
	out, err := ka.Process(map[string]any{"consumer": map[string]any{"id": uuid1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out["key"] != nil {
		t.Fatalf("Process generated key %v; it must leave generation to Generated", out["key"])
	}
	gen := ka.Generated(out)
	key, _ := gen["key"].(string)
	if len(key) != 32 || strings.Trim(key, "0123456789abcdef") != "" {
		t.Errorf("generated key %q; want 32 lower-case hex characters", key)
	}
	if out["key"] != nil {
		t.Error("Generated modified its input")
	}
	if again := ka.Generated(out)["key"]; again == key {
		t.Errorf("two generated keys are equal: %v", again)
	}
	kept := ka.Generated(map[string]any{"key": "mine"})
	if kept["key"] != "mine" {
		t.Errorf("Generated replaced a given key: %v", kept["key"])
	}
	jw := mustLookup(t, "jwt_secrets").Generated(map[string]any{"key": nil, "secret": nil})
	if jw["key"] == nil || jw["secret"] == nil || jw["key"] == jw["secret"] {
		t.Errorf("jwt Generated = %v; want distinct key and secret", jw)
	}
}

func TestHashBasicAuthPassword(t *testing.T) {
	// sha1("secret" .. "a4fbd24e-...") computed independently with sha1sum.
	got := HashBasicAuthPassword("secret", uuid1)
	want := "c2ab6b641a52066e7285cc85a27094f6e58f19b6"
	if len(got) != 40 {
		t.Fatalf("hash %q; want 40 hex characters", got)
	}
	if got != want {
		t.Errorf("HashBasicAuthPassword = %s; want %s", got, want)
	}
	if HashBasicAuthPassword("secret", uuid2) == got {
		t.Error("hash does not depend on the consumer id")
	}
}

func TestPlugins(t *testing.T) {
	rl := &Schema{Name: "rate-limiting", Fields: []*Field{
		{Name: "minute", Type: TypeNumber, Gt: Float(0)},
		{Name: "policy", Type: TypeString, Default: "local", OneOf: []any{"local", "redis"}},
		{Name: "redis", Type: TypeRecord, Required: true, Fields: []*Field{
			{Name: "host", Type: TypeString},
			{Name: "port", Type: TypeInteger, Default: 6379, Between: []float64{0, 65535}},
		}},
	}, Checks: []*Check{
		{AtLeastOneOf: []string{"minute"}},
		{Conditional: &Conditional{IfField: "policy", IfMatch: &Field{Eq: "redis"}, ThenField: "redis.host", ThenMatch: &Field{Required: true}}},
	}}
	auth := &Schema{Name: "key-auth", NoConsumer: true, Protocols: []string{"http", "https"}, Fields: []*Field{
		{Name: "key_names", Type: TypeArray, Required: true, Default: []any{"apikey"}, Elements: &Field{Type: TypeString}},
	}}
	lookup := func(name string) (*Schema, bool) {
		switch name {
		case "rate-limiting":
			return rl, true
		case "key-auth":
			return auth, true
		}
		return nil, false
	}
	opts := &ProcessOptions{Plugins: lookup}
	runSchemaCases(t, []schemaCase{
		{name: "valid", entity: "plugins", in: `{"name":"rate-limiting","config":{"minute":5}}`},
		{name: "unknown plugin", entity: "plugins", in: `{"name":"nope"}`,
			fields: `{"name":"plugin 'nope' not enabled; add it to the 'plugins' configuration property"}`,
			msg:    "schema violation (name: plugin 'nope' not enabled; add it to the 'plugins' configuration property)"},
		{name: "config errors nested", entity: "plugins", in: `{"name":"rate-limiting","config":{"minute":-1,"policy":"x","foo":1}}`,
			fields: `{"config":{"minute":"value must be greater than 0","policy":"expected one of: local, redis","foo":"unknown field"}}`,
			msg:    "3 schema violations (config.foo: unknown field; config.minute: value must be greater than 0; config.policy: expected one of: local, redis)"},
		{name: "config entity check", entity: "plugins", in: `{"name":"rate-limiting","config":{}}`,
			fields: `{"config":{"@entity":["at least one of these fields must be non-empty: 'minute'"]}}`},
		{name: "nested conditional", entity: "plugins", in: `{"name":"rate-limiting","config":{"minute":1,"policy":"redis"}}`,
			fields: `{"config":{"@entity":["failed conditional validation given value of field 'policy'"],"redis":"required field missing"}}`},
		{name: "no consumer", entity: "plugins", in: `{"name":"key-auth","consumer":{"id":"` + uuid1 + `"}}`,
			fields: `{"consumer":"value must be null"}`},
		{name: "protocols subset", entity: "plugins", in: `{"name":"key-auth","protocols":["http","grpc"]}`,
			fields: `{"protocols":[null,"expected one of: http, https"]}`,
			msg:    "schema violation (protocols.2: expected one of: http, https)"},
		{name: "name required", entity: "plugins", in: `{}`,
			fields: `{"name":"required field missing"}`},
	}, opts)

	out, err := mustLookup(t, "plugins").Process(decodeJSON(t, `{"name":"rate-limiting","config":{"minute":5}}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"minute":5,"policy":"local","redis":{"host":null,"port":6379}}`
	if got := toJSON(out["config"]); got != want {
		t.Errorf("config = %s; want %s", got, want)
	}
	if got := toJSON(out["protocols"]); got != `["grpc","grpcs","http","https"]` {
		t.Errorf("protocols = %s; want the generic default", got)
	}
	out, err = mustLookup(t, "plugins").Process(decodeJSON(t, `{"name":"key-auth"}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := toJSON(out["protocols"]); got != `["http","https"]` {
		t.Errorf("key-auth protocols = %s; want the plugin's default", got)
	}
	if got := toJSON(out["config"]); got != `{"key_names":["apikey"]}` {
		t.Errorf("key-auth config = %s; want defaults", got)
	}

	// Without a lookup the config is kept as given.
	out, err = mustLookup(t, "plugins").Process(decodeJSON(t, `{"name":"whatever","config":{"x":[1]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := toJSON(out["config"]); got != `{"x":[1]}` {
		t.Errorf("config without lookup = %s; want it unchanged", got)
	}
}

func TestSchemaErrorRendering(t *testing.T) {
	e := &SchemaError{Fields: map[string]any{
		"b":       "second",
		"a":       "first",
		"@entity": []string{"entity one", "entity two"},
		"config":  map[string]any{"y": "why", "x": "ex"},
		"paths":   []any{nil, "bad"},
	}}
	want := "7 schema violations (entity one; entity two; a: first; b: second; config.x: ex; config.y: why; paths.2: bad)"
	if got := e.Error(); got != want {
		t.Errorf("Error()\n got %q\nwant %q", got, want)
	}
	one := &SchemaError{Fields: map[string]any{"name": "unknown field"}}
	if got := one.Error(); got != "schema violation (name: unknown field)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestPartial(t *testing.T) {
	s := mustLookup(t, "services")
	out, err := s.Process(map[string]any{"retries": 3.0}, &ProcessOptions{Partial: true})
	if err != nil {
		t.Fatalf("partial: %v", err)
	}
	if len(out) != 1 || out["retries"] != 3 {
		t.Errorf("partial output = %v; want only retries=3", out)
	}
	_, err = s.Process(map[string]any{"retries": -1.0}, &ProcessOptions{Partial: true})
	if err == nil || err.Fields["retries"] != "value should be between 0 and 32767" {
		t.Errorf("partial bad retries: %v", err)
	}
}

func TestLookupAll(t *testing.T) {
	for _, name := range []string{"services", "routes", "consumers", "plugins", "upstreams", "targets",
		"certificates", "snis", "ca_certificates", "keyauth_credentials", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "acls", "oauth2_credentials"} {
		s, ok := Lookup(name)
		if !ok || s.Name != name {
			t.Errorf("Lookup(%q) = %v, %v", name, s, ok)
		}
	}
	if _, ok := Lookup("apis"); ok {
		t.Error(`Lookup("apis") succeeded`)
	}
	if got := len(Entities()); got != 18 {
		t.Errorf("Entities() has %d names; want 18", got)
	}
}

func TestVaultReferenceAndTimestamp(t *testing.T) {
	s := mustLookup(t, "certificates")
	if _, err := s.Process(map[string]any{"cert": "{vault://env/cert}", "key": "{vault://env/key}"}, nil); err != nil {
		t.Errorf("vault references rejected: %v", err)
	}
	_, err := mustLookup(t, "consumers").Process(map[string]any{"username": "u", "created_at": -1.0}, nil)
	if err == nil || err.Fields["created_at"] != "expected a valid timestamp" {
		t.Errorf("negative created_at: %v; want expected a valid timestamp", err)
	}
}

func TestForeignKeys(t *testing.T) {
	s := mustLookup(t, "routes")
	tests := []struct {
		service any
		want    string // JSON of the record's service or of the error
		bad     bool
	}{
		{map[string]any{"id": uuid1}, `{"id":"` + uuid1 + `"}`, false},
		{map[string]any{"id": uuid1, "name": "x", "extra": 1}, `{"id":"` + uuid1 + `"}`, false},
		{map[string]any{"name": "svc"}, `{"name":"svc"}`, false},
		{map[string]any{"id": "x"}, `{"id":"expected a valid UUID"}`, true},
		{map[string]any{"foo": "x"}, `{"id":"missing primary key"}`, true},
		{"svc", `{"id":"missing primary key"}`, true},
	}
	for _, tt := range tests {
		out, err := s.Process(map[string]any{"paths": []any{"/"}, "service": tt.service}, nil)
		switch {
		case tt.bad && err == nil:
			t.Errorf("service %v accepted", tt.service)
		case tt.bad:
			jsonEqual(t, toJSON(tt.service), err.Fields["service"], tt.want)
		case err != nil:
			t.Errorf("service %v: %v", tt.service, err)
		default:
			jsonEqual(t, toJSON(tt.service), out["service"], tt.want)
		}
	}
}

func TestValidateValue(t *testing.T) {
	svc, _ := Lookup("services")
	up, _ := Lookup("upstreams")
	tests := []struct {
		s     *Schema
		field string
		v     any
		want  string
	}{
		{svc, "name", "my-svc", ""},
		{svc, "name", "my svc", "invalid value 'my svc': the only accepted ascii characters are alphanumerics or ., -, _, and ~"},
		{svc, "port", 70000, "value should be between 0 and 65535"},
		{svc, "name", 12, "expected a string"},
		{up, "name", "ok.example", ""},
		{svc, "nosuch", "x", "unknown field"},
	}
	for _, tt := range tests {
		if got := tt.s.ValidateValue(tt.field, tt.v); got != tt.want {
			t.Errorf("%s.%s = %v: %q; want %q", tt.s.Name, tt.field, tt.v, got, tt.want)
		}
	}
}
