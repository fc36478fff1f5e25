package model

import "time"

// The typed entities below are the shared, decoded form of Kong's entities.
// JSON tags use Kong's field names; pointer and nil-slice fields render as
// JSON null, as Kong renders unset optional fields. Values of these types are
// immutable once they are part of a Config handed to the snapshot builder:
// nobody may modify an entity after it has been published.

// ForeignKey is a reference to another entity, rendered as {"id": "..."}.
type ForeignKey struct {
	ID string `json:"id"`
}

// Service is Kong's services entity.
type Service struct {
	ID                string      `json:"id"`
	CreatedAt         int64       `json:"created_at"`
	UpdatedAt         int64       `json:"updated_at"`
	Name              *string     `json:"name"`
	Retries           int         `json:"retries"`
	Protocol          string      `json:"protocol"`
	Host              string      `json:"host"`
	Port              int         `json:"port"`
	Path              *string     `json:"path"`
	ConnectTimeout    int         `json:"connect_timeout"`
	WriteTimeout      int         `json:"write_timeout"`
	ReadTimeout       int         `json:"read_timeout"`
	Tags              []string    `json:"tags"`
	ClientCertificate *ForeignKey `json:"client_certificate"`
	TLSVerify         *bool       `json:"tls_verify"`
	TLSVerifyDepth    *int        `json:"tls_verify_depth"`
	CACertificates    []string    `json:"ca_certificates"`
	Enabled           bool        `json:"enabled"`
}

// CIDRPort is an element of a route's sources or destinations.
type CIDRPort struct {
	IP   *string `json:"ip"`
	Port *int    `json:"port"`
}

// Route is Kong's routes entity.
type Route struct {
	ID                      string              `json:"id"`
	CreatedAt               int64               `json:"created_at"`
	UpdatedAt               int64               `json:"updated_at"`
	Name                    *string             `json:"name"`
	Protocols               []string            `json:"protocols"`
	Methods                 []string            `json:"methods"`
	Hosts                   []string            `json:"hosts"`
	Paths                   []string            `json:"paths"`
	Headers                 map[string][]string `json:"headers"`
	HTTPSRedirectStatusCode int                 `json:"https_redirect_status_code"`
	RegexPriority           int                 `json:"regex_priority"`
	StripPath               bool                `json:"strip_path"`
	PathHandling            string              `json:"path_handling"`
	PreserveHost            bool                `json:"preserve_host"`
	RequestBuffering        bool                `json:"request_buffering"`
	ResponseBuffering       bool                `json:"response_buffering"`
	SNIs                    []string            `json:"snis"`
	Sources                 []CIDRPort          `json:"sources"`
	Destinations            []CIDRPort          `json:"destinations"`
	Tags                    []string            `json:"tags"`
	Service                 *ForeignKey         `json:"service"`
}

// Consumer is Kong's consumers entity.
type Consumer struct {
	ID        string   `json:"id"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
	Username  *string  `json:"username"`
	CustomID  *string  `json:"custom_id"`
	Tags      []string `json:"tags"`
}

// Plugin is Kong's plugins entity. Config holds the plugin's configuration as
// validated (with defaults filled) by the plugin's own schema.
type Plugin struct {
	ID           string         `json:"id"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
	Name         string         `json:"name"`
	InstanceName *string        `json:"instance_name"`
	Route        *ForeignKey    `json:"route"`
	Service      *ForeignKey    `json:"service"`
	Consumer     *ForeignKey    `json:"consumer"`
	Config       map[string]any `json:"config"`
	Protocols    []string       `json:"protocols"`
	Enabled      bool           `json:"enabled"`
	Tags         []string       `json:"tags"`
}

// Upstream is Kong's upstreams entity.
type Upstream struct {
	ID                     string       `json:"id"`
	CreatedAt              int64        `json:"created_at"`
	UpdatedAt              int64        `json:"updated_at"`
	Name                   string       `json:"name"`
	Algorithm              string       `json:"algorithm"`
	HashOn                 string       `json:"hash_on"`
	HashFallback           string       `json:"hash_fallback"`
	HashOnHeader           *string      `json:"hash_on_header"`
	HashFallbackHeader     *string      `json:"hash_fallback_header"`
	HashOnCookie           *string      `json:"hash_on_cookie"`
	HashOnCookiePath       string       `json:"hash_on_cookie_path"`
	HashOnQueryArg         *string      `json:"hash_on_query_arg"`
	HashFallbackQueryArg   *string      `json:"hash_fallback_query_arg"`
	HashOnURICapture       *string      `json:"hash_on_uri_capture"`
	HashFallbackURICapture *string      `json:"hash_fallback_uri_capture"`
	Slots                  int          `json:"slots"`
	Healthchecks           Healthchecks `json:"healthchecks"`
	HostHeader             *string      `json:"host_header"`
	ClientCertificate      *ForeignKey  `json:"client_certificate"`
	UseSRVName             bool         `json:"use_srv_name"`
	Tags                   []string     `json:"tags"`
}

