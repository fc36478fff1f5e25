package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sluice/internal/admin"
	"sluice/internal/declarative"
	"sluice/internal/memwatch"
	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/filelog"
	"sluice/internal/plugin/httplog"
	"sluice/internal/plugin/prometheus"
	"sluice/internal/proxy"
	"sluice/internal/reload"
	"sluice/internal/router"
	"sluice/internal/sched"
	"sluice/internal/server"
	"sluice/internal/settings"
	"sluice/internal/snapshot"
	"sluice/internal/store"
	"sluice/internal/stream"
	"sluice/internal/upstream"
	"sluice/internal/vault"
)

func cmdStart(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conf, prefix, shutdownTimeout     string
		verbose, debug                    bool
		nginxConf, dbTimeout, lockTimeout string
		runMigrations                     bool
	)
	fs.StringVar(&conf, "c", "", "configuration file (kong.conf)")
	fs.StringVar(&conf, "conf", "", "configuration file (kong.conf)")
	fs.StringVar(&prefix, "p", "", "prefix directory (pid file, logs)")
	fs.StringVar(&prefix, "prefix", "", "prefix directory (pid file, logs)")
	fs.StringVar(&shutdownTimeout, "shutdown-timeout", "", "seconds to finish in-flight requests on SIGTERM/SIGQUIT (shutdown_timeout)")
	fs.BoolVar(&verbose, "v", false, "verbose: log_level = info")
	fs.BoolVar(&debug, "vv", false, "debug: log_level = debug")
	// Kong's other start flags, accepted for drop-in use.
	fs.StringVar(&nginxConf, "nginx-conf", "", "ignored (Kong: custom nginx template)")
	fs.StringVar(&dbTimeout, "db-timeout", "", "ignored (Kong)")
	fs.StringVar(&lockTimeout, "lock-timeout", "", "ignored (Kong)")
	fs.BoolVar(&runMigrations, "run-migrations", false, "ignored (Kong)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		say(stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	flags := map[string]string{}
	if prefix != "" {
		flags["prefix"] = prefix
	}
	if shutdownTimeout != "" {
		flags["shutdown_timeout"] = shutdownTimeout
	}
	switch {
	case debug:
		flags["log_level"] = "debug"
	case verbose:
		flags["log_level"] = "info"
	}

	// Settings warnings are kept until the log level is known.
	early := &recorder{}
	s, err := settings.Load(settings.Options{ConfPath: conf, Flags: flags, Log: slog.New(early)})
	if err != nil {
		say(stderr, "Error: invalid settings:\n%v\n", err)
		return 1
	}
	log := newLogger(s, stderr)
	slog.SetDefault(log)
	early.replay(log)
	if nginxConf != "" || dbTimeout != "" || lockTimeout != "" || runMigrations {
		log.Warn("--nginx-conf, --db-timeout, --lock-timeout and --run-migrations have no effect in sluice")
	}
	return runGateway(s, log, stderr)
}

// logLevel is the process logger's level; the Admin API's
// /debug/node/log-level changes it.
var logLevel = new(slog.LevelVar)

