// Package admin is Kong's Admin API as an http.Handler: entity collections
// and items with Kong's paths (by id or endpoint key, nested under their
// parents), paging with offset tokens, tag filters, JSON, form-encoded and
// multipart bodies, Kong's error bodies and status codes, and the node
// endpoints (/, /status, /schemas, /plugins/enabled, /tags, /endpoints,
// /timers, /debug/node/log-level, /config). kongspec_test.go holds the
// cases of Kong's own Admin API specs, each naming its spec file.
//
// With a store (database = embedded or postgres) every write runs in one
// store transaction: it happens whole or not at all. Without one
// (database = off) reads come from the configuration being served, entity
// writes answer Kong's 405 "operation unsupported", and POST /config
// replaces the whole configuration through the Apply hook.
//
// Errors travel as *Error values carrying the HTTP status and Kong's JSON
// body; one function writes them and logs them (5xx at error level, 4xx at
// debug).
package admin
