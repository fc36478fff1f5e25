package model

import (
	"net/url"
	"strconv"
	"strings"
)

// Protocols is Kong's OSS protocol list, in the order Kong reports it.
var Protocols = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

// HTTPProtocols is the default of a plugin's protocols field.
var HTTPProtocols = []string{"grpc", "grpcs", "http", "https"}

const maxTimeout = 2147483646 // 2^31 - 2

// Typedef constructors: each returns a new *Field so callers may set Name,
// Required or Default on it.

// IDField is the uuid primary key typedef.
func IDField() *Field { return &Field{Name: "id", Type: TypeString, UUID: true, Auto: true} }

// TimestampField is typedefs.auto_timestamp_s (ms: auto_timestamp_ms).
func TimestampField(name string, ms bool) *Field {
	if ms {
		return &Field{Name: name, Type: TypeNumber, Timestamp: true, Auto: true}
	}
	return &Field{Name: name, Type: TypeInteger, Timestamp: true, Auto: true}
}

// TagsField is typedefs.tags.
func TagsField() *Field {
	return &Field{Name: "tags", Type: TypeSet, Elements: &Field{Type: TypeString, Required: true, Custom: validateTag}}
}

// ProtocolField is typedefs.protocol.
func ProtocolField(name string) *Field {
	return &Field{Name: name, Type: TypeString, OneOf: toAnySlice(Protocols)}
}

// HostField is typedefs.host (hostname or IP, no port).
func HostField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateHost}
}

// URLField is typedefs.url: a URL with a host and a scheme.
func URLField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateURLValue}
}

func validateURLValue(v any) string {
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

// PortField is typedefs.port.
func PortField(name string) *Field {
	return &Field{Name: name, Type: TypeInteger, Between: []float64{0, 65535}}
}

// PathField is typedefs.path.
func PathField(name string) *Field {
	return &Field{Name: name, Type: TypeString, StartsWith: "/",
		MatchNone: []MatchRule{{Pattern: `//`, Err: "must not have empty segments"}},
		Custom:    validatePathField}
}

// NameField is typedefs.name (ASCII); UTF8NameField is typedefs.utf8_name.
func NameField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Unique: true, Custom: validateName}
}

// UTF8NameField is typedefs.utf8_name.
func UTF8NameField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Unique: true, Custom: validateUTF8Name}
}

// SNIField is typedefs.sni; WildcardHostField is typedefs.wildcard_host.
func SNIField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateSNI}
}

// WildcardHostField is typedefs.wildcard_host.
func WildcardHostField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateWildcardHost}
}

// HeaderNameField is typedefs.header_name.
func HeaderNameField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateHeaderName}
}

// Require returns f with Required set: a typedef called with
// { required = true }.
func Require(f *Field) *Field {
	f.Required = true
	return f
}

// CookieNameField is typedefs.cookie_name.
func CookieNameField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateCookieName}
}

// IPOrCIDRField is typedefs.ip_or_cidr.
func IPOrCIDRField(name string) *Field {
	return &Field{Name: name, Type: TypeString, Custom: validateIPOrCIDR}
}

// ForeignField is a foreign key to the named DAO.
func ForeignField(name, reference string) *Field {
	return &Field{Name: name, Type: TypeForeign, Reference: reference}
}

// ProtocolsField is typedefs.protocols (plugin protocols).
func ProtocolsField() *Field {
	return &Field{Name: "protocols", Type: TypeSet, Required: true, Default: toAnySlice(HTTPProtocols),
		Elements: ProtocolField("")}
}

func timeoutField(name string) *Field {
	return &Field{Name: name, Type: TypeInteger, Default: 60000, Between: []float64{1, maxTimeout}}
}

func withReq(f *Field) *Field { f.Required = true; return f }

func withDefault(f *Field, d any) *Field { f.Default = d; return f }

func eqNull(f *Field, err string) *Field {
	c := *f
	c.EqNull, c.Err = true, err
	return &c
}

