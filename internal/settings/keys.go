package settings

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// setter parses one raw value ("" means unset) into the Settings.
type setter func(s *Settings, v string) error

type keyDef struct {
	name      string
	def       string // Kong's default; "" = NONE
	set       setter
	sensitive bool
}

// defs lists every key sluice reads, with Kong's default (sluice's where it
// differs, marked). Order is the order of kong.conf.default.
var defs = []keyDef{
	{name: "prefix", def: "/usr/local/kong/", set: str(func(s *Settings) *string { return &s.Prefix })},
	{name: "log_level", def: "notice", set: enum(func(s *Settings) *string { return &s.LogLevel },
		"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")},
	{name: "proxy_access_log", def: "logs/access.log", set: str(func(s *Settings) *string { return &s.ProxyAccessLog })},
	{name: "proxy_error_log", def: "logs/error.log", set: str(func(s *Settings) *string { return &s.ProxyErrorLog })},
	{name: "admin_access_log", def: "logs/admin_access.log", set: str(func(s *Settings) *string { return &s.AdminAccessLog })},
	{name: "admin_error_log", def: "logs/error.log", set: str(func(s *Settings) *string { return &s.AdminErrorLog })},
	{name: "status_access_log", def: "off", set: str(func(s *Settings) *string { return &s.StatusAccessLog })},
	{name: "status_error_log", def: "logs/status_error.log", set: str(func(s *Settings) *string { return &s.StatusErrorLog })},
	{name: "plugins", def: "bundled", set: list(func(s *Settings) *[]string { return &s.Plugins })},
	{name: "vault_env_prefix", set: str(func(s *Settings) *string { return &s.VaultEnvPrefix })},
	{name: "anonymous_reports", def: "on", set: boolean(func(s *Settings) *bool { return &s.AnonymousReports })},
	{name: "node_id", set: nodeID},
	{name: "port_maps", set: portMaps},

	{name: "proxy_listen", def: "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
		set: listen("proxy_listen", func(s *Settings) *[]Listen { return &s.ProxyListen })},
	{name: "stream_listen", def: "off", set: streamListen},
	{name: "admin_listen", def: "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384",
		set: listen("admin_listen", func(s *Settings) *[]Listen { return &s.AdminListen })},
	// sluice: on by default (Kong: off), so probes work out of the box.
	{name: "status_listen", def: "0.0.0.0:8100", set: listen("status_listen", func(s *Settings) *[]Listen { return &s.StatusListen })},

	{name: "mem_cache_size", def: "128m", set: size(func(s *Settings) *int64 { return &s.MemCacheSize })},
	{name: "ssl_cipher_suite", def: "intermediate", set: enum(func(s *Settings) *string { return &s.SSLCipherSuite },
		"modern", "intermediate", "old", "fips", "custom")},
	{name: "ssl_ciphers", set: str(func(s *Settings) *string { return &s.SSLCiphers })},
	{name: "ssl_protocols", def: "TLSv1.1 TLSv1.2 TLSv1.3", set: sslProtocols},
	{name: "ssl_session_tickets", def: "on", set: boolean(func(s *Settings) *bool { return &s.SSLSessionTickets })},
	{name: "ssl_session_timeout", def: "1d", set: str(func(s *Settings) *string { return &s.SSLSessionTimeout })},
	{name: "ssl_cert", set: list(func(s *Settings) *[]string { return &s.SSLCert })},
	{name: "ssl_cert_key", set: list(func(s *Settings) *[]string { return &s.SSLCertKey }), sensitive: true},
	{name: "admin_ssl_cert", set: list(func(s *Settings) *[]string { return &s.AdminSSLCert })},
	{name: "admin_ssl_cert_key", set: list(func(s *Settings) *[]string { return &s.AdminSSLCertKey }), sensitive: true},
	{name: "status_ssl_cert", set: list(func(s *Settings) *[]string { return &s.StatusSSLCert })},
	{name: "status_ssl_cert_key", set: list(func(s *Settings) *[]string { return &s.StatusSSLCertKey }), sensitive: true},
	{name: "headers", def: "server_tokens, latency_tokens, x-kong-request-id", set: headerTokens("headers",
		func(s *Settings) *[]string { return &s.Headers },
		"server_tokens", "latency_tokens", "via", "server", "x-kong-proxy-latency", "x-kong-response-latency",
		"x-kong-admin-latency", "x-kong-upstream-latency", "x-kong-upstream-status", "x-kong-request-id")},
	{name: "headers_upstream", def: "x-kong-request-id", set: headerTokens("headers_upstream",
		func(s *Settings) *[]string { return &s.HeadersUpstream }, "x-kong-request-id")},
	{name: "trusted_ips", set: trustedIPs},
	{name: "real_ip_header", def: "X-Real-IP", set: str(func(s *Settings) *string { return &s.RealIPHeader })},
	{name: "real_ip_recursive", def: "off", set: boolean(func(s *Settings) *bool { return &s.RealIPRecursive })},
	{name: "error_default_type", def: "text/plain", set: enum(func(s *Settings) *string { return &s.ErrorDefaultType },
		"application/json", "application/xml", "text/html", "text/plain")},
	{name: "upstream_keepalive_pool_size", def: "512", set: integer(func(s *Settings) *int { return &s.UpstreamKeepalivePoolSize }, 0, math.MaxInt32)},
	{name: "upstream_keepalive_max_requests", def: "1000", set: integer(func(s *Settings) *int { return &s.UpstreamKeepaliveMaxRequests }, 0, math.MaxInt32)},
	{name: "upstream_keepalive_idle_timeout", def: "60", set: seconds(func(s *Settings) *time.Duration { return &s.UpstreamKeepaliveIdleTimeout })},
	{name: "allow_debug_header", def: "off", set: boolean(func(s *Settings) *bool { return &s.AllowDebugHeader })},
	{name: "nginx_http_client_max_body_size", def: "0", set: size(func(s *Settings) *int64 { return &s.ClientMaxBodySize })},
	{name: "client_body_buffer_size", def: "8k", set: size(func(s *Settings) *int64 { return &s.ClientBodyBufferSize })},

	// sluice: "embedded" is the default and a third value (Kong: postgres).
	{name: "database", def: "embedded", set: enum(func(s *Settings) *string { return &s.Database }, "embedded", "postgres", "off")},
	{name: "pg_host", def: "127.0.0.1", set: str(func(s *Settings) *string { return &s.PG.Host })},
	{name: "pg_port", def: "5432", set: port(func(s *Settings) *int { return &s.PG.Port })},
	{name: "pg_database", def: "kong", set: str(func(s *Settings) *string { return &s.PG.Database })},
	{name: "pg_schema", set: str(func(s *Settings) *string { return &s.PG.Schema })},
	{name: "pg_timeout", def: "5000", set: millis(func(s *Settings) *time.Duration { return &s.PG.Timeout })},
	{name: "pg_user", def: "kong", set: str(func(s *Settings) *string { return &s.PG.User })},
	{name: "pg_password", set: str(func(s *Settings) *string { return &s.PG.Password }), sensitive: true},
	{name: "pg_ssl", def: "off", set: boolean(func(s *Settings) *bool { return &s.PG.SSL })},
	{name: "pg_ssl_required", def: "off", set: boolean(func(s *Settings) *bool { return &s.PG.SSLRequired })},
	{name: "pg_ssl_verify", def: "off", set: boolean(func(s *Settings) *bool { return &s.PG.SSLVerify })},
	{name: "pg_ssl_version", def: "tlsv1_2", set: enum(func(s *Settings) *string { return &s.PG.SSLVersion }, "tlsv1_1", "tlsv1_2", "tlsv1_3", "any")},
	{name: "pg_ssl_cert", set: str(func(s *Settings) *string { return &s.PG.SSLCert })},
	{name: "pg_ssl_cert_key", set: str(func(s *Settings) *string { return &s.PG.SSLCertKey }), sensitive: true},
	{name: "pg_max_concurrent_queries", def: "0", set: integer(func(s *Settings) *int { return &s.PG.MaxConcurrentQueries }, 0, math.MaxInt32)},
	{name: "pg_semaphore_timeout", def: "60000", set: millis(func(s *Settings) *time.Duration { return &s.PG.SemaphoreTimeout })},
	{name: "pg_keepalive_timeout", set: millis(func(s *Settings) *time.Duration { return &s.PG.KeepaliveTimeout })},
	{name: "pg_pool_size", set: integer(func(s *Settings) *int { return &s.PG.PoolSize }, 0, math.MaxInt32)},
	{name: "pg_backlog", set: integer(func(s *Settings) *int { return &s.PG.Backlog }, 0, math.MaxInt32)},
	// pg_ro_*: unset values fall back to the pg_* value (see Load).
	{name: "pg_ro_host", set: str(func(s *Settings) *string { return &s.PGRO.Host })},
	{name: "pg_ro_port", set: port(func(s *Settings) *int { return &s.PGRO.Port })},
	{name: "pg_ro_database", set: str(func(s *Settings) *string { return &s.PGRO.Database })},
	{name: "pg_ro_schema", set: str(func(s *Settings) *string { return &s.PGRO.Schema })},
	{name: "pg_ro_timeout", set: millis(func(s *Settings) *time.Duration { return &s.PGRO.Timeout })},
	{name: "pg_ro_user", set: str(func(s *Settings) *string { return &s.PGRO.User })},
	{name: "pg_ro_password", set: str(func(s *Settings) *string { return &s.PGRO.Password }), sensitive: true},
	{name: "pg_ro_ssl", set: boolean(func(s *Settings) *bool { return &s.PGRO.SSL })},
	{name: "pg_ro_ssl_required", set: boolean(func(s *Settings) *bool { return &s.PGRO.SSLRequired })},
	{name: "pg_ro_ssl_verify", set: boolean(func(s *Settings) *bool { return &s.PGRO.SSLVerify })},
	{name: "pg_ro_ssl_version", set: enum(func(s *Settings) *string { return &s.PGRO.SSLVersion }, "tlsv1_1", "tlsv1_2", "tlsv1_3", "any")},
	{name: "pg_ro_ssl_cert", set: str(func(s *Settings) *string { return &s.PGRO.SSLCert })},
	{name: "pg_ro_ssl_cert_key", set: str(func(s *Settings) *string { return &s.PGRO.SSLCertKey }), sensitive: true},
	{name: "pg_ro_max_concurrent_queries", set: integer(func(s *Settings) *int { return &s.PGRO.MaxConcurrentQueries }, 0, math.MaxInt32)},
	{name: "pg_ro_semaphore_timeout", set: millis(func(s *Settings) *time.Duration { return &s.PGRO.SemaphoreTimeout })},
	{name: "pg_ro_keepalive_timeout", set: millis(func(s *Settings) *time.Duration { return &s.PGRO.KeepaliveTimeout })},
	{name: "pg_ro_pool_size", set: integer(func(s *Settings) *int { return &s.PGRO.PoolSize }, 0, math.MaxInt32)},
	{name: "pg_ro_backlog", set: integer(func(s *Settings) *int { return &s.PGRO.Backlog }, 0, math.MaxInt32)},

	{name: "declarative_config", set: str(func(s *Settings) *string { return &s.DeclarativeConfig })},
	{name: "declarative_config_string", set: str(func(s *Settings) *string { return &s.DeclarativeConfigString }), sensitive: true},
	{name: "db_update_frequency", def: "5", set: seconds(func(s *Settings) *time.Duration { return &s.DBUpdateFrequency })},
	{name: "db_update_propagation", def: "0", set: seconds(func(s *Settings) *time.Duration { return &s.DBUpdatePropagation })},
	{name: "db_cache_ttl", def: "0", set: seconds(func(s *Settings) *time.Duration { return &s.DBCacheTTL })},
	{name: "db_cache_neg_ttl", set: seconds(func(s *Settings) *time.Duration { return &s.DBCacheNegTTL })},
	{name: "db_resurrect_ttl", def: "30", set: seconds(func(s *Settings) *time.Duration { return &s.DBResurrectTTL })},
	{name: "db_cache_warmup_entities", def: "services", set: list(func(s *Settings) *[]string { return &s.DBCacheWarmupEntities })},

	{name: "dns_resolver", set: list(func(s *Settings) *[]string { return &s.DNSResolver })},
	{name: "dns_hostsfile", def: "/etc/hosts", set: str(func(s *Settings) *string { return &s.DNSHostsfile })},
	{name: "dns_order", def: "LAST,SRV,A,CNAME", set: dnsOrder},
	{name: "dns_valid_ttl", set: seconds(func(s *Settings) *time.Duration { return &s.DNSValidTTL })},
	{name: "dns_stale_ttl", def: "4", set: seconds(func(s *Settings) *time.Duration { return &s.DNSStaleTTL })},
	{name: "dns_cache_size", def: "10000", set: integer(func(s *Settings) *int { return &s.DNSCacheSize }, 0, math.MaxInt32)},
	{name: "dns_not_found_ttl", def: "30", set: seconds(func(s *Settings) *time.Duration { return &s.DNSNotFoundTTL })},
	{name: "dns_error_ttl", def: "1", set: seconds(func(s *Settings) *time.Duration { return &s.DNSErrorTTL })},
	{name: "dns_no_sync", def: "off", set: boolean(func(s *Settings) *bool { return &s.DNSNoSync })},

	{name: "worker_consistency", def: "eventual", set: enum(func(s *Settings) *string { return &s.WorkerConsistency }, "strict", "eventual")},
	{name: "worker_state_update_frequency", def: "5", set: seconds(func(s *Settings) *time.Duration { return &s.WorkerStateUpdateFrequency })},
	{name: "router_flavor", def: "traditional_compatible", set: routerFlavor},
	{name: "role", def: "traditional", set: role},
	{name: "lua_ssl_trusted_certificate", def: "system", set: list(func(s *Settings) *[]string { return &s.LuaSSLTrustedCertificate })},
	{name: "lua_ssl_verify_depth", def: "1", set: integer(func(s *Settings) *int { return &s.LuaSSLVerifyDepth }, 0, 100)},

	// Kong keys that have no meaning in a single Go process: accepted,
	// logged at info.
	{name: "nginx_worker_processes", def: "auto", set: str(func(s *Settings) *string { return &s.NginxWorkerProcesses })},
	{name: "nginx_main_worker_processes", def: "auto", set: str(func(s *Settings) *string { return &s.NginxWorkerProcesses })},
	{name: "nginx_main_worker_shutdown_timeout", set: nginxShutdownTimeout},

	// sluice keys.
	{name: "mem_limit_ratio", def: "0.9", set: number(func(s *Settings) *float64 { return &s.MemLimitRatio }, 0, 1, false)},
	// Kong's tracing settings, read by the opentelemetry plugin (sluice
	// records the request and balancer spans; the other instrumentations
	// are accepted and record nothing)
	{name: "tracing_instrumentations", def: "off", set: list(func(s *Settings) *[]string { return &s.TracingInstrumentations })},
	{name: "tracing_sampling_rate", def: "0.01", set: number(func(s *Settings) *float64 { return &s.TracingSamplingRate }, 0, 1, true)},
	{name: "shutdown_timeout", def: "10", set: seconds(func(s *Settings) *time.Duration { return &s.ShutdownTimeout })},
	{name: "mem_trace", def: "off", set: boolean(func(s *Settings) *bool { return &s.MemTrace })},
	{name: "admin_token", set: str(func(s *Settings) *string { return &s.AdminToken }), sensitive: true},
	{name: "log_format", def: "text", set: enum(func(s *Settings) *string { return &s.LogFormat }, "text", "json")},
}