// Healthchecks is the upstream's healthchecks record.
type Healthchecks struct {
	Active    ActiveHealthcheck  `json:"active"`
	Passive   PassiveHealthcheck `json:"passive"`
	Threshold float64            `json:"threshold"`
}

// ActiveHealthcheck configures probing of targets. Intervals and timeout are
// in seconds; an interval of 0 disables probing.
type ActiveHealthcheck struct {
	Type                   string              `json:"type"`
	Timeout                float64             `json:"timeout"`
	Concurrency            int                 `json:"concurrency"`
	HTTPPath               string              `json:"http_path"`
	HTTPSSNI               *string             `json:"https_sni"`
	HTTPSVerifyCertificate bool                `json:"https_verify_certificate"`
	Headers                map[string][]string `json:"headers"`
	Healthy                ActiveHealthy       `json:"healthy"`
	Unhealthy              ActiveUnhealthy     `json:"unhealthy"`
}

// ActiveHealthy is the active healthy criteria.
type ActiveHealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	Successes    int     `json:"successes"`
}

// ActiveUnhealthy is the active unhealthy criteria.
type ActiveUnhealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	TCPFailures  int     `json:"tcp_failures"`
	Timeouts     int     `json:"timeouts"`
	HTTPFailures int     `json:"http_failures"`
}

// PassiveHealthcheck configures health derived from proxied traffic.
type PassiveHealthcheck struct {
	Type      string           `json:"type"`
	Healthy   PassiveHealthy   `json:"healthy"`
	Unhealthy PassiveUnhealthy `json:"unhealthy"`
}

// PassiveHealthy is the passive healthy criteria.
type PassiveHealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	Successes    int   `json:"successes"`
}

// PassiveUnhealthy is the passive unhealthy criteria.
type PassiveUnhealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	TCPFailures  int   `json:"tcp_failures"`
	Timeouts     int   `json:"timeouts"`
	HTTPFailures int   `json:"http_failures"`
}

// Target is Kong's targets entity. Its timestamps carry milliseconds.
type Target struct {
	ID        string      `json:"id"`
	CreatedAt float64     `json:"created_at"`
	UpdatedAt float64     `json:"updated_at"`
	Upstream  *ForeignKey `json:"upstream"`
	Target    string      `json:"target"`
	Weight    int         `json:"weight"`
	Tags      []string    `json:"tags"`
}

