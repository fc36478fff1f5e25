// Package settings loads sluice's settings: Kong's kong.conf keys (same
// names, syntax and defaults, with the differences listed below) from, in
// order of precedence, highest first:
//
//  1. command-line flags (Options.Flags);
//  2. the environment: SLUICE_<KEY>, then KONG_<KEY> (when both are set,
//     SLUICE_ wins, so a sluice-specific override can sit next to a Kong
//     deployment's KONG_ variables);
//  3. the file given with -c (Options.ConfPath), else the first of
//     /etc/kong/kong.conf and /etc/kong.conf that exists;
//  4. built-in defaults (Kong's).
//
// Values "NONE" and "" mean unset. Booleans are on/off (true/false also).
// Lists are comma separated.
//
// Differences from Kong: database defaults to "embedded" (also accepts
// "postgres" and "off"); status_listen defaults to 0.0.0.0:8100 (Kong:
// off); sluice adds mem_limit_ratio (GOMEMLIMIT as a share of the container
// memory limit, 0.9) and shutdown_timeout (seconds to finish in-flight
// requests on a graceful stop, 10; nginx_main_worker_shutdown_timeout is
// used when it is set and shutdown_timeout is not) and log_format (text or
// json, logs go to stderr). An unknown key in the file, in
// SLUICE_* or on the command line stops start-up with a message naming it;
// Kong keys that mean nothing to sluice (nginx_*, lua_*, hybrid mode, ...)
// are accepted and logged, and unknown KONG_* variables are logged and
// ignored (Kong ignores them silently). Invalid values stop start-up with
// a message naming the key, the value and where it came from. Booleans other
// than on/off/true/false are rejected (Kong reads them as off).
package settings

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Settings is the typed result of Load. Durations given in Kong as numbers
// of seconds or milliseconds are converted; sizes are in bytes; 0 or ""
// means unset where Kong's default is NONE.
type Settings struct {
	Prefix   string // absolute
	LogLevel string

	ProxyAccessLog, ProxyErrorLog   string
	AdminAccessLog, AdminErrorLog   string
	StatusAccessLog, StatusErrorLog string

	ProxyListen  []Listen
	AdminListen  []Listen
	StatusListen []Listen
	StreamListen []Listen // tcp and tls; nil when off

	Plugins []string // as written; "bundled" and "off" are not expanded
	// VaultEnvPrefix is vault_env_prefix: put in front of the variable
	// name of a {vault://env/...} reference that names no prefix.
	VaultEnvPrefix   string
	AnonymousReports bool // accepted; sluice never reports
	NodeID           string
	// PortMaps is port_maps: listening port -> port announced to clients
	// (X-Forwarded-Port), e.g. 8000 -> 80 behind a container port mapping.
	PortMaps map[int]int

	MemCacheSize                    int64
	SSLCipherSuite                  string
	SSLCiphers                      string
	SSLProtocols                    string
	SSLSessionTickets               bool
	SSLSessionTimeout               string
	SSLCert, SSLCertKey             []string
	AdminSSLCert, AdminSSLCertKey   []string
	StatusSSLCert, StatusSSLCertKey []string

	Headers, HeadersUpstream []string
	TrustedIPs               []netip.Prefix
	RealIPHeader             string
	RealIPRecursive          bool
	ErrorDefaultType         string

	UpstreamKeepalivePoolSize    int
	UpstreamKeepaliveMaxRequests int
	UpstreamKeepaliveIdleTimeout time.Duration
	AllowDebugHeader             bool
	ClientMaxBodySize            int64 // nginx_http_client_max_body_size; 0 = no limit
	ClientBodyBufferSize         int64

	Database string // embedded, postgres or off
	PG       PG
	// PGRO is the optional read-only replica; PGRO.Host == "" means none.
	// Its unset fields take the PG value.
	PGRO PG

	DeclarativeConfig       string // absolute path, or ""
	DeclarativeConfigString string

	DBUpdateFrequency time.Duration
	// MemTrace (sluice key mem_trace) keeps an execution-trace flight
	// recorder running so that each memory-spike capture includes a trace
	// window; it costs about 25 MiB and a few percent of CPU, so it is off
	// by default (heap profiles are captured either way).
	MemTrace bool
	// AdminToken, when set (sluice key admin_token), is required in the
	// Kong-Admin-Token header of every Admin API request.
	AdminToken            string
	DBUpdatePropagation   time.Duration
	DBCacheTTL            time.Duration
	DBCacheNegTTL         time.Duration // defaults to DBCacheTTL
	DBResurrectTTL        time.Duration
	DBCacheWarmupEntities []string

	DNSResolver    []string
	DNSHostsfile   string
	DNSOrder       []string
	DNSValidTTL    time.Duration
	DNSStaleTTL    time.Duration
	DNSCacheSize   int
	DNSNotFoundTTL time.Duration
	DNSErrorTTL    time.Duration
	DNSNoSync      bool

	WorkerConsistency          string
	WorkerStateUpdateFrequency time.Duration
	RouterFlavor               string
	Role                       string

	LuaSSLTrustedCertificate []string
	LuaSSLVerifyDepth        int

	NginxWorkerProcesses string // accepted and ignored

	MemLimitRatio float64
	// TracingInstrumentations and TracingSamplingRate are Kong's
	// tracing_instrumentations and tracing_sampling_rate.
	TracingInstrumentations []string
	TracingSamplingRate     float64
	ShutdownTimeout         time.Duration
	LogFormat               string // text or json (sluice key log_format)

	// ConfPath is the file that was read, "" when none.
	ConfPath string

	values               map[string]string // effective raw values by key
	sources              map[string]string
	nginxShutdownTimeout time.Duration
}

