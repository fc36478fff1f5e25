package ldapauth

import "sluice/internal/model"

// Schema is ldap-auth's config record (Kong 3.9 schema.lua).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https"},
	NoConsumer: true,
	Fields: []*model.Field{
		model.Require(model.HostField("ldap_host")),
		withDefault(model.Require(model.PortField("ldap_port")), 389),
		{Name: "ldaps", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "start_tls", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "verify_ldap_host", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "base_dn", Type: model.TypeString, Required: true},
		{Name: "attribute", Type: model.TypeString, Required: true},
		{Name: "cache_ttl", Type: model.TypeNumber, Required: true, Default: 60},
		{Name: "hide_credentials", Type: model.TypeBoolean, Required: true, Default: false},
		{Name: "timeout", Type: model.TypeNumber, Default: 10000},
		{Name: "keepalive", Type: model.TypeNumber, Default: 60000},
		{Name: "anonymous", Type: model.TypeString},
		{Name: "header_type", Type: model.TypeString, Default: "ldap"},
		{Name: "realm", Type: model.TypeString},
	},
	Checks: []*model.Check{{Conditional: &model.Conditional{
		IfField: "ldaps", IfMatch: &model.Field{Eq: true},
		ThenField: "start_tls", ThenMatch: &model.Field{Eq: false},
		ThenErr: "'ldaps' and 'start_tls' cannot be enabled simultaneously",
	}}},
}

func withDefault(f *model.Field, v any) *model.Field {
	f.Default = v
	return f
}

// Config is the decoded config record.
type Config struct {
	LDAPHost        string   `json:"ldap_host"`
	LDAPPort        int      `json:"ldap_port"`
	LDAPS           bool     `json:"ldaps"`
	StartTLS        bool     `json:"start_tls"`
	VerifyLDAPHost  bool     `json:"verify_ldap_host"`
	BaseDN          string   `json:"base_dn"`
	Attribute       string   `json:"attribute"`
	CacheTTL        float64  `json:"cache_ttl"` // seconds
	HideCredentials bool     `json:"hide_credentials"`
	Timeout         *float64 `json:"timeout"`   // ms, for connect, each send and each read
	Keepalive       *float64 `json:"keepalive"` // ms an idle connection is kept
	Anonymous       *string  `json:"anonymous"`
	HeaderType      string   `json:"header_type"`
	Realm           *string  `json:"realm"`
}