var (
	entitySchemas = map[string]*Schema{}
	entityOrder   = []string{"certificates", "ca_certificates", "snis", "services", "routes", "consumers",
		"upstreams", "targets", "plugins", "keyauth_credentials", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "acls",
		"oauth2_credentials", "vaults", "key_sets", "keys"}
	pluginsSchema *Schema
)

func init() {
	for _, s := range []*Schema{
		servicesSchema(), routesSchema(), consumersSchema(), pluginsEntitySchema(),
		upstreamsSchema(), targetsSchema(), certificatesSchema(), snisSchema(), caCertificatesSchema(),
		keyauthSchema(), basicauthSchema(), hmacauthSchema(), jwtSchema(), aclsSchema(),
		oauth2CredentialsSchema(), vaultsSchema(), keySetsSchema(), keysSchema(),
	} {
		if s.PrimaryKey == nil {
			s.PrimaryKey = []string{"id"}
		}
		s.index()
		entitySchemas[s.Name] = s
	}
	pluginsSchema = entitySchemas["plugins"]
}

func servicesSchema() *Schema {
	notTLS := &Field{NotOneOf: []any{"https", "tls"}}
	cond := func(then string) *Check {
		return &Check{Conditional: &Conditional{IfField: "protocol", IfMatch: notTLS,
			ThenField: then, ThenMatch: &Field{EqNull: true}}}
	}
	return &Schema{
		Name: "services", EndpointKey: "name",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			UTF8NameField("name"),
			{Name: "retries", Type: TypeInteger, Default: 5, Between: []float64{0, 32767}},
			withDefault(withReq(ProtocolField("protocol")), "http"),
			withReq(HostField("host")),
			withDefault(withReq(PortField("port")), 80),
			PathField("path"),
			timeoutField("connect_timeout"),
			timeoutField("write_timeout"),
			timeoutField("read_timeout"),
			TagsField(),
			ForeignField("client_certificate", "certificates"),
			{Name: "tls_verify", Type: TypeBoolean},
			{Name: "tls_verify_depth", Type: TypeInteger, Between: []float64{0, 64}},
			{Name: "ca_certificates", Type: TypeArray, Elements: &Field{Type: TypeString, UUID: true}},
			{Name: "enabled", Type: TypeBoolean, Required: true, Default: true},
		},
		Checks: []*Check{
			{Conditional: &Conditional{IfField: "protocol",
				IfMatch:   &Field{OneOf: []any{"tcp", "tls", "udp", "grpc", "grpcs"}},
				ThenField: "path", ThenMatch: &Field{EqNull: true}}},
			cond("client_certificate"),
			cond("tls_verify"),
			cond("tls_verify_depth"),
			cond("ca_certificates"),
		},
		Shorthands: []Shorthand{{Name: "url", Expand: expandServiceURL}},
	}
}

// expandServiceURL is the services url shorthand.
func expandServiceURL(v any) (map[string]any, string) {
	s, ok := v.(string)
	if !ok {
		return nil, errString
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		// Kong's parser leaves fields unset; host then fails as missing.
		if err == nil && u.Scheme != "" && u.Opaque != "" {
			return nil, "invalid url: " + s
		}
		if err != nil {
			return nil, "could not parse url: " + s
		}
	}
	out := map[string]any{}
	portStr := u.Port()
	port := -1
	if portStr != "" {
		n, perr := strconv.Atoi(portStr)
		if perr != nil {
			return nil, "could not parse url: " + s
		}
		port = n
	}
	protocol := u.Scheme
	if protocol == "" {
		switch port {
		case 443:
			protocol = "https"
		default:
			protocol = "http"
		}
	}
	out["protocol"] = protocol
	if h := u.Hostname(); h != "" {
		out["host"] = h
	} else {
		out["host"] = nil
	}
	switch {
	case port >= 0:
		out["port"] = port
	case protocol == "https":
		out["port"] = 443
	default:
		out["port"] = 80
	}
	p := u.EscapedPath()
	if p == "" {
		out["path"] = nil
	} else {
		out["path"] = p
	}
	return out, ""
}