func newLogger(s *settings.Settings, w io.Writer) *slog.Logger {
	logLevel.Set(s.SlogLevel())
	opts := &slog.HandlerOptions{Level: logLevel}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// configSource reads the declarative config named by the settings.
type configSource struct {
	s *settings.Settings
}

// read returns the declarative text, nil when none is configured.
func (c configSource) read() ([]byte, error) {
	switch {
	case c.s.DeclarativeConfigString != "":
		return []byte(c.s.DeclarativeConfigString), nil
	case c.s.DeclarativeConfig != "":
		b, err := os.ReadFile(c.s.DeclarativeConfig)
		if err != nil {
			return nil, fmt.Errorf("declarative_config: %w", err)
		}
		return b, nil
	}
	return nil, nil
}

// parse returns the config and its hash (Kong's: MD5 of the text; 32 zeros
// for no text or a config without entities).
func (c configSource) parse(data []byte) (*model.Config, string, error) {
	if data == nil {
		return &model.Config{}, declarative.EmptyHash, nil
	}
	cfg, err := declarative.Parse(data, &declarative.Options{Plugins: plugin.SchemaLookup(enabledPlugins(c.s))})
	if err != nil {
		return nil, "", err
	}
	if configIsEmpty(cfg) {
		return cfg, declarative.EmptyHash, nil
	}
	return cfg, declarative.Hash(data), nil
}

// load reads and parses.
func (c configSource) load() (*model.Config, string, error) {
	data, err := c.read()
	if err != nil {
		return nil, "", err
	}
	return c.parse(data)
}

func (c configSource) name() string {
	if c.s.DeclarativeConfigString != "" {
		return "declarative_config_string"
	}
	return c.s.DeclarativeConfig
}

func configIsEmpty(c *model.Config) bool {
	return len(c.Services)+len(c.Routes)+len(c.Consumers)+len(c.Plugins)+len(c.Upstreams)+len(c.Targets)+
		len(c.Certificates)+len(c.SNIs)+len(c.CACertificates)+len(c.KeyAuthCredentials)+
		len(c.BasicAuthCredentials)+len(c.HMACAuthCredentials)+len(c.JWTSecrets)+len(c.ACLs)+len(c.OAuth2Credentials) == 0
}

// runGateway starts everything, waits for signals, and stops in order.
func runGateway(s *settings.Settings, log *slog.Logger, stderr io.Writer) int {
	dbless := s.Database == "off"
	plugin.SetDBless(dbless) // Kong refuses policy cluster without a database
	plugin.SetClientBodyBufferSize(s.ClientBodyBufferSize)
	plugin.SetTracing(plugin.TracingSettings{Instrumentations: s.TracingInstrumentations, SamplingRate: s.TracingSamplingRate})
	if !dbless && (s.DeclarativeConfig != "" || s.DeclarativeConfigString != "") {
		log.Warn("declarative_config is ignored with database = " + s.Database + " (as in Kong); the config comes from the store")
	}

	// Signals are caught from here on, so that a stop asked for during
	// start-up (the pid file exists) is handled once serving, not by the
	// runtime's default (SIGQUIT would dump goroutines).
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT)
	defer signal.Stop(sigc)

	// Prefix and pid file.
	for _, d := range []string{"pids", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.Prefix, d), 0o755); err != nil {
			log.Error("creating the prefix directory", "error", err)
			return 1
		}
	}
	pidFile := s.PIDFile()
	if pid, err := readPID(pidFile); err == nil && pid != os.Getpid() && processAlive(pid) {
		log.Error("sluice is already running in "+s.Prefix, "pid", pid)
		return 1
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		log.Error("writing the pid file", "error", err)
		return 1
	}
	defer func() { _ = os.Remove(pidFile) }()

	limit, err := memwatch.ApplyLimit("/", s.MemLimitRatio)
	if err != nil {
		log.Warn("memory limit", "error", err)
	} else {
		log.Info("memory limit", "gomemlimit", limit.GoMemLimit, "cgroup_limit", limit.CgroupLimit, "gomaxprocs", limit.GoMaxProcs, "source", limit.Source)
	}
	// The memory timeline, spike detection and captures.
	mw := memwatch.New(memwatch.Options{NoTrace: !s.MemTrace, Dir: filepath.Join(s.Prefix, "diagnostics"), Limit: limit, Log: log.With("component", "memwatch")})
	mwCtx, mwCancel := context.WithCancel(context.Background())
	mw.Start(mwCtx)
	defer func() { mwCancel(); mw.Stop() }()

	certs, err := loadCerts(s)
	if err != nil {
		log.Error("TLS certificates", "error", err)
		return 1
	}

	cur := &snapshot.Current{}
	pool := upstream.NewPoolWithOptions(upstream.Options{
		DNSRefresh:    s.DNSValidTTL,
		MaxDNSEntries: s.DNSCacheSize,
		Logger:        log.With("component", "upstream"),
	})
	defer pool.Close()
	env := &snapshot.Env{Pool: pool, DefaultCert: certs.proxy,
		Router:  router.Options{PathHandlingV1: s.RouterFlavor == "traditional"},
		Plugins: pluginDefinitions(enabledPlugins(s)), State: plugin.NewStatePool(), Logger: log.With("component", "plugins"),
		Redis:   redisCounters.Counters,
		Secrets: (&vault.Resolver{Lookup: os.LookupEnv, Prefix: s.VaultEnvPrefix}).Resolve}
	// Reload outcomes also become events on the memory timeline.
	rl := reload.New(cur, env, slog.New(mw.LogHandler(log.Handler())).With("component", "reload"))
	_ = mw.RegisterGauge("snapshot_current", func() int64 { c, _ := rl.SnapshotBytes(); return c })
	_ = mw.RegisterGauge("snapshot_previous", func() int64 { _, p := rl.SnapshotBytes(); return p })
	dicts := sharedDicts(mw, metrics.Default(), registerComponents(mw, metrics.Default()), s.MemCacheSize, rl.SnapshotBytes)

	src := configSource{s}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var st store.Store
	// Background work stops before the store closes.
	defer func() {
		cancel()
		wg.Wait()
		if st != nil {
			_ = st.Close()
		}
	}()
	if dbless {
		cfg, hash, err := src.load()
		if err != nil {
			log.Error("declarative config is invalid, not starting", "source", src.name(), "error", err)
			say(stderr, "Error: %s: %s\n", src.name(), describe(err))
			return 1
		}
		if err := rl.Apply(cfg, hash); err != nil {
			log.Error("declarative config is invalid, not starting", "source", src.name(), "error", err)
			return 1
		}
		// Parsing a large file leaves garbage several times the size of
		// the config; hand it back now rather than carry it as RSS.
		debug.FreeOSMemory()
	} else {
		var err error
		st, err = openStore(ctx, s, log.With("component", "store"))
		if err != nil {
			log.Error("opening the "+s.Database+" store", "error", err)
			say(stderr, "Error: %v\n", err)
			return 1
		}
		if s.Database == "postgres" {
			counters, err := openClusterCounters(s, log.With("component", "ratelimiting"))
			if err != nil {
				log.Error("rate-limiting counters", "error", err)
				return 1
			}
			defer counters.Close()
			env.Cluster = counters
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Reloads are built at a lower CPU priority than requests.
			sched.Lowered(func() { rl.Follow(ctx, st, reload.FollowOptions{Poll: s.DBUpdateFrequency}) })
		}()
		if len(s.AdminListen) > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sweepExpired(ctx, st, ttlSweepInterval, log.With("component", "ttl"))
			}()
		}
		// Serve once the first config is built (or the store is slow:
		// readiness stays 503 until it is).
		for deadline := time.Now().Add(10 * time.Second); cur.Load() == nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		debug.FreeOSMemory()
	}

	popts := proxyOptions(s, log)
	if err := proxy.Check(popts); err != nil {
		log.Error("proxy settings", "error", err)
		return 1
	}
	px := proxy.New(cur, popts)
	defer px.Close()

	// The Admin API; its /status is the status listener's, served by srv
	// (created below).
	var srv *server.Server
	hostname, _ := os.Hostname()
	node := nodeID()
	plugin.SetNodeID(node)
	clusterEvents(st, node, pool, log)
	adminAPI := admin.New(admin.Options{
		Store:    st,
		Database: s.Database,
		// POST /config runs under memwatch.BeginLoad (adminHandler): no
		// debug.FreeOSMemory after it, whose forced collection and
		// whole-heap scavenge cost the proxy latency and whose returned
		// pages were faulted in again by the next GC cycle.
		Apply: rl.Apply,
		Current: func() (*model.Config, string) {
			if snap := cur.Load(); snap != nil {
				return snap.Config, snap.Hash
			}
			return nil, ""
		},
		NodeID:        node,
		Hostname:      hostname,
		Version:       kongCompat,
		Configuration: adminConfiguration(s),
		AdminToken:    s.AdminToken,
		Logger:        log.With("component", "admin"),
		LogLevel:      logLevel,
		LogLevelName:  s.LogLevel,
		TargetHealth: func(upstreamID string) map[string]string {
			b := pool.Balancer(upstreamID)
			if b == nil {
				return nil
			}
			out := map[string]string{}
			for _, th := range b.Health() {
				out[th.Target] = th.Health
			}
			return out
		},
		SetTargetHealth: func(upstreamID, target, address string, healthy bool) error {
			if err := pool.SetHealthy(upstreamID, target, address, healthy); err != nil {
				return err
			}
			publishHealth(st, node, log, healthEvent{Upstream: upstreamID, Target: target, Address: address, Healthy: healthy})
			return nil
		},
	})
	adminHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" || r.URL.Path == "/status/ready" {
			if s.AdminToken == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Kong-Admin-Token")), []byte(s.AdminToken)) == 1 {
				srv.StatusHandler().ServeHTTP(w, r)
				return
			}
		}
		if r.Method == http.MethodPost && r.URL.Path == "/config" {
			// The parse, the build and the answer run at a lower CPU
			// priority than the proxy's threads, paced by the GC.
			sched.Lowered(func() {
				defer mw.BeginLoad()()
				adminAPI.ServeHTTP(w, r)
			})
			return
		}
		adminAPI.ServeHTTP(w, r)
	})
	minTLS, maxTLS := s.TLSVersions()
	srv = server.New(server.Options{
		Proxy:        s.ProxyListen,
		Admin:        s.AdminListen,
		AdminHandler: adminHandler,
		Status:       s.StatusListen,
		Stream:       s.StreamListen,
		StreamHandler: stream.New(stream.Options{Current: cur, DefaultCert: certs.proxy,
			TLSMinVersion: minTLS, TLSMaxVersion: maxTLS, PortMaps: s.PortMaps, Log: log,
			Trusted: func(a netip.Addr) bool {
				return slices.ContainsFunc(s.TrustedIPs, func(p netip.Prefix) bool { return p.Contains(a) })
			}}).ServeConn,
		ProxyHandler:           px,
		Current:                cur,
		DefaultCert:            certs.proxy,
		AdminCert:              certs.admin,
		StatusCert:             certs.status,
		TLSMinVersion:          minTLS,
		TLSMaxVersion:          maxTLS,
		SessionTicketsDisabled: !s.SSLSessionTickets,
		DBless:                 s.DBless(),
		DBReachable: func(ctx context.Context) error {
			if st == nil {
				return nil
			}
			_, err := st.Version(ctx)
			return err
		},
		SharedDicts: dicts,
		StatusExtra: statusExtra(mw, func(w io.Writer) error { return writeReloadMetrics(w, rl, cur) }, prometheus.WriteMetrics),
		StatusInfo: func() map[string]any {
			rs := rl.Stats()
			info := map[string]any{
				"reloads_succeeded":     rs.Successes,
				"reloads_failed":        rs.Failures,
				"last_build_seconds":    rs.LastBuildTime.Seconds(),
				"last_reload_ok":        rs.LastOK,
				"configuration_version": uint64(0),
				"store_version":         rs.StoreVersion,
				"applied_store_version": rs.AppliedVersion,
				"store_versions_behind": rs.StoreVersion - rs.AppliedVersion,
			}
			if snap := cur.Load(); snap != nil {
				info["configuration_version"] = snap.Version
			}
			info["memory"] = mw.StatusBlock()
			return info
		},
		Log: log.With("component", "server"),
	})
	// What the prometheus plugin's exporter reads at scrape time.
	prometheus.SetNode(prometheus.Node{ID: node, Version: kongCompat,
		Connections: func() prometheus.Connections {
			st := srv.Stats()
			return prometheus.Connections{Accepted: st.ConnectionsAccepted, Handled: st.ConnectionsHandled,
				Total: st.TotalRequests, Active: st.ConnectionsActive, Reading: st.ConnectionsReading,
				Writing: st.ConnectionsWriting, Waiting: st.ConnectionsWaiting}
		},
		TargetHealth: func(yield func(prometheus.TargetState)) {
			if snap := cur.Load(); snap != nil {
				snap.EachTargetHealth(func(up, target, addr, state string) {
					yield(prometheus.TargetState{Upstream: up, Target: target, Address: addr, State: state})
				})
			}
		},
		Memory: func() prometheus.Memory {
			heap, _ := mw.Current()
			m := prometheus.Memory{PID: os.Getpid(), VMBytes: heap}
			for _, d := range dicts() {
				m.Dicts = append(m.Dicts, prometheus.Dict{Name: d.Name, Bytes: d.Bytes, Capacity: d.Capacity})
			}
			return m
		}})
	if err := srv.Start(); err != nil {
		log.Error("opening listeners", "error", err)
		return 1
	}

	// Reloads: one goroutine applies them in order; SIGHUP and the file
	// watcher only ask.
	reloadReq := make(chan string, 1)
	ask := func(why string) {
		select {
		case reloadReq <- why:
		default: // one is pending already
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sched.Lowered(func() { // parses and builds at a lower CPU priority than requests
			for {
				select {
				case <-ctx.Done():
					return
				case why := <-reloadReq:
					data, err := src.read()
					if err == nil && data != nil {
						if snap := cur.Load(); snap != nil && snap.Hash == declarative.Hash(data) {
							log.Debug("declarative config unchanged", "trigger", why)
							continue
						}
					}
					var cfg *model.Config
					var hash string
					endLoad := mw.BeginLoad() // the GC paces the parse and build
					if err == nil {
						cfg, hash, err = src.parse(data)
					}
					if err != nil {
						endLoad()
						log.Error("config reload rejected, previous config keeps serving", "trigger", why, "source", src.name(), "error", describe(err))
						continue
					}
					_ = rl.Apply(cfg, hash) // logs its outcome
					endLoad()
				}
			}
		})
	}()
	if dbless && s.DeclarativeConfigString == "" && s.DeclarativeConfig != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reload.WatchFile(ctx, s.DeclarativeConfig, time.Second, func() { ask("file changed") })
		}()
		ask("watch started") // covers a change between the first load and the watcher's start
	}

	log.Info("sluice started", "version", version, "kong_compatible", kongCompat, "database", s.Database,
		"prefix", s.Prefix, "pid", os.Getpid())

	code := 0
