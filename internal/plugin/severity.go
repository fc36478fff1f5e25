package plugin

import "sluice/internal/model"

// Severities are syslog's severities by name (emerg 0 to debug 7), the
// levels of Kong's syslog and loggly plugins.
var Severities = map[string]int{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

// SeverityField is a config field holding one of those names (default
// info).
func SeverityField(name string, required bool) *model.Field {
	return &model.Field{Name: name, Type: model.TypeString, Required: required, Default: "info",
		OneOf: []any{"debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"}}
}

// StatusSeverities is the severity of a request's log entry by the
// response's status class, and the least severe level sent (Kong's
// log_level, successful_severity, client_errors_severity and
// server_errors_severity).
type StatusSeverities struct{ level, ok, client, server int }

// NewStatusSeverities reads the four names.
func NewStatusSeverities(logLevel, successful, clientErrors, serverErrors string) StatusSeverities {
	return StatusSeverities{Severities[logLevel], Severities[successful], Severities[clientErrors], Severities[serverErrors]}
}

// For is the severity of an entry with status (5xx server errors, 4xx
// client errors, the others successful) and whether it is sent.
func (s StatusSeverities) For(status int) (severity int, send bool) {
	severity = s.ok
	switch {
	case status >= 500:
		severity = s.server
	case status >= 400:
		severity = s.client
	}
	return severity, severity <= s.level
}