func routesSchema() *Schema {
	httpMethod := &Field{Type: TypeString, Match: `^[A-Z]+$`}
	methods := &Field{Name: "methods", Type: TypeSet, Elements: httpMethod}
	hosts := &Field{Name: "hosts", Type: TypeArray, Elements: &Field{Type: TypeString,
		MatchAll: []MatchRule{{Pattern: `^[^*]*\*?[^*]*$`, Err: "invalid wildcard: must have at most one wildcard"}},
		MatchAny: &MatchAny{Patterns: []string{`^\*\.`, `\.\*$`, `^[^*]*$`},
			Err: "invalid wildcard: must be placed at leftmost or rightmost label"},
		Custom: validateHostsElement}}
	paths := &Field{Name: "paths", Type: TypeArray, Elements: &Field{Type: TypeString,
		MatchAny:  &MatchAny{Patterns: []string{`^/`, `^~/`}, Err: "should start with: / (fixed path) or ~/ (regex path)"},
		MatchNone: []MatchRule{{Pattern: `//`, Err: "must not have empty segments"}},
		Custom:    validateRouterPath}}
	headers := &Field{Name: "headers", Type: TypeMap,
		Keys: &Field{Type: TypeString, Custom: validateHeaderName, MatchNone: []MatchRule{{Pattern: `^[Hh][Oo][Ss][Tt]$`,
			Err: "cannot contain 'host' header, which must be specified in the 'hosts' attribute"}}},
		Values: &Field{Type: TypeArray, Elements: &Field{Type: TypeString}}}
	cidrPort := func(name string) *Field {
		return &Field{Name: name, Type: TypeSet, Elements: &Field{Type: TypeRecord,
			Fields: []*Field{IPOrCIDRField("ip"), PortField("port")},
			Checks: []*Check{{AtLeastOneOf: []string{"ip", "port"}}}}}
	}
	sources, destinations := cidrPort("sources"), cidrPort("destinations")

	httpSub := &Schema{Name: "http",
		Fields: []*Field{
			eqNull(sources, "cannot set 'sources' when 'protocols' is 'http' or 'https'"),
			eqNull(destinations, "cannot set 'destinations' when 'protocols' is 'http' or 'https'"),
		},
		Checks: []*Check{{ConditionalAtLeastOneOf: &ConditionalAtLeastOneOf{IfField: "protocols",
			IfMatch:              &Field{Contains: "https"},
			ThenAtLeastOneOf:     []string{"methods", "hosts", "headers", "paths", "snis"},
			ThenErr:              "must set one of %s when 'protocols' is 'https'",
			ElseMatch:            &Field{Contains: "http"},
			ElseThenAtLeastOneOf: []string{"methods", "hosts", "headers", "paths"},
			ElseThenErr:          "must set one of %s when 'protocols' is 'http'"}}},
	}
	streamErr := func(f string) string {
		return "cannot set '" + f + "' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"
	}
	streamSub := &Schema{Name: "tcp",
		Fields: []*Field{
			eqNull(methods, streamErr("methods")),
			eqNull(hosts, streamErr("hosts")),
			eqNull(paths, streamErr("paths")),
			eqNull(headers, streamErr("headers")),
		},
		Checks: []*Check{
			{ConditionalAtLeastOneOf: &ConditionalAtLeastOneOf{IfField: "protocols",
				IfMatch:          &Field{Elements: &Field{Type: TypeString, OneOf: []any{"tcp", "tls", "udp"}}},
				ThenAtLeastOneOf: []string{"sources", "destinations", "snis"},
				ThenErr:          "must set one of %s when 'protocols' is 'tcp', 'tls' or 'udp'"}},
			{ConditionalAtLeastOneOf: &ConditionalAtLeastOneOf{IfField: "protocols",
				IfMatch:          &Field{Elements: &Field{Type: TypeString, OneOf: []any{"tls_passthrough"}}},
				ThenAtLeastOneOf: []string{"snis"},
				ThenErr:          "must set snis when 'protocols' is 'tls_passthrough'"}},
		},
	}
	grpcSub := &Schema{Name: "grpc",
		Fields: []*Field{
			{Name: "strip_path", Type: TypeBoolean, Required: true, Default: false, Ne: true,
				Err: "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"},
			eqNull(methods, "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
			eqNull(sources, "cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'"),
			eqNull(destinations, "cannot set 'destinations' when 'protocols' is 'grpc' or 'grpcs'"),
		},
		Checks: []*Check{{ConditionalAtLeastOneOf: &ConditionalAtLeastOneOf{IfField: "protocols",
			IfMatch:              &Field{Contains: "grpcs"},
			ThenAtLeastOneOf:     []string{"hosts", "headers", "paths", "snis"},
			ThenErr:              "must set one of %s when 'protocols' is 'grpcs'",
			ElseMatch:            &Field{Contains: "grpc"},
			ElseThenAtLeastOneOf: []string{"hosts", "headers", "paths"},
			ElseThenErr:          "must set one of %s when 'protocols' is 'grpc'"}}},
	}

	return &Schema{
		Name: "routes", EndpointKey: "name", SubschemaKey: "protocols",
		Subschemas: map[string]*Schema{
			"http": httpSub, "https": httpSub,
			"tcp": streamSub, "tls": streamSub, "udp": streamSub, "tls_passthrough": streamSub,
			"grpc": grpcSub, "grpcs": grpcSub,
		},
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			UTF8NameField("name"),
			{Name: "protocols", Type: TypeSet, LenMin: 1, Required: true, Elements: ProtocolField(""),
				MutuallyExclusiveSubsets: [][]string{{"http", "https"}, {"tcp", "tls", "udp"}, {"tls_passthrough"}, {"grpc", "grpcs"}},
				Default:                  []any{"http", "https"}},
			{Name: "https_redirect_status_code", Type: TypeInteger, OneOf: []any{426, 301, 302, 307, 308}, Default: 426, Required: true},
			{Name: "strip_path", Type: TypeBoolean, Required: true, Default: true},
			{Name: "preserve_host", Type: TypeBoolean, Required: true, Default: false},
			{Name: "request_buffering", Type: TypeBoolean, Required: true, Default: true},
			{Name: "response_buffering", Type: TypeBoolean, Required: true, Default: true},
			TagsField(),
			ForeignField("service", "services"),
			{Name: "snis", Type: TypeSet, Elements: WildcardHostField("")},
			sources,
			destinations,
			methods,
			hosts,
			paths,
			headers,
			{Name: "regex_priority", Type: TypeInteger, Default: 0},
			{Name: "path_handling", Type: TypeString, Default: "v0", OneOf: []any{"v0", "v1"}},
		},
		Checks: []*Check{
			{Conditional: &Conditional{IfField: "protocols",
				IfMatch:   &Field{Elements: &Field{Type: TypeString, NotOneOf: []any{"grpcs", "https", "tls", "tls_passthrough"}}},
				ThenField: "snis", ThenMatch: &Field{LenEq: Int(0)},
				ThenErr: "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"}},
		},
	}
}