var keyIndex = func() map[string]*keyDef {
	m := make(map[string]*keyDef, len(defs))
	for i := range defs {
		m[defs[i].name] = &defs[i]
	}
	return m
}()

// kongOnlyKeys are Kong settings sluice accepts and ignores with a warning:
// they configure nginx, Lua, Enterprise features or hybrid mode.
var kongOnlyKeys = map[string]bool{}

// kongOnlyPrefixes: every key with one of these prefixes is a Kong setting
// without meaning in sluice (nginx directive injection, Lua VM, vaults,
// plugin servers, hybrid mode, Kong Manager).
var kongOnlyPrefixes = []string{"nginx_", "lua_", "vault_", "pluginserver_", "cluster_", "admin_gui_", "debug_",
	"resolver_", "wasm", "tracing_", "opentelemetry_", "untrusted_lua", "portal", "vitals", "keyring_", "smtp_", "audit_log", "konnect_"}

func init() {
	for _, k := range strings.Fields(`
proxy_stream_access_log proxy_stream_error_log vaults dedicated_config_processing host_ports
proxy_server proxy_server_ssl_verify error_template_html error_template_json error_template_xml
error_template_plain lmdb_environment_path lmdb_map_size client_ssl client_ssl_cert client_ssl_cert_key
ssl_prefer_server_ciphers ssl_dhparam ssl_session_cache_size declarative_config_encryption_mode
kic allow_inconsistent_data_plane_plugins legacy_worker_events max_queued_batches new_dns_client
request_debug request_debug_token router_consistency pg_expired_rows_cleanup_interval
_debug_pg_ttl_cleanup_interval openresty_path enforce_rbac rbac_auth_header fips event_hooks_enabled
route_validation_strategy enforce_route_path_pattern analytics_flush_interval analytics_buffer_size_limit
proxy_url origins nginx_optimizations upstream_keepalive client_max_body_size async_rebuilds
worker_events_max_payload cassandra_contact_points cassandra_port cassandra_keyspace`) {
		kongOnlyKeys[k] = true
	}
}

