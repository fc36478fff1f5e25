// Package snapshot holds the immutable compiled configuration that the data
// plane reads: router, services, balancers, certificates. It does no I/O.
package snapshot

import (
	"crypto/tls"
	"log/slog"
	"sync/atomic"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/router"
	"sluice/internal/upstream"
)

// Snapshot is one immutable compiled configuration. Nothing in it may be
// modified after it is published with Current.Store.
type Snapshot struct {
	Version   uint64
	Hash      string // Kong's configuration_hash (32 hex)
	Config    *model.Config
	Router    *router.Router
	Stream    *router.StreamRouter          // tcp, tls and tls_passthrough routes
	Services  map[string]*model.Service     // by id
	Balancers map[string]*upstream.Balancer // by upstream name
	Certs     *Certs
	// Chains are the compiled plugin chains by route id (absent: no
	// plugin applies); Entities indexes consumers and credentials.
	Chains   map[string]*plugin.Chain
	Entities *Entities

	plugins *pluginHold // references on the plugin instances (plugins.go)
}

// Env is what Build needs from outside the config: long-lived pools that
// outlive snapshots.
type Env struct {
	Pool        *upstream.Pool   // balancers, kept across builds
	DefaultCert *tls.Certificate // served when no SNI matches (ssl_cert or self-signed)
	Router      router.Options   // router flavor details (router_flavor)
	// Plugins finds a plugin definition by name (plugin.Lookup restricted
	// to kong.conf `plugins`); plugin.Lookup when nil.
	Plugins func(name string) (*plugin.Definition, bool)
	// State keeps plugin state across builds (rate-limiting counters);
	// may be nil.
	State *plugin.StatePool
	// Redis gives plugins shared counters (rate-limiting policy redis);
	// may be nil.
	Redis func(plugin.RedisConfig) (plugin.Counters, error)
	// Cluster gives plugins the counters table of the cluster's database
	// (rate-limiting policy cluster); may be nil.
	Cluster plugin.ClusterCounters
	// Logger receives plugin build errors; slog.Default() when nil.
	Logger *slog.Logger
	// Secrets resolves a vault reference ({vault://env/...}, or through
	// one of the configuration's vaults entities) held by a certificate or
	// by a referenceable plugin config field; references are left
	// unresolved (and fail where used) when nil.
	Secrets func(ref string, vaults []*model.Vault) (string, error)
}

// secrets is Secrets for the vaults of cfg; nil when Secrets is.
func (env *Env) secrets(cfg *model.Config) func(string) (string, error) {
	if env.Secrets == nil {
		return nil
	}
	return func(ref string) (string, error) { return env.Secrets(ref, cfg.Vaults) }
}

func (env *Env) logger() *slog.Logger {
	if env.Logger == nil {
		return slog.Default()
	}
	return env.Logger
}

// Build compiles cfg into a new snapshot. prev, when not nil, is the snapshot
// being served: unchanged parts are reused by pointer. Build does no I/O and
// never modifies prev; on error nothing is published and prev keeps serving.
func Build(prev *Snapshot, cfg *model.Config, hash string, env *Env) (*Snapshot, error) {
	services := make(map[string]*model.Service, len(cfg.Services))
	for _, s := range cfg.Services {
		services[s.ID] = s
	}
	var prevRouter *router.Router
	if prev != nil {
		prevRouter = prev.Router
	}
	rt, err := router.BuildWithOptions(prevRouter, cfg.Routes, services, env.Router)
	if err != nil {
		return nil, err
	}
	stream, err := router.BuildStream(cfg.Routes, services)
	if err != nil {
		return nil, err
	}
	var prevCerts *Certs
	var version uint64 = 1
	if prev != nil {
		// certificates are parsed again when a vault they may name changed
		if prev.Config == nil || samePointers(prev.Config.Vaults, cfg.Vaults) {
			prevCerts = prev.Certs
		}
		version = prev.Version + 1
	}
	certs, err := buildCerts(prevCerts, cfg.Certificates, cfg.SNIs, env.DefaultCert, env.secrets(cfg), env.logger())
	if err != nil {
		return nil, err
	}
	var prevEnts *Entities
	if prev != nil {
		prevEnts = prev.Entities
	}
	ents := buildEntities(prevEnts, cfg)
	chains, instances := buildChains(cfg, env, ents)
	retainState(env.State, cfg)
	// The pool is updated last: everything that can fail has succeeded, so a
	// rejected config never touches the live balancers.
	snap := &Snapshot{Version: version, Hash: hash, Config: cfg, Router: rt, Stream: stream, Services: services,
		Balancers: env.Pool.Update(cfg.Upstreams, cfg.Targets), Certs: certs,
		Chains: chains, Entities: ents}
	holdPlugins(snap, instances)
	return snap, nil
}

// Current holds the snapshot being served.
type Current struct{ p atomic.Pointer[Snapshot] }

// Load returns the current snapshot, nil before the first Store.
func (c *Current) Load() *Snapshot { return c.p.Load() }

// Store publishes s. Only package reload calls it.
func (c *Current) Store(s *Snapshot) { c.p.Store(s) }