// PG holds the pg_* (or pg_ro_*) settings.
type PG struct {
	Host, Database, Schema, User, Password string
	Port                                   int
	Timeout                                time.Duration
	SSL, SSLRequired, SSLVerify            bool
	SSLVersion                             string
	SSLCert, SSLCertKey                    string
	MaxConcurrentQueries                   int
	SemaphoreTimeout, KeepaliveTimeout     time.Duration
	PoolSize, Backlog                      int
}

// Options says where Load reads from.
type Options struct {
	// ConfPath is the file given with -c; it must exist. Empty: the first
	// existing file of DefaultPaths.
	ConfPath string
	// DefaultPaths replaces /etc/kong/kong.conf, /etc/kong.conf when not
	// nil (tests pass an empty slice).
	DefaultPaths []string
	// Flags are settings from the command line, by key (e.g. "prefix").
	Flags map[string]string
	// Environ is the environment in os.Environ form; nil reads os.Environ.
	Environ []string
	// Log receives warnings about ignored keys; nil discards them.
	Log *slog.Logger
}

// DefaultConfPaths are where Kong looks for kong.conf when -c is not given.
var DefaultConfPaths = []string{"/etc/kong/kong.conf", "/etc/kong.conf"}

type value struct {
	raw, source string
}

// Load merges defaults, the conf file, the environment and flags, and
// validates the result. All problems found are returned together, each
// naming its key.
func Load(opts Options) (*Settings, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vals := make(map[string]value, len(defs))
	for _, d := range defs {
		vals[d.name] = value{raw: d.def, source: "default"}
	}
	var errs []error

	// File.
	path := opts.ConfPath
	if path == "" {
		paths := opts.DefaultPaths
		if paths == nil {
			paths = DefaultConfPaths
		}
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading config file: %w", err)
		}
		entries, err := ParseConf(string(data))
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		for _, e := range entries {
			src := fmt.Sprintf("%s:%d", path, e.Line)
			switch {
			case keyIndex[e.Key] != nil:
				vals[e.Key] = value{raw: e.Value, source: src}
			case isKongOnly(e.Key):
				log.Warn("Kong setting has no effect in sluice, ignored", "key", e.Key, "source", src)
			default:
				errs = append(errs, fmt.Errorf("%s: unknown setting %q", src, e.Key))
			}
		}
	}

	// Environment: KONG_ first, then SLUICE_ so that it wins.
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	for _, prefix := range []string{"KONG_", "SLUICE_"} {
		var names []string
		env := map[string]string{}
		for _, kv := range environ {
			k, v, _ := strings.Cut(kv, "=")
			if len(k) > len(prefix) && strings.EqualFold(k[:len(prefix)], prefix) {
				names = append(names, k)
				env[k] = v
			}
		}
		sort.Strings(names)
		for _, name := range names {
			key := strings.ToLower(name[len(prefix):])
			switch {
			case keyIndex[key] != nil:
				vals[key] = value{raw: env[name], source: "environment variable " + name}
			case isKongOnly(key):
				log.Warn("Kong setting has no effect in sluice, ignored", "key", key, "source", name)
			case prefix == "KONG_":
				log.Warn("unknown KONG_ environment variable ignored", "name", name)
			default:
				errs = append(errs, fmt.Errorf("environment variable %s: unknown setting %q", name, key))
			}
		}
	}

	// Flags.
	flagKeys := make([]string, 0, len(opts.Flags))
	for k := range opts.Flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		if keyIndex[k] == nil {
			errs = append(errs, fmt.Errorf("command line: unknown setting %q", k))
			continue
		}
		vals[k] = value{raw: opts.Flags[k], source: "command line"}
	}

	// Normalise: trim, NONE means unset; pg_ro_* fall back to pg_*.
	for k, v := range vals {
		v.raw = strings.TrimSpace(v.raw)
		if v.raw == "NONE" {
			v.raw = ""
		}
		vals[k] = v
	}
	for k, v := range vals {
		if base, ok := strings.CutPrefix(k, "pg_ro_"); ok && v.raw == "" {
			if pv, ok := vals["pg_"+base]; ok && pv.raw != "" {
				vals[k] = value{raw: pv.raw, source: pv.source}
			}
		}
	}

	s := &Settings{ConfPath: path, values: map[string]string{}, sources: map[string]string{}}
	for _, d := range defs {
		v := vals[d.name]
		s.values[d.name] = v.raw
		s.sources[d.name] = v.source
		if err := d.set(s, v.raw); err != nil {
			shown := v.raw
			if d.sensitive {
				shown = "******"
			}
			errs = append(errs, fmt.Errorf("%s: invalid %s %q: %w", v.source, d.name, shown, err))
		}
	}
	if err := s.finish(vals, log); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// finish resolves derived values and checks rules that span keys.