loop:
	for {
		select {
		case sig := <-sigc:
			switch sig {
			case syscall.SIGHUP:
				if !dbless {
					log.Info("SIGHUP: the config follows the " + s.Database + " store; nothing to reload")
					continue
				}
				log.Info("SIGHUP: reloading the declarative config")
				ask("SIGHUP")
			case syscall.SIGTERM, syscall.SIGQUIT:
				log.Info("graceful shutdown", "signal", sig.String(), "timeout_seconds", s.ShutdownTimeout.Seconds())
				cancel()
				gctx, gcancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
				// A second TERM/INT during the drain stops at once.
				stopNow := make(chan struct{})
				go func() {
					for {
						select {
						case sig := <-sigc:
							if sig == syscall.SIGINT || sig == syscall.SIGTERM {
								log.Info("second signal: stopping now", "signal", sig.String())
								gcancel()
								return
							}
						case <-stopNow:
							return
						}
					}
				}()
				if err := srv.Shutdown(gctx); err != nil {
					log.Warn("shutdown", "error", err)
				}
				close(stopNow)
				gcancel()
				// No request runs any more: the log plugins write and
				// send what they queued (http-log gets its drain time).
				snapshot.CloseAllPlugins()
				fctx, fcancel := context.WithTimeout(context.Background(), httplog.DrainTimeout+time.Second)
				if err := errors.Join(filelog.Wait(fctx), httplog.Wait(fctx), plugin.WaitOutboxes(fctx)); err != nil {
					log.Warn("log plugins did not finish their queues", "error", err)
				}
				fcancel()
				break loop
			case syscall.SIGINT:
				log.Info("fast shutdown", "signal", sig.String())
				_ = srv.Close()
				break loop
			}
		case err := <-srv.Err():
			log.Error("a listener failed, stopping", "error", err)
			_ = srv.Close()
			code = 1
			break loop
		}
	}
	cancel()
	wg.Wait()
	log.Info("sluice stopped")
	return code
}