func consumersSchema() *Schema {
	return &Schema{
		Name: "consumers", EndpointKey: "username",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			{Name: "username", Type: TypeString, Unique: true},
			{Name: "custom_id", Type: TypeString, Unique: true},
			TagsField(),
		},
		Checks: []*Check{{AtLeastOneOf: []string{"custom_id", "username"}}},
	}
}

func pluginsEntitySchema() *Schema {
	route := ForeignField("route", "routes")
	route.OnDelete = "cascade"
	service := ForeignField("service", "services")
	service.OnDelete = "cascade"
	consumer := ForeignField("consumer", "consumers")
	consumer.OnDelete = "cascade"
	return &Schema{
		Name: "plugins", EndpointKey: "instance_name",
		CacheKey: []string{"name", "route", "service", "consumer"},
		Fields: []*Field{
			IDField(),
			{Name: "name", Type: TypeString, Required: true},
			{Name: "instance_name", Type: TypeString, Unique: true, Custom: validateUTF8Name},
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			route,
			service,
			consumer,
			{Name: "config", Type: TypeRecord, Required: true, NoAutoRecord: true},
			ProtocolsField(),
			{Name: "enabled", Type: TypeBoolean, Required: true, Default: true},
			TagsField(),
		},
	}
}

func targetsSchema() *Schema {
	up := withReq(ForeignField("upstream", "upstreams"))
	up.OnDelete = "cascade"
	return &Schema{
		Name: "targets", EndpointKey: "target",
		CacheKey: []string{"upstream", "target"},
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", true),
			TimestampField("updated_at", true),
			up,
			{Name: "target", Type: TypeString, Required: true, Custom: validateTarget},
			{Name: "weight", Type: TypeInteger, Default: 100, Between: []float64{0, 65535}},
			TagsField(),
		},
		Checks: []*Check{{Custom: &CustomCheck{Fields: []string{"target"}, Fn: func(rec map[string]any) ([]string, map[string]any) {
			if t, ok := rec["target"].(string); ok {
				rec["target"] = FormatTarget(t)
			}
			return nil, nil
		}}}},
	}
}