// isKongOnly reports whether key is a Kong setting that sluice ignores.
func isKongOnly(key string) bool {
	if kongOnlyKeys[key] {
		return true
	}
	for _, p := range kongOnlyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return strings.HasPrefix(key, "cassandra_")
}

// --- setters ---

func str(f func(*Settings) *string) setter {
	return func(s *Settings, v string) error { *f(s) = v; return nil }
}

func boolean(f func(*Settings) *bool) setter {
	return func(s *Settings, v string) error {
		switch v {
		case "on", "true":
			*f(s) = true
		case "off", "false", "":
			*f(s) = false
		default:
			return fmt.Errorf("want on or off")
		}
		return nil
	}
}

func integer(f func(*Settings) *int, min, max int) setter {
	return func(s *Settings, v string) error {
		if v == "" {
			*f(s) = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		if n < min || n > max {
			return fmt.Errorf("want an integer from %d to %d", min, max)
		}
		*f(s) = n
		return nil
	}
}

func port(f func(*Settings) *int) setter {
	return func(s *Settings, v string) error {
		if v == "" {
			*f(s) = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("want a port number from 1 to 65535")
		}
		*f(s) = n
		return nil
	}
}

// number accepts a decimal number in [min, max]; min itself is allowed
// only when closedMin.
func number(f func(*Settings) *float64, min, max float64, closedMin bool) setter {
	return func(s *Settings, v string) error {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("want a number")
		}
		if n > max || n < min || (!closedMin && n == min) {
			lo := "("
			if closedMin {
				lo = "["
			}
			return fmt.Errorf("want a number in %s%g, %g]", lo, min, max)
		}
		*f(s) = n
		return nil
	}
}

