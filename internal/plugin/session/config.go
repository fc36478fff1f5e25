package session

import (
	"crypto/rand"
	"encoding/json"

	"sluice/internal/model"
)

// headerNames are the values of request_headers and response_headers.
var headerNames = []any{"id", "audience", "subject", "timeout", "idling-timeout", "rolling-timeout", "absolute-timeout"}

// defaultSecret is the default of secret: like Kong's, a random string
// drawn once per process (Kong draws it when the schema is loaded), so that
// it is stored with the config that omitted it.
var defaultSecret = randomString()

// Schema is session's config record (Kong 3.9 schema.lua, with the
// hash_subject and store_metadata fields of 3.9.1, and the deprecated
// cookie_* shorthands).
var Schema = &model.Schema{
	Name:       Name,
	Protocols:  []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"},
	NoConsumer: true,
	Fields: []*model.Field{
		{Name: "secret", Type: model.TypeString, Default: defaultSecret, Encrypted: true, Referenceable: true,
			Description: "The secret that is used in keyed HMAC generation."},
		{Name: "storage", Type: model.TypeString, Default: "cookie", OneOf: []any{"cookie", "kong"},
			Description: "Determines where the session data is stored."},
		{Name: "audience", Type: model.TypeString, Default: "default",
			Description: "The session audience, which is the intended target application."},
		{Name: "idling_timeout", Type: model.TypeNumber, Default: 900,
			Description: "The session cookie idle time, in seconds."},
		{Name: "rolling_timeout", Type: model.TypeNumber, Default: 3600,
			Description: "The session cookie rolling timeout, in seconds."},
		{Name: "absolute_timeout", Type: model.TypeNumber, Default: 86400,
			Description: "The session cookie absolute timeout, in seconds."},
		{Name: "stale_ttl", Type: model.TypeNumber, Default: 10,
			Description: "The duration, in seconds, after which an old cookie is discarded."},
		{Name: "cookie_name", Type: model.TypeString, Default: "session", Description: "The name of the cookie."},
		{Name: "cookie_path", Type: model.TypeString, Default: "/",
			Description: "The resource in the host where the cookie is available."},
		{Name: "cookie_domain", Type: model.TypeString,
			Description: "The domain with which the cookie is intended to be exchanged."},
		{Name: "cookie_same_site", Type: model.TypeString, Default: "Strict",
			OneOf:       []any{"Strict", "Lax", "None", "Default"},
			Description: "Determines whether and how a cookie may be sent with cross-site requests."},
		{Name: "cookie_http_only", Type: model.TypeBoolean, Default: true,
			Description: "Applies the HttpOnly tag so that the cookie is sent only to a server."},
		{Name: "cookie_secure", Type: model.TypeBoolean, Default: true,
			Description: "Applies the Secure directive so that the cookie may be sent to the server only with an encrypted request."},
		{Name: "remember", Type: model.TypeBoolean, Default: false,
			Description: "Enables or disables persistent sessions."},
		{Name: "remember_cookie_name", Type: model.TypeString, Default: "remember",
			Description: "Persistent session cookie name."},
		{Name: "remember_rolling_timeout", Type: model.TypeNumber, Default: 604800,
			Description: "The persistent session rolling timeout window, in seconds."},
		{Name: "remember_absolute_timeout", Type: model.TypeNumber, Default: 2592000,
			Description: "The persistent session absolute timeout limit, in seconds."},
		{Name: "response_headers", Type: model.TypeSet, Elements: &model.Field{Type: model.TypeString, OneOf: headerNames},
			Description: "List of information to include, as headers, in the response to the downstream."},
		{Name: "request_headers", Type: model.TypeSet, Elements: &model.Field{Type: model.TypeString, OneOf: headerNames},
			Description: "List of information to include, as headers, in the request to the upstream."},
		{Name: "read_body_for_logout", Type: model.TypeBoolean, Default: false},
		{Name: "logout_methods", Type: model.TypeSet, Default: []any{"POST", "DELETE"},
			Elements:    &model.Field{Type: model.TypeString, OneOf: []any{"GET", "POST", "DELETE"}},
			Description: "A set of HTTP methods that the plugin will respond to."},
		{Name: "logout_query_arg", Type: model.TypeString, Default: "session_logout",
			Description: "The query argument passed to logout requests."},
		{Name: "logout_post_arg", Type: model.TypeString, Default: "session_logout",
			Description: "The POST argument passed to logout requests."},
		{Name: "hash_subject", Type: model.TypeBoolean, Default: false,
			Description: "Whether to hash or not the subject when store_metadata is enabled."},
		{Name: "store_metadata", Type: model.TypeBoolean, Default: false,
			Description: "Whether to also store metadata of sessions."},
	},
	// Kong's deprecated forms (to be removed in Kong 4.0).
	Shorthands: []model.Shorthand{
		{Name: "cookie_lifetime", Field: &model.Field{Type: model.TypeNumber}, Expand: rename("rolling_timeout", isNumber, "expected a number", nil)},
		{Name: "cookie_idletime", Field: &model.Field{Type: model.TypeNumber}, Expand: rename("idling_timeout", isNumber, "expected a number", nil)},
		{Name: "cookie_renew", Field: &model.Field{Type: model.TypeNumber}, Expand: func(v any) (map[string]any, string) {
			// Kong logs that the option no longer exists and drops it.
			if !isNumber(v) {
				return nil, "expected a number"
			}
			return nil, ""
		}},
		{Name: "cookie_discard", Field: &model.Field{Type: model.TypeNumber}, Expand: rename("stale_ttl", isNumber, "expected a number", nil)},
		{Name: "cookie_samesite", Field: &model.Field{Type: model.TypeString}, Expand: rename("cookie_same_site", isString, "expected a string", func(v any) any {
			if v == "off" {
				return "Lax"
			}
			return v
		})},
		{Name: "cookie_httponly", Field: &model.Field{Type: model.TypeBoolean}, Expand: rename("cookie_http_only", isBool, "expected a boolean", nil)},
		{Name: "cookie_persistent", Field: &model.Field{Type: model.TypeBoolean}, Expand: rename("remember", isBool, "expected a boolean", nil)},
	},
}