func proxyOptions(s *settings.Settings, log *slog.Logger) proxy.Options {
	trusted := make([]string, 0, len(s.TrustedIPs))
	for _, p := range s.TrustedIPs {
		trusted = append(trusted, p.String())
	}
	headers := s.Headers
	if len(headers) == 0 {
		headers = []string{"off"} // set but empty: no headers, as Kong
	}
	hup := s.HeadersUpstream
	if len(hup) == 0 {
		hup = []string{"off"}
	}
	// Kong's upstream_keepalive_* 0 (no keep-alive, no request limit, no
	// idle timeout) is negative in proxy.Options (zero is the default).
	return proxy.Options{
		KongVersion:          kongCompat,
		Headers:              headers,
		HeadersUpstream:      hup,
		TrustedIPs:           trusted,
		RealIPHeader:         s.RealIPHeader,
		RealIPRecursive:      s.RealIPRecursive,
		ErrorDefaultType:     s.ErrorDefaultType,
		KeepalivePoolSize:    cmp.Or(s.UpstreamKeepalivePoolSize, -1),
		KeepaliveMaxRequests: cmp.Or(s.UpstreamKeepaliveMaxRequests, -1),
		KeepaliveIdleTimeout: cmp.Or(s.UpstreamKeepaliveIdleTimeout, -1),
		AllowDebugHeader:     s.AllowDebugHeader,
		PortMap:              s.PortMaps,
		ClientMaxBodySize:    s.ClientMaxBodySize,
		Logger:               log,
	}
}