// seconds reads Kong's numeric seconds (fractions allowed, not negative).
func seconds(f func(*Settings) *time.Duration) setter {
	return func(s *Settings, v string) error {
		if v == "" {
			*f(s) = 0
			return nil
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || math.IsNaN(n) || n > 1e9 {
			return fmt.Errorf("want a number of seconds, 0 or more")
		}
		*f(s) = time.Duration(n * float64(time.Second))
		return nil
	}
}

func millis(f func(*Settings) *time.Duration) setter {
	return func(s *Settings, v string) error {
		if v == "" {
			*f(s) = 0
			return nil
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || math.IsNaN(n) || n > 1e12 {
			return fmt.Errorf("want a number of milliseconds, 0 or more")
		}
		*f(s) = time.Duration(n * float64(time.Millisecond))
		return nil
	}
}

func enum(f func(*Settings) *string, vals ...string) setter {
	return func(s *Settings, v string) error {
		for _, x := range vals {
			if v == x {
				*f(s) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(vals, ", "))
	}
}

// splitList splits a comma list, trimming entries and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func list(f func(*Settings) *[]string) setter {
	return func(s *Settings, v string) error { *f(s) = splitList(v); return nil }
}

// ParseSize reads nginx sizes: a number of bytes with an optional k, m or g
// suffix (either case).
func ParseSize(v string) (int64, error) {
	if v == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	num := v
	switch v[len(v)-1] {
	case 'k', 'K':
		mult, num = 1<<10, v[:len(v)-1]
	case 'm', 'M':
		mult, num = 1<<20, v[:len(v)-1]
	case 'g', 'G':
		mult, num = 1<<30, v[:len(v)-1]
	case 'b', 'B':
		num = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num[0] == '+' || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size such as 512, 8k, 128m or 1g")
	}
	return n * mult, nil
}

func size(f func(*Settings) *int64) setter {
	return func(s *Settings, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		*f(s) = n
		return nil
	}
}

func listen(key string, f func(*Settings) *[]Listen) setter {
	return func(s *Settings, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s", listenUsage)
		}
		ls, err := ParseListen(key, v)
		if err != nil {
			// ParseListen names the key already; keep only the reason.
			return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), key+": "))
		}
		*f(s) = ls
		return nil
	}
}

