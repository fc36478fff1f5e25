package settings

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// load runs Load with no default conf paths and only the given environment.
func load(t *testing.T, conf string, env []string, flags map[string]string) (*Settings, string, error) {
	t.Helper()
	var path string
	if conf != "" {
		path = filepath.Join(t.TempDir(), "kong.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	if env == nil {
		env = []string{}
	}
	s, err := Load(Options{ConfPath: path, DefaultPaths: []string{}, Environ: env, Flags: flags,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	return s, logs.String(), err
}

func TestDefaults(t *testing.T) {
	s, _, err := load(t, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"database", s.Database, "embedded"},
		{"log_level", s.LogLevel, "notice"},
		{"prefix", s.Prefix, "/usr/local/kong"},
		{"proxy_listen", len(s.ProxyListen), 2},
		{"proxy_listen[0]", s.ProxyListen[0].String(), "0.0.0.0:8000 reuseport backlog=16384"},
		{"proxy_listen[1]", s.ProxyListen[1].String(), "0.0.0.0:8443 ssl http2 reuseport backlog=16384"},
		{"admin_listen[0]", s.AdminListen[0].Addr(), "127.0.0.1:8001"},
		{"status_listen", s.StatusListen[0].String(), "0.0.0.0:8100"},
		{"mem_cache_size", s.MemCacheSize, int64(128 << 20)},
		{"pg_port", s.PG.Port, 5432},
		{"pg_timeout", s.PG.Timeout, 5 * time.Second},
		{"pg_ro_port falls back", s.PGRO.Port, 5432},
		{"pg_ro_host", s.PGRO.Host, "127.0.0.1"},
		{"db_update_frequency", s.DBUpdateFrequency, 5 * time.Second},
		{"router_flavor", s.RouterFlavor, "traditional_compatible"},
		{"mem_limit_ratio", s.MemLimitRatio, 0.9},
		{"shutdown_timeout", s.ShutdownTimeout, 10 * time.Second},
		{"headers", strings.Join(s.Headers, "|"), "server_tokens|latency_tokens|x-kong-request-id"},
		{"declarative_config", s.DeclarativeConfig, ""},
		{"upstream_keepalive_pool_size", s.UpstreamKeepalivePoolSize, 512},
		{"real_ip_header", s.RealIPHeader, "X-Real-IP"},
		{"pid file", s.PIDFile(), "/usr/local/kong/pids/sluice.pid"},
		{"source", s.Source("database"), "default"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	conf := "pg_host = from-file\n"
	tests := []struct {
		name  string
		conf  string
		env   []string
		flags map[string]string
		want  string
		src   string
	}{
		{"default", "", nil, nil, "127.0.0.1", "default"},
		{"file over default", conf, nil, nil, "from-file", "kong.conf:1"},
		{"KONG_ over file", conf, []string{"KONG_PG_HOST=from-kong"}, nil, "from-kong", "environment variable KONG_PG_HOST"},
		{"SLUICE_ over KONG_", conf, []string{"SLUICE_PG_HOST=from-sluice", "KONG_PG_HOST=from-kong"}, nil, "from-sluice", "environment variable SLUICE_PG_HOST"},
		{"SLUICE_ over KONG_ (order)", conf, []string{"KONG_PG_HOST=from-kong", "SLUICE_PG_HOST=from-sluice"}, nil, "from-sluice", "environment variable SLUICE_PG_HOST"},
		{"flag over all", conf, []string{"SLUICE_PG_HOST=from-sluice", "KONG_PG_HOST=from-kong"},
			map[string]string{"pg_host": "from-flag"}, "from-flag", "command line"},
		{"env name is case-insensitive", "", []string{"kong_pg_host=lower"}, nil, "lower", "environment variable kong_pg_host"},
		{"NONE unsets", conf, []string{"KONG_PG_HOST=NONE"}, nil, "", "environment variable KONG_PG_HOST"},
		{"empty unsets", conf, []string{"KONG_PG_HOST="}, nil, "", "environment variable KONG_PG_HOST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := load(t, tt.conf, tt.env, tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			if s.PG.Host != tt.want {
				t.Errorf("pg_host: got %q; want %q", s.PG.Host, tt.want)
			}
			if src := s.Source("pg_host"); !strings.HasSuffix(src, tt.src) {
				t.Errorf("source: got %q; want suffix %q", src, tt.src)
			}
		})
	}
}

func TestInvalidValuesNameKeyAndValue(t *testing.T) {
	tests := []struct {
		key, value string
		want       string // extra text the message must hold
	}{
		{"pg_port", "abc", "port number"},
		{"pg_port", "70000", "port number"},
		{"database", "mysql", "embedded, postgres, off"},
		{"database", "cassandra", "embedded"},
		{"log_level", "verbose", "debug, info"},
		{"anonymous_reports", "yes", "on or off"},
		{"mem_cache_size", "lots", "size"},
		{"mem_limit_ratio", "0", "(0, 1]"},
		{"mem_limit_ratio", "1.5", "(0, 1]"},
		{"db_update_frequency", "-1", "seconds"},
		{"pg_timeout", "soon", "milliseconds"},
		{"proxy_listen", "0.0.0.0:8000 foo", `unknown flag "foo"`},
		{"proxy_listen", "0.0.0.0", "missing port"},
		{"proxy_listen", "0.0.0.0:99999", "invalid port"},
		{"admin_listen", "127.0.0.1:8001 backlog=x", "backlog"},
		{"status_listen", "", "must be of form"},
		{"stream_listen", "0.0.0.0:9000 udp", "UDP stream proxying is not supported"},
		{"stream_listen", "0.0.0.0:9000 http2", `"http2" does not apply`},
		{"stream_listen", "0.0.0.0:9000 foo", `unknown flag "foo"`},
		{"router_flavor", "expressions", "not supported"},
		{"role", "data_plane", "hybrid"},
		{"headers", "server_tokens, x-foo", `"x-foo"`},
		{"trusted_ips", "10.0.0.0/8, nope", `"nope"`},
		{"error_default_type", "text/csv", "application/json"},
		{"ssl_protocols", "TLSv1.2 SSLv3", "SSLv3"},
		{"node_id", "not-a-uuid", "UUID"},
		{"dns_order", "LAST,MX", "MX"},
		{"shutdown_timeout", "forever", "seconds"},
		{"upstream_keepalive_pool_size", "-1", "integer"},
		{"port_maps", "80-8000", "host_port:kong_port"},
		{"log_format", "xml", "text, json"},
	}
	for _, tt := range tests {
		for _, src := range []string{"file", "env", "flag"} {
			t.Run(tt.key+"/"+src, func(t *testing.T) {
				var (
					err   error
					where string
				)
				switch src {
				case "file":
					_, _, err = load(t, tt.key+" = "+tt.value+"\n", nil, nil)
					where = "kong.conf:1"
				case "env":
					_, _, err = load(t, "", []string{"KONG_" + strings.ToUpper(tt.key) + "=" + tt.value}, nil)
					where = "KONG_" + strings.ToUpper(tt.key)
				case "flag":
					_, _, err = load(t, "", nil, map[string]string{tt.key: tt.value})
					where = "command line"
				}
				if err == nil {
					t.Fatalf("%s = %q: got no error; want one", tt.key, tt.value)
				}
				msg := err.Error()
				for _, want := range []string{tt.key, tt.value, tt.want, where} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q: want it to contain %q", msg, want)
					}
				}
			})
		}
	}
}