// recorder keeps log records until the real logger exists.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) replay(log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if log.Enabled(context.Background(), rec.Level) {
			_ = log.Handler().Handle(context.Background(), rec)
		}
	}
	r.records = nil
}

type certSet struct {
	proxy, admin, status *tls.Certificate
}

// loadCerts reads ssl_cert, admin_ssl_cert and status_ssl_cert (file paths,
// PEM text or base64 PEM, as Kong accepts); the first pair of each is used.
// Without ssl_cert, a self-signed certificate is made, as Kong does.
func loadCerts(s *settings.Settings) (certSet, error) {
	var cs certSet
	var err error
	if cs.proxy, err = loadPair("ssl_cert", s.SSLCert, s.SSLCertKey); err != nil {
		return cs, err
	}
	if cs.proxy == nil {
		if cs.proxy, err = snapshot.SelfSignedCert(); err != nil {
			return cs, fmt.Errorf("making the default certificate: %w", err)
		}
	}
	if cs.admin, err = loadPair("admin_ssl_cert", s.AdminSSLCert, s.AdminSSLCertKey); err != nil {
		return cs, err
	}
	if cs.status, err = loadPair("status_ssl_cert", s.StatusSSLCert, s.StatusSSLCertKey); err != nil {
		return cs, err
	}
	return cs, nil
}