// streamListen parses stream_listen: TCP entries, plain or ssl (TLS
// terminated or passed through by route). UDP entries are refused.
func streamListen(s *Settings, v string) error {
	var entries []string
	for _, e := range strings.Split(v, ",") {
		fields := strings.Fields(e)
		kept := fields[:0]
		for _, f := range fields {
			switch f {
			case "udp":
				return fmt.Errorf("entry %q: UDP stream proxying is not supported by sluice (TCP and TLS are)", strings.TrimSpace(e))
			case "http2", "deferred":
				return fmt.Errorf("entry %q: flag %q does not apply to stream_listen", strings.TrimSpace(e), f)
			}
			kept = append(kept, f)
		}
		entries = append(entries, strings.Join(kept, " "))
	}
	err := listen("stream_listen", func(s *Settings) *[]Listen { return &s.StreamListen })(s, strings.Join(entries, ","))
	if err != nil {
		return fmt.Errorf("%s", strings.Replace(err.Error(), listenUsage, streamListenUsage, 1))
	}
	return nil
}

// streamListenUsage is Kong's form of stream_listen.
const streamListenUsage = "must be of form: [off] | <ip>:<port> [udp] [ssl] [proxy_protocol] [bind] [reuseport] " +
	"[backlog=N] [ipv6only=on|off] [so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]], [... next entry ...]"