func TestSensitiveValueNotShown(t *testing.T) {
	// pg_password takes any string; ssl_cert_key can't fail either, so use
	// the count check for a cross-key error and a direct check of Redacted.
	s, _, err := load(t, "pg_password = s3cret\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Redacted()["pg_password"]; got != "******" {
		t.Errorf("Redacted pg_password: got %q; want ******", got)
	}
	if got := s.Redacted()["pg_host"]; got != "127.0.0.1" {
		t.Errorf("Redacted pg_host: got %q; want 127.0.0.1", got)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		env     []string
		flags   map[string]string
		wantErr string // "" = no error
		wantLog string
	}{
		{name: "unknown in file", conf: "# c\nproxy_lsten = 0.0.0.0:1\n", wantErr: `kong.conf:2: unknown setting "proxy_lsten"`},
		{name: "unknown SLUICE_", env: []string{"SLUICE_MEM_LIMIT=1"}, wantErr: `SLUICE_MEM_LIMIT: unknown setting "mem_limit"`},
		{name: "unknown flag", flags: map[string]string{"nope": "1"}, wantErr: `unknown setting "nope"`},
		{name: "unknown KONG_ env is logged", env: []string{"KONG_VERSION=3.9.1"}, wantLog: "KONG_VERSION"},
		{name: "Kong nginx key in file", conf: "nginx_http_large_client_header_buffers = 4 16k\n", wantLog: "nginx_http_large_client_header_buffers"},
		{name: "Kong lua key in env", env: []string{"KONG_LUA_PACKAGE_PATH=/opt/?.lua"}, wantLog: "lua_package_path"},
		{name: "Kong hybrid key in env", env: []string{"KONG_CLUSTER_CERT=/x.crt"}, wantLog: "cluster_cert"},
		{name: "Kong key in file", conf: "lmdb_map_size = 2048m\n", wantLog: "lmdb_map_size"},
		{name: "nginx_worker_processes", conf: "nginx_worker_processes = 4\n", wantLog: "nginx_worker_processes has no effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, logs, err := load(t, tt.conf, tt.env, tt.flags)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v; want none", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
			}
			if tt.wantLog != "" && !strings.Contains(logs, tt.wantLog) {
				t.Errorf("log %q: want it to mention %q", logs, tt.wantLog)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, _, err := load(t, "pg_port = x\ndatabase = y\nbogus = 1\n", nil, nil)
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"pg_port", "database", "bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to name %q", err, want)
		}
	}
}