func validateTarget(v any) string {
	t := v.(string)
	if _, err := ParseHostPort(t); err != "" {
		if validateUTF8(t) != "" {
			return "Invalid target; not a valid hostname or ip address"
		}
		return "Invalid target ('" + t + "'); not a valid hostname or ip address"
	}
	return ""
}

// FormatTarget normalises a target as Kong's targets DAO does: the default
// port 8000 is appended when absent and IPv6 addresses are bracketed.
func FormatTarget(t string) string {
	a, err := ParseHostPort(t)
	if err != "" {
		return t
	}
	port := a.Port
	if port < 0 {
		port = 8000
	}
	host := a.Host
	if a.Type == "ipv6" {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func certificatesSchema() *Schema {
	return &Schema{
		Name: "certificates",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			{Name: "cert", Type: TypeString, Required: true, Referenceable: true, Custom: validateCertificate},
			{Name: "key", Type: TypeString, Required: true, Referenceable: true, Encrypted: true, Custom: validateKey},
			{Name: "cert_alt", Type: TypeString, Referenceable: true, Custom: validateCertificate},
			{Name: "key_alt", Type: TypeString, Referenceable: true, Encrypted: true, Custom: validateKey},
			TagsField(),
			{Name: "snis", Type: TypeArray, Elements: WildcardHostField("")},
		},
		Checks: []*Check{
			{MutuallyRequired: []string{"cert_alt", "key_alt"}},
			{Custom: &CustomCheck{Fields: []string{"cert", "key"}, Fn: checkCertKey("cert", "key", "certificate does not match key")}},
			{Custom: &CustomCheck{Fields: []string{"cert_alt", "key_alt"}, Fn: checkCertKey("cert_alt", "key_alt", "alternative certificate does not match key")}},
			{Custom: &CustomCheck{Fields: []string{"cert", "cert_alt"}, Fn: checkAltType}},
		},
	}
}

func snisSchema() *Schema {
	cert := withReq(ForeignField("certificate", "certificates"))
	return &Schema{
		Name: "snis", EndpointKey: "name",
		Fields: []*Field{
			IDField(),
			withReq(WildcardHostField("name")),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			TagsField(),
			cert,
		},
	}
}

func caCertificatesSchema() *Schema {
	return &Schema{
		Name: "ca_certificates",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			{Name: "cert", Type: TypeString, Required: true, Custom: validateCertificate},
			{Name: "cert_digest", Type: TypeString, Unique: true},
			TagsField(),
		},
		Checks: []*Check{{Custom: &CustomCheck{Fields: []string{"cert"}, Fn: checkCACert}}},
	}
}

func credentialConsumer() *Field {
	f := withReq(ForeignField("consumer", "consumers"))
	f.OnDelete = "cascade"
	return f
}

func keyauthSchema() *Schema {
	return &Schema{
		Name: "keyauth_credentials", EndpointKey: "key",
		AdminName: "key-auths", AdminNestedName: "key-auth",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "key", Type: TypeString, Unique: true, Auto: true},
			TagsField(),
		},
		TTL: true,
		Generate: func(rec map[string]any) {
			if rec["key"] == nil {
				rec["key"] = RandomKey()
			}
		},
	}
}

