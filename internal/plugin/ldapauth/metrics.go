package ldapauth

import "sluice/internal/metrics"

var (
	metricBinds = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_ldap_auth_binds_total",
		Help: "LDAP binds made by the ldap-auth plugin, by result: success, rejected (the server refused the credentials), " +
			"bad_answer (TLS handshake failure or an answer that is not LDAP) or unreachable (connect, StartTLS, I/O or timeout).",
	}, "result")
	metricCache = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_ldap_auth_cache_lookups_total",
		Help: "Credentials the ldap-auth plugin looked up in its cache of bind answers, by result: hit or miss.",
	}, "result")

	bindsBy = map[outcome]metrics.Counter{
		bindSucceeded: metricBinds.With("success"),
		bindRejected:  metricBinds.With("rejected"),
		bindBroken:    metricBinds.With("bad_answer"),
		bindFailed:    metricBinds.With("unreachable"),
	}
	cacheHits   = metricCache.With("hit")
	cacheMisses = metricCache.With("miss")
)