// Certificate is Kong's certificates entity. SNIs is the write shorthand and
// the read-side list of SNI names pointing at this certificate.
type Certificate struct {
	ID        string   `json:"id"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
	Cert      string   `json:"cert"`
	Key       string   `json:"key"`
	CertAlt   *string  `json:"cert_alt"`
	KeyAlt    *string  `json:"key_alt"`
	Tags      []string `json:"tags"`
	SNIs      []string `json:"snis"`
}

// SNI is Kong's snis entity.
type SNI struct {
	ID          string      `json:"id"`
	CreatedAt   int64       `json:"created_at"`
	UpdatedAt   int64       `json:"updated_at"`
	Name        string      `json:"name"`
	Certificate *ForeignKey `json:"certificate"`
	Tags        []string    `json:"tags"`
}

// CACertificate is Kong's ca_certificates entity.
type CACertificate struct {
	ID         string   `json:"id"`
	CreatedAt  int64    `json:"created_at"`
	UpdatedAt  int64    `json:"updated_at"`
	Cert       string   `json:"cert"`
	CertDigest string   `json:"cert_digest"`
	Tags       []string `json:"tags"`
}

// KeyAuthCredential is the key-auth plugin's keyauth_credentials entity.
type KeyAuthCredential struct {
	ID        string      `json:"id"`
	CreatedAt int64       `json:"created_at"`
	Consumer  *ForeignKey `json:"consumer"`
	Key       string      `json:"key"`
	// TTL is the expiry in Unix seconds (Kong's stored ttl), nil for none;
	// see Expiry for older, relative values.
	TTL  *float64 `json:"ttl"`
	Tags []string `json:"tags"`
}

// BasicAuthCredential is the basic-auth plugin's basicauth_credentials
// entity. Password holds the hash (hex SHA-1 of password and consumer id).
type BasicAuthCredential struct {
	ID        string      `json:"id"`
	CreatedAt int64       `json:"created_at"`
	Consumer  *ForeignKey `json:"consumer"`
	Username  string      `json:"username"`
	Password  string      `json:"password"`
	Tags      []string    `json:"tags"`
}

// HMACAuthCredential is the hmac-auth plugin's hmacauth_credentials
// entity.
type HMACAuthCredential struct {
	ID        string      `json:"id"`
	CreatedAt int64       `json:"created_at"`
	Consumer  *ForeignKey `json:"consumer"`
	Username  string      `json:"username"`
	Secret    string      `json:"secret"`
	Tags      []string    `json:"tags"`
}

// JWTSecret is the jwt plugin's jwt_secrets entity.
type JWTSecret struct {
	ID           string      `json:"id"`
	CreatedAt    int64       `json:"created_at"`
	Consumer     *ForeignKey `json:"consumer"`
	Key          string      `json:"key"`
	Secret       string      `json:"secret"`
	Algorithm    string      `json:"algorithm"`
	RSAPublicKey *string     `json:"rsa_public_key"`
	Tags         []string    `json:"tags"`
}

// ACL is the acl plugin's acls entity.
type ACL struct {
	ID        string      `json:"id"`
	CreatedAt int64       `json:"created_at"`
	Consumer  *ForeignKey `json:"consumer"`
	Group     string      `json:"group"`
	Tags      []string    `json:"tags"`
}

// OAuth2Credential is the oauth2 plugin's oauth2_credentials entity.
// ClientSecret is the secret itself, or its hash (a PHC string, see
// HashOAuth2Secret) when HashSecret is set.
type OAuth2Credential struct {
	ID           string      `json:"id"`
	CreatedAt    int64       `json:"created_at"`
	Consumer     *ForeignKey `json:"consumer"`
	Name         string      `json:"name"`
	ClientID     string      `json:"client_id"`
	ClientSecret string      `json:"client_secret"`
	HashSecret   bool        `json:"hash_secret"`
	RedirectURIs []string    `json:"redirect_uris"`
	Tags         []string    `json:"tags"`
	ClientType   string      `json:"client_type"`
}

// Config is one complete set of entities: what a kong.yml describes, what a
// store holds, and what the snapshot builder compiles. Slices are in a stable
// order (creation order for a store, file order for a declarative config).
type Config struct {
	Services             []*Service             `json:"services"`
	Routes               []*Route               `json:"routes"`
	Consumers            []*Consumer            `json:"consumers"`
	Plugins              []*Plugin              `json:"plugins"`
	Upstreams            []*Upstream            `json:"upstreams"`
	Targets              []*Target              `json:"targets"`
	Certificates         []*Certificate         `json:"certificates"`
	SNIs                 []*SNI                 `json:"snis"`
	CACertificates       []*CACertificate       `json:"ca_certificates"`
	KeyAuthCredentials   []*KeyAuthCredential   `json:"keyauth_credentials"`
	BasicAuthCredentials []*BasicAuthCredential `json:"basicauth_credentials"`
	HMACAuthCredentials  []*HMACAuthCredential  `json:"hmacauth_credentials"`
	JWTSecrets           []*JWTSecret           `json:"jwt_secrets"`
	ACLs                 []*ACL                 `json:"acls"`
	OAuth2Credentials    []*OAuth2Credential    `json:"oauth2_credentials"`
	Vaults               []*Vault               `json:"vaults"`
	KeySets              []*KeySet              `json:"key_sets"`
	Keys                 []*Key                 `json:"keys"`
}

// Expired reports whether the credential's ttl has run out at now. As
// Kong's key-auth, a credential with less than a second left (ttl 0 in
// Kong's answers) is expired.
func (c *KeyAuthCredential) Expired(now time.Time) bool {
	if c.TTL == nil {
		return false
	}
	e, ok := Expiry(*c.TTL, float64(c.CreatedAt))
	return ok && e-float64(now.UnixNano())/1e9 < 1
}