func basicauthSchema() *Schema {
	return &Schema{
		Name: "basicauth_credentials", EndpointKey: "username",
		AdminName: "basic-auths", AdminNestedName: "basic-auth",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "username", Type: TypeString, Required: true, Unique: true},
			{Name: "password", Type: TypeString, Required: true, Encrypted: true},
			TagsField(),
		},
	}
}

func hmacauthSchema() *Schema {
	return &Schema{
		Name: "hmacauth_credentials", EndpointKey: "username",
		AdminName: "hmac-auths", AdminNestedName: "hmac-auth",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "username", Type: TypeString, Required: true, Unique: true},
			{Name: "secret", Type: TypeString, Auto: true},
			TagsField(),
		},
		Generate: func(rec map[string]any) {
			if rec["secret"] == nil {
				rec["secret"] = RandomKey()
			}
		},
	}
}

// JWTAlgorithms are the jwt_secrets algorithms.
var JWTAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
	"PS256", "PS384", "PS512", "EdDSA"}

func jwtSchema() *Schema {
	return &Schema{
		Name: "jwt_secrets", EndpointKey: "key",
		AdminName: "jwts", AdminNestedName: "jwt",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "key", Type: TypeString, Unique: true, Auto: true},
			{Name: "secret", Type: TypeString, Auto: true},
			{Name: "rsa_public_key", Type: TypeString},
			{Name: "algorithm", Type: TypeString, Default: "HS256", OneOf: toAnySlice(JWTAlgorithms)},
			TagsField(),
		},
		Checks: []*Check{
			{Conditional: &Conditional{IfField: "algorithm",
				IfMatch:   &Field{Match: `^(RS|ES|PS|Ed)`},
				ThenField: "rsa_public_key", ThenMatch: &Field{Required: true, Custom: validateJWTPublicKey}}},
		},
		Generate: func(rec map[string]any) {
			if rec["key"] == nil {
				rec["key"] = RandomKey()
			}
			if rec["secret"] == nil {
				rec["secret"] = RandomKey()
			}
		},
	}
}

func aclsSchema() *Schema {
	return &Schema{
		// Kong's acls have endpoint_key "group" (kong/plugins/acl/daos.lua):
		// /consumers/{c}/acls/{group}.
		Name: "acls", CacheKey: []string{"consumer", "group"}, EndpointKey: "group",
		AdminName: "acls", AdminNestedName: "acls",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "group", Type: TypeString, Required: true},
			TagsField(),
		},
	}
}

// OAuth2ClientTypes are the oauth2_credentials client_type values.
var OAuth2ClientTypes = []string{"confidential", "public"}

// oauth2CredentialsSchema is the oauth2 plugin's credential
// (kong/plugins/oauth2/daos.lua): Admin API /oauth2 and
// /consumers/{c}/oauth2, looked up by client_id. A write with hash_secret
// true stores client_secret hashed (see HashOAuth2Secret).
func oauth2CredentialsSchema() *Schema {
	return &Schema{
		Name: "oauth2_credentials", EndpointKey: "client_id", CacheKey: []string{"client_id"},
		AdminName: "oauth2", AdminNestedName: "oauth2",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			credentialConsumer(),
			{Name: "name", Type: TypeString, Required: true},
			{Name: "client_id", Type: TypeString, Unique: true, Auto: true},
			{Name: "client_secret", Type: TypeString, Auto: true, Encrypted: true},
			{Name: "hash_secret", Type: TypeBoolean, Required: true, Default: false},
			{Name: "redirect_uris", Type: TypeArray, Elements: &Field{Type: TypeString, Custom: validateRedirectURI}},
			TagsField(),
			{Name: "client_type", Type: TypeString, Required: true, Default: "confidential", OneOf: toAnySlice(OAuth2ClientTypes)},
		},
		Generate: func(rec map[string]any) {
			if rec["client_id"] == nil {
				rec["client_id"] = RandomKey()
			}
			if rec["client_secret"] == nil {
				rec["client_secret"] = RandomKey()
			}
		},
	}
}