// rename returns a shorthand expansion that checks the value's type and
// sets it, possibly mapped, on another field.
func rename(to string, ok func(any) bool, msg string, mapValue func(any) any) func(any) (map[string]any, string) {
	return func(v any) (map[string]any, string) {
		if !ok(v) {
			return nil, msg
		}
		if mapValue != nil {
			v = mapValue(v)
		}
		return map[string]any{to: v}, ""
	}
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, float32, int, int64, int32, json.Number:
		return true
	}
	return false
}

func isString(v any) bool { _, ok := v.(string); return ok }

func isBool(v any) bool { _, ok := v.(bool); return ok }

// Config is the decoded config record. Nullable fields are pointers: a
// null takes the session library's default (see settings).
type Config struct {
	Secret                  *string  `json:"secret"`
	Storage                 string   `json:"storage"`
	Audience                *string  `json:"audience"`
	IdlingTimeout           *float64 `json:"idling_timeout"`
	RollingTimeout          *float64 `json:"rolling_timeout"`
	AbsoluteTimeout         *float64 `json:"absolute_timeout"`
	StaleTTL                *float64 `json:"stale_ttl"`
	CookieName              *string  `json:"cookie_name"`
	CookiePath              *string  `json:"cookie_path"`
	CookieDomain            *string  `json:"cookie_domain"`
	CookieSameSite          *string  `json:"cookie_same_site"`
	CookieHTTPOnly          *bool    `json:"cookie_http_only"`
	CookieSecure            *bool    `json:"cookie_secure"`
	Remember                bool     `json:"remember"`
	RememberCookieName      *string  `json:"remember_cookie_name"`
	RememberRollingTimeout  *float64 `json:"remember_rolling_timeout"`
	RememberAbsoluteTimeout *float64 `json:"remember_absolute_timeout"`
	ResponseHeaders         []string `json:"response_headers"`
	RequestHeaders          []string `json:"request_headers"`
	ReadBodyForLogout       bool     `json:"read_body_for_logout"`
	LogoutMethods           []string `json:"logout_methods"`
	LogoutQueryArg          *string  `json:"logout_query_arg"`
	LogoutPostArg           *string  `json:"logout_post_arg"`
	HashSubject             bool     `json:"hash_subject"`
	StoreMetadata           bool     `json:"store_metadata"`
}

// randomString returns 44 random letters and digits (Kong's random_string
// with 32 bytes: base64 with '/', '+' and '=' replaced).
func randomString() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, 44)
	var buf [64]byte
	for len(out) < cap(out) {
		_, _ = rand.Read(buf[:]) // never fails: crypto/rand panics instead
		for _, c := range buf {
			// 248 is the largest multiple of 62 below 256: no bias.
			if c < 248 && len(out) < cap(out) {
				out = append(out, alphabet[c%62])
			}
		}
	}
	return string(out)
}