func (s *Settings) finish(vals map[string]value, log *slog.Logger) error {
	var errs []error
	if vals["db_cache_neg_ttl"].raw == "" {
		s.DBCacheNegTTL = s.DBCacheTTL
	}
	if s.Prefix == "" {
		errs = append(errs, fmt.Errorf("%s: prefix must not be empty", vals["prefix"].source))
	} else if abs, err := filepath.Abs(s.Prefix); err == nil {
		s.Prefix = abs
	}
	if s.DeclarativeConfig != "" {
		if abs, err := filepath.Abs(s.DeclarativeConfig); err == nil {
			s.DeclarativeConfig = abs
		}
	}
	pair := func(certKey, keyKey string, certs, keys []string) {
		if len(certs) != len(keys) {
			errs = append(errs, fmt.Errorf("%s was given %d times while %s was given %d times",
				certKey, len(certs), keyKey, len(keys)))
		}
	}
	pair("ssl_cert", "ssl_cert_key", s.SSLCert, s.SSLCertKey)
	pair("admin_ssl_cert", "admin_ssl_cert_key", s.AdminSSLCert, s.AdminSSLCertKey)
	pair("status_ssl_cert", "status_ssl_cert_key", s.StatusSSLCert, s.StatusSSLCertKey)
	if s.SSLCiphers != "" && s.SSLCipherSuite != "custom" {
		log.Warn("ssl_ciphers is used only with ssl_cipher_suite = custom; ignored", "ssl_cipher_suite", s.SSLCipherSuite)
	}
	if s.RouterFlavor == "traditional" {
		log.Warn("router_flavor = traditional: routes' path_handling v1 is honoured as in Kong's traditional router; matching and priorities follow traditional_compatible")
	}
	if src := vals["nginx_worker_processes"].source; src != "default" {
		log.Info("nginx_worker_processes has no effect: sluice is one process using every CPU of its quota", "source", src)
	}
	if src := vals["nginx_main_worker_processes"].source; src != "default" {
		log.Info("nginx_main_worker_processes has no effect: sluice is one process using every CPU of its quota", "source", src)
	}
	if s.nginxShutdownTimeout > 0 && vals["shutdown_timeout"].source == "default" {
		s.ShutdownTimeout = s.nginxShutdownTimeout
	}
	return errors.Join(errs...)
}

// Value returns the effective raw value of key ("" when unset) and whether
// the key is one sluice knows.
func (s *Settings) Value(key string) (string, bool) {
	v, ok := s.values[key]
	return v, ok
}

// Source says where the value of key came from: "default", "command line",
// "environment variable KONG_X" or "path:line".
func (s *Settings) Source(key string) string { return s.sources[key] }

// Redacted returns every effective raw value by key with secrets replaced
// by "******", for logs and the Admin API's GET / configuration.
func (s *Settings) Redacted() map[string]string {
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		if keyIndex[k].sensitive && v != "" {
			v = "******"
		}
		out[k] = v
	}
	return out
}

// SlogLevel maps log_level to a slog level: debug; info and notice to
// Info; warn; error and above to Error.
func (s *Settings) SlogLevel() slog.Level {
	switch s.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "info", "notice":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	}
	return slog.LevelError
}

// DBless reports whether the node serves a declarative config without a
// database (database = off).
func (s *Settings) DBless() bool { return s.Database == "off" }

// PIDFile is where `sluice start` writes its pid: <prefix>/pids/sluice.pid.
func (s *Settings) PIDFile() string { return PIDFile(s.Prefix) }

// PIDFile returns the pid file path for a prefix.
func PIDFile(prefix string) string { return filepath.Join(prefix, "pids", "sluice.pid") }

// TLSVersions returns the TLS protocol range for the proxy listeners, as
// Kong derives it: ssl_cipher_suite picks the protocols (modern: 1.3;
// intermediate: 1.2-1.3; old: 1.0-1.3; fips: 1.2) and only "custom" reads
// ssl_protocols.
func (s *Settings) TLSVersions() (minVersion, maxVersion uint16) {
	switch s.SSLCipherSuite {
	case "modern":
		return tls.VersionTLS13, tls.VersionTLS13
	case "old":
		return tls.VersionTLS10, tls.VersionTLS13
	case "fips":
		return tls.VersionTLS12, tls.VersionTLS12
	case "custom":
		vers := map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
			"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
		for _, p := range strings.Fields(s.SSLProtocols) {
			v := vers[p]
			if minVersion == 0 || v < minVersion {
				minVersion = v
			}
			if v > maxVersion {
				maxVersion = v
			}
		}
		if minVersion != 0 {
			return minVersion, maxVersion
		}
	}
	return tls.VersionTLS12, tls.VersionTLS13
}