// validateRedirectURI is the oauth2 credential's check of a redirect URI:
// a scheme and a host, no fragment.
func validateRedirectURI(v any) string {
	s, _ := v.(string)
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "cannot parse '" + s + "'"
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return "fragment not allowed in '" + s + "'"
	}
	return ""
}

// hashOn values of upstreams.
var hashOnValues = []any{"none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"}

func upstreamsSchema() *Schema {
	req := func(ifField, value, then string) *Check {
		return &Check{Conditional: &Conditional{IfField: ifField, IfMatch: &Field{Match: "^" + value + "$"},
			ThenField: then, ThenMatch: &Field{Required: true}}}
	}
	fallbackOneOf := func(value string, allowed ...any) *Check {
		return &Check{Conditional: &Conditional{IfField: "hash_on", IfMatch: &Field{Match: "^" + value + "$"},
			ThenField: "hash_fallback", ThenMatch: &Field{OneOf: allowed}}}
	}
	return &Schema{
		Name: "upstreams", EndpointKey: "name",
		Fields: []*Field{
			IDField(),
			TimestampField("created_at", false),
			TimestampField("updated_at", false),
			{Name: "name", Type: TypeString, Required: true, Unique: true, Custom: validateUpstreamName},
			{Name: "algorithm", Type: TypeString, Default: "round-robin",
				OneOf: []any{"consistent-hashing", "least-connections", "round-robin", "latency"}},
			{Name: "hash_on", Type: TypeString, Default: "none", OneOf: hashOnValues},
			{Name: "hash_fallback", Type: TypeString, Default: "none", OneOf: hashOnValues},
			HeaderNameField("hash_on_header"),
			HeaderNameField("hash_fallback_header"),
			CookieNameField("hash_on_cookie"),
			withDefault(PathField("hash_on_cookie_path"), "/"),
			{Name: "hash_on_query_arg", Type: TypeString},
			{Name: "hash_fallback_query_arg", Type: TypeString},
			{Name: "hash_on_uri_capture", Type: TypeString},
			{Name: "hash_fallback_uri_capture", Type: TypeString},
			{Name: "slots", Type: TypeInteger, Default: 10000, Between: []float64{10, 65536}},
			healthchecksField(),
			TagsField(),
			HostField("host_header"),
			ForeignField("client_certificate", "certificates"),
			{Name: "use_srv_name", Type: TypeBoolean, Default: false},
		},
		Checks: []*Check{
			req("hash_on", "header", "hash_on_header"),
			req("hash_fallback", "header", "hash_fallback_header"),
			req("hash_on", "cookie", "hash_on_cookie"),
			req("hash_fallback", "cookie", "hash_on_cookie"),
			fallbackOneOf("none", "none"),
			fallbackOneOf("cookie", "none"),
			fallbackOneOf("consumer", "none", "ip", "header", "cookie", "path", "query_arg", "uri_capture"),
			fallbackOneOf("ip", "none", "consumer", "header", "cookie", "path", "query_arg", "uri_capture"),
			fallbackOneOf("path", "none", "consumer", "ip", "header", "cookie", "query_arg", "uri_capture"),
			req("hash_on", "query_arg", "hash_on_query_arg"),
			req("hash_fallback", "query_arg", "hash_fallback_query_arg"),
			req("hash_on", "uri_capture", "hash_on_uri_capture"),
			req("hash_fallback", "uri_capture", "hash_fallback_uri_capture"),
			{Distinct: []string{"hash_on_header", "hash_fallback_header"}},
			{Distinct: []string{"hash_on_query_arg", "hash_fallback_query_arg"}},
			{Distinct: []string{"hash_on_uri_capture", "hash_fallback_uri_capture"}},
		},
	}
}