func TestConfFileMissing(t *testing.T) {
	_, err := Load(Options{ConfPath: filepath.Join(t.TempDir(), "nope.conf"), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "nope.conf") {
		t.Fatalf("got %v; want an error naming the file", err)
	}
}

func TestDefaultPathUsed(t *testing.T) {
	dir := t.TempDir()
	second := filepath.Join(dir, "kong.conf")
	if err := os.WriteFile(second, []byte("log_level = debug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Options{DefaultPaths: []string{filepath.Join(dir, "missing.conf"), second}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if s.LogLevel != "debug" || s.ConfPath != second {
		t.Errorf("got log_level %q from %q; want debug from %q", s.LogLevel, s.ConfPath, second)
	}
}

func TestDerivedValues(t *testing.T) {
	s, _, err := load(t, `
prefix = relative/prefix
declarative_config = kong.yml
db_cache_ttl = 30
pg_ro_host = replica
pg_port = 6543
ssl_cipher_suite = custom
ssl_protocols = TLSv1.1 TLSv1.2
trusted_ips = 10.0.0.0/8, 192.168.1.1, ::1
nginx_main_worker_shutdown_timeout = 30s
database = off
port_maps = 80:8000, 443:8443
`, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "relative/prefix"); s.Prefix != want {
		t.Errorf("prefix: got %q; want %q", s.Prefix, want)
	}
	if want := filepath.Join(wd, "kong.yml"); s.DeclarativeConfig != want {
		t.Errorf("declarative_config: got %q; want %q", s.DeclarativeConfig, want)
	}
	if s.DBCacheNegTTL != 30*time.Second {
		t.Errorf("db_cache_neg_ttl: got %v; want it to follow db_cache_ttl (30s)", s.DBCacheNegTTL)
	}
	if s.PGRO.Host != "replica" || s.PGRO.Port != 6543 {
		t.Errorf("pg_ro: got %s:%d; want replica:6543", s.PGRO.Host, s.PGRO.Port)
	}
	if lo, hi := s.TLSVersions(); lo != tls.VersionTLS11 || hi != tls.VersionTLS12 {
		t.Errorf("TLS versions: got %x-%x; want TLS1.1-1.2", lo, hi)
	}
	if len(s.TrustedIPs) != 3 || s.TrustedIPs[1].String() != "192.168.1.1/32" {
		t.Errorf("trusted_ips: got %v", s.TrustedIPs)
	}
	if s.ShutdownTimeout != 30*time.Second {
		t.Errorf("shutdown_timeout: got %v; want nginx_main_worker_shutdown_timeout's 30s", s.ShutdownTimeout)
	}
	if s.PortMaps[8000] != 80 || s.PortMaps[8443] != 443 || len(s.PortMaps) != 2 {
		t.Errorf("port_maps: got %v; want 8000->80, 8443->443", s.PortMaps)
	}
	if !s.DBless() {
		t.Error("DBless: got false; want true")
	}
}

func TestCertKeyCount(t *testing.T) {
	_, _, err := load(t, "ssl_cert = /a.crt, /b.crt\nssl_cert_key = /a.key\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "ssl_cert was given 2 times while ssl_cert_key was given 1 times") {
		t.Fatalf("got %v; want the count mismatch", err)
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"notice": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "emerg": slog.LevelError} {
		s, _, err := load(t, "", []string{"KONG_LOG_LEVEL=" + lvl}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.SlogLevel(); got != want {
			t.Errorf("log_level %s: got %v; want %v", lvl, got, want)
		}
	}
}

func TestStreamListen(t *testing.T) {
	s, _, err := load(t, "stream_listen = 0.0.0.0:5555, 127.0.0.1:5556 ssl proxy_protocol reuseport\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.StreamListen) != 2 || s.StreamListen[0].Addr() != "0.0.0.0:5555" || s.StreamListen[0].SSL ||
		!s.StreamListen[1].SSL || !s.StreamListen[1].ProxyProtocol || !s.StreamListen[1].ReusePort {
		t.Fatalf("stream_listen: %+v", s.StreamListen)
	}
	s, _, err = load(t, "", nil, nil)
	if err != nil || s.StreamListen != nil {
		t.Fatalf("default stream_listen: %+v, %v; want off", s.StreamListen, err)
	}
}