func loadPair(key string, certs, keys []string) (*tls.Certificate, error) {
	if len(certs) == 0 || len(keys) == 0 {
		return nil, nil
	}
	c, err := readPEM(certs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	k, err := readPEM(keys[0])
	if err != nil {
		return nil, fmt.Errorf("%s_key: %w", key, err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &pair, nil
}

// readPEM takes a file path, PEM text or base64-encoded PEM.
func readPEM(v string) ([]byte, error) {
	if containsPEM([]byte(v)) {
		return []byte(v), nil
	}
	if b, err := os.ReadFile(v); err == nil {
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if b, err := decodeBase64(v); err == nil && containsPEM(b) {
		return b, nil
	}
	return nil, fmt.Errorf("%q is neither a readable file, PEM text nor base64-encoded PEM", truncate(v, 60))
}

// nodeID is this process's random identity, as Kong's node_id.
func nodeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// adminConfiguration is kong.conf as GET / shows it: secrets removed, and
// database as the node runs it.
func adminConfiguration(s *settings.Settings) map[string]any {
	out := map[string]any{}
	for k, v := range s.Redacted() {
		out[k] = v
	}
	out["database"] = s.Database
	// Kong's parsed listeners, which clients (go-kong's Listeners, the
	// ingress controller) read to find the proxy's ports. An empty list is
	// an empty object, as Kong's JSON encoder writes an empty table.
	listeners := func(l []settings.Listen, stream bool) any {
		if len(l) == 0 {
			return map[string]any{}
		}
		return settings.KongListeners(l, stream)
	}
	out["proxy_listeners"] = listeners(s.ProxyListen, false)
	out["admin_listeners"] = listeners(s.AdminListen, false)
	out["status_listeners"] = listeners(s.StatusListen, false)
	out["stream_listeners"] = listeners(s.StreamListen, true)
	return out
}

// statusExtra serves the status listener's sluice paths: the memory
// timeline and the memory metrics.
func statusExtra(mw *memwatch.Watcher, more ...func(io.Writer) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/debug/memory", mw.Handler())
	// Go's profiles, to loopback clients only: a CPU profile costs CPU and
	// a heap profile shows what the config holds.
	mux.Handle("/debug/pprof/", loopbackOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", loopbackOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", loopbackOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", loopbackOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", loopbackOnly(http.HandlerFunc(pprof.Trace)))
	// Kong's and the plugins' metrics (the registry), then memory and
	// reload gauges.
	mux.Handle("/metrics", metrics.Handler(append([]func(io.Writer) error{mw.WriteMetrics}, more...)...))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not found"}`))
	})
	return mux
}

// loopbackOnly answers 403 to clients that are not on this host.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip, perr := netip.ParseAddr(host); err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"profiles are served to loopback clients only"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// writeReloadMetrics writes the config-reload and store-lag gauges in
// Prometheus text format.
func writeReloadMetrics(w io.Writer, rl *reload.Reloader, cur *snapshot.Current) error {
	st := rl.Stats()
	curBytes, prevBytes := rl.SnapshotBytes()
	var version uint64
	if snap := cur.Load(); snap != nil {
		version = snap.Version
	}
	ok := 0
	if st.LastOK {
		ok = 1
	}
	_, err := fmt.Fprintf(w, `# HELP sluice_config_version Version of the snapshot being served (increases with every applied config).
# TYPE sluice_config_version gauge
sluice_config_version %d
# HELP sluice_config_reloads_total Config builds by result.
# TYPE sluice_config_reloads_total counter
sluice_config_reloads_total{result="success"} %d
sluice_config_reloads_total{result="failure"} %d
# HELP sluice_config_last_reload_successful Whether the last config build succeeded (1) or was rejected (0).
# TYPE sluice_config_last_reload_successful gauge
sluice_config_last_reload_successful %d
# HELP sluice_config_last_reload_success_timestamp_seconds Time of the last successful config build.
# TYPE sluice_config_last_reload_success_timestamp_seconds gauge
sluice_config_last_reload_success_timestamp_seconds %d
# HELP sluice_config_build_duration_seconds Duration of the last config build.
# TYPE sluice_config_build_duration_seconds gauge
sluice_config_build_duration_seconds %g
# HELP sluice_snapshot_current_bytes Estimated heap bytes of the snapshot being served (entities, indexes, compiled routes).
# TYPE sluice_snapshot_current_bytes gauge
sluice_snapshot_current_bytes %d
# HELP sluice_snapshot_previous_bytes Estimated heap bytes of the snapshot last replaced, until it is garbage collected (then 0).
# TYPE sluice_snapshot_previous_bytes gauge
sluice_snapshot_previous_bytes %d
# HELP sluice_store_version Newest config version seen in the store (database modes).
# TYPE sluice_store_version gauge
sluice_store_version %d
# HELP sluice_store_versions_behind Store versions not yet served by this node.
# TYPE sluice_store_versions_behind gauge
sluice_store_versions_behind %d
`, version, st.Successes, st.Failures, ok, st.LastOKUnix, st.LastBuildTime.Seconds(), curBytes, prevBytes, st.StoreVersion, st.StoreVersion-st.AppliedVersion)
	return err
}

// ttlSweepInterval is how often expired entities (key-auth credentials
// with a ttl) are deleted from the store: Kong's ttl cleanup runs every
// 300 s on the nodes with an Admin API.
const ttlSweepInterval = 300 * time.Second

// sweepExpired deletes expired entities every interval (jittered by up to
// a tenth, so that nodes on one database do not sweep in step) until ctx
// ends.
func sweepExpired(ctx context.Context, st store.Store, interval time.Duration, log *slog.Logger) {
	for {
		wait := interval + time.Duration(mrand.Int64N(int64(interval/10)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		n, err := admin.SweepExpired(ctx, st, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("deleting expired entities failed; will retry", "error", err, "deleted", n)
		} else if n > 0 {
			log.Info("deleted expired entities", "count", n)
		}
	}
}