func validateUpstreamName(v any) string {
	a, err := ParseHostPort(v.(string))
	if err != "" {
		return "Invalid name ('" + v.(string) + "'); must be a valid hostname"
	}
	if a.Type != "name" {
		return "Invalid name ('" + v.(string) + "'); no ip addresses allowed"
	}
	if a.Port >= 0 {
		return "Invalid name ('" + v.(string) + "'); no port allowed"
	}
	return ""
}

func healthchecksField() *Field {
	seconds := func(name string, d any) *Field {
		return &Field{Name: name, Type: TypeNumber, Default: d, Between: []float64{0, 65535}}
	}
	counter := func(name string) *Field {
		return &Field{Name: name, Type: TypeInteger, Default: 0, Between: []float64{0, 255}}
	}
	statuses := func(d ...int) *Field {
		def := make([]any, len(d))
		for i, x := range d {
			def[i] = x
		}
		return &Field{Name: "http_statuses", Type: TypeArray, Default: def,
			Elements: &Field{Type: TypeInteger, Between: []float64{100, 999}}}
	}
	checkType := &Field{Name: "type", Type: TypeString, Default: "http", OneOf: []any{"tcp", "http", "https", "grpc", "grpcs"}}
	passiveType := *checkType
	active := &Field{Name: "active", Type: TypeRecord, Fields: []*Field{
		checkType,
		seconds("timeout", 1),
		{Name: "concurrency", Type: TypeInteger, Default: 10, Between: []float64{1, 2147483648}},
		withDefault(PathField("http_path"), "/"),
		SNIField("https_sni"),
		{Name: "https_verify_certificate", Type: TypeBoolean, Default: true},
		{Name: "headers", Type: TypeMap, Keys: HeaderNameField(""), Values: &Field{Type: TypeArray, Elements: &Field{Type: TypeString}}},
		{Name: "healthy", Type: TypeRecord, Fields: []*Field{
			seconds("interval", 0),
			statuses(200, 302),
			counter("successes"),
		}},
		{Name: "unhealthy", Type: TypeRecord, Fields: []*Field{
			seconds("interval", 0),
			statuses(429, 404, 500, 501, 502, 503, 504, 505),
			counter("tcp_failures"),
			counter("timeouts"),
			counter("http_failures"),
		}},
	}}
	passive := &Field{Name: "passive", Type: TypeRecord, Fields: []*Field{
		&passiveType,
		{Name: "healthy", Type: TypeRecord, Fields: []*Field{
			statuses(200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308),
			counter("successes"),
		}},
		{Name: "unhealthy", Type: TypeRecord, Fields: []*Field{
			statuses(429, 500, 503),
			counter("tcp_failures"),
			counter("timeouts"),
			counter("http_failures"),
		}},
	}}
	hc := &Field{Name: "healthchecks", Type: TypeRecord, Fields: []*Field{
		active,
		passive,
		{Name: "threshold", Type: TypeNumber, Default: 0, Between: []float64{0, 100}},
	}}
	setRecordDefaults(hc)
	return hc
}

// setRecordDefaults gives a record field (and its nested records) a
// default made of its fields' defaults, as Kong's upstreams schema does for
// healthchecks.
func setRecordDefaults(f *Field) map[string]any {
	d := make(map[string]any, len(f.Fields))
	for _, sub := range f.Fields {
		switch {
		case sub.Type == TypeRecord:
			d[sub.Name] = setRecordDefaults(sub)
		case sub.Default != nil:
			d[sub.Name] = cloneValue(sub.Default)
		default:
			d[sub.Name] = nil
		}
	}
	f.Default = d
	return d
}

// TagsSchema is Kong's tags entity: the tag index behind GET /tags. It is
// not stored as entities are (sluice answers /tags from the entities'
// own tags), but GET /schemas/tags describes it, as Kong's does.
func TagsSchema() *Schema {
	return &Schema{
		Name: "tags", EndpointKey: "tag", PrimaryKey: []string{"tag"},
		Fields: []*Field{
			{Name: "tag", Type: TypeString, Required: true, Custom: validateTag},
			{Name: "entity_name", Type: TypeString, Required: true},
			{Name: "entity_id", Type: TypeString, UUID: true, Required: true},
		},
	}
}