func nodeID(s *Settings, v string) error {
	if v != "" && !isUUID(v) {
		return fmt.Errorf("want a UUID")
	}
	s.NodeID = v
	return nil
}

func isUUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}

// portMaps reads Kong's port_maps: "host_port:kong_port" pairs, stored as
// kong (listening) port -> host (announced) port.
func portMaps(s *Settings, v string) error {
	s.PortMaps = nil
	for _, e := range splitList(v) {
		h, k, ok := strings.Cut(e, ":")
		hp, err1 := strconv.Atoi(h)
		kp, err2 := strconv.Atoi(k)
		if !ok || err1 != nil || err2 != nil || hp < 1 || hp > 65535 || kp < 1 || kp > 65535 {
			return fmt.Errorf("invalid port mapping %q (want host_port:kong_port)", e)
		}
		if s.PortMaps == nil {
			s.PortMaps = map[int]int{}
		}
		s.PortMaps[kp] = hp
	}
	return nil
}

func sslProtocols(s *Settings, v string) error {
	for _, p := range strings.Fields(v) {
		switch p {
		case "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3":
		default:
			return fmt.Errorf("unknown protocol %q (want TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", p)
		}
	}
	s.SSLProtocols = v
	return nil
}

func headerTokens(key string, f func(*Settings) *[]string, valid ...string) setter {
	return func(s *Settings, v string) error {
		toks := splitList(v)
		for _, t := range toks {
			lt := strings.ToLower(t)
			ok := lt == "off"
			for _, x := range valid {
				ok = ok || lt == x
			}
			if !ok {
				return fmt.Errorf("invalid entry %q", t)
			}
		}
		*f(s) = toks
		return nil
	}
}

func trustedIPs(s *Settings, v string) error {
	s.TrustedIPs = nil
	for _, e := range splitList(v) {
		if e == "unix:" {
			continue // nginx's "trust the unix socket", nothing to do here
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			s.TrustedIPs = append(s.TrustedIPs, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR", e)
		}
		s.TrustedIPs = append(s.TrustedIPs, netip.PrefixFrom(a, a.BitLen()))
	}
	return nil
}

func dnsOrder(s *Settings, v string) error {
	toks := splitList(v)
	for _, t := range toks {
		switch strings.ToUpper(t) {
		case "LAST", "SRV", "A", "AAAA", "CNAME":
		default:
			return fmt.Errorf("invalid entry %q (want LAST, SRV, A, AAAA, CNAME)", t)
		}
	}
	s.DNSOrder = toks
	return nil
}

func routerFlavor(s *Settings, v string) error {
	switch v {
	case "traditional_compatible", "traditional":
		s.RouterFlavor = v
		return nil
	case "expressions":
		return fmt.Errorf("the expressions router is not supported by sluice (use traditional_compatible)")
	}
	return fmt.Errorf("want one of traditional, traditional_compatible, expressions")
}

func role(s *Settings, v string) error {
	switch v {
	case "traditional":
		s.Role = v
		return nil
	case "control_plane", "data_plane":
		return fmt.Errorf("hybrid mode is not supported by sluice (use database = postgres for a cluster)")
	}
	return fmt.Errorf("want one of traditional, control_plane, data_plane")
}

func nginxShutdownTimeout(s *Settings, v string) error {
	if v == "" {
		return nil
	}
	d, err := parseNginxTime(v)
	if err != nil {
		return err
	}
	s.nginxShutdownTimeout = d
	return nil
}
