// Package plugin is the plugin SDK: what a plugin declares (name, priority,
// config schema, constructor), the phases it may implement, the per-request
// context it sees, and the registry that the Admin API and the declarative
// loader validate plugin configs against.
//
// A plugin lives in its own folder under plugin/<name> and registers itself
// from init() with Register; cmd/sluice blank-imports the bundled list.
// Lifecycle of an instance: the config record is validated by Schema (unknown
// fields rejected, defaults filled) -> New builds the instance once per
// snapshot build (never per request) -> the phase methods run per request ->
// Close, if implemented, when the instance is dropped. A New that fails
// disables only the entity the plugin is attached to.
//
// Phases follow Kong's order: rewrite, access, header_filter, body_filter,
// log. Within a phase, instances run by descending Priority (Kong's bundled
// priorities: key-auth 1250, rate-limiting 910, ...).
//
// snapshot.Build compiles one Chain per route: for each plugin name the
// most specific enabled instance applies (Kong's precedence, see
// Scope.Rank), consumer-scoped instances are looked up by consumer id when
// the access phase reaches them, i.e. after the higher-priority auth plugin
// identified the consumer. The rewrite phase runs only for global
// instances, as in Kong. The proxy runs rewrite/access before picking the
// upstream peer, header_filter on the upstream response and on responses
// Kong produces itself (exits, errors), and log after the response was
// written, on the request's goroutine: log-phase I/O must go to bounded
// queues. body_filter runs on proxied response bodies as they stream
// (Content-Length is then dropped), not on responses Kong produces.
//
// Plugins talk to the request through Ctx (request headers and query sent
// upstream, response headers, Error, Authenticate), get outside services
// through Deps (Entities, StatePool for state that survives reloads,
// Counters on Redis) and must not keep Ctx after a phase returns.
package plugin

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"sluice/internal/model"
)

// Definition describes one plugin.
type Definition struct {
	Name     string
	Priority int
	Version  string
	// Schema validates the config record (the plugin entity's "config").
	Schema *model.Schema
	// Protocols is the default of the plugin entity's protocols field.
	Protocols []string
	// NoConsumer marks plugins that cannot be scoped to a consumer (auth
	// plugins, cors, ...): their consumer field must be null.
	NoConsumer bool
	// New builds an instance from a validated config.
	New func(cfg map[string]any, deps Deps) (any, error)
	// Admin are the Admin API endpoints the plugin serves (Kong's
	// api.lua), present while the plugin is enabled; nil for most.
	Admin []AdminEndpoint
}

// Deps are the services a plugin may use from outside, filled in by
// snapshot.Build for each instance (from snapshot.Env, set by cmd/sluice).
// Every field may be nil/empty in tests; New must cope.
type Deps struct {
	// PluginID is the id of the plugin entity being built; Plugin is the
	// entity itself (its route, service and consumer scope).
	PluginID string
	Plugin   *model.Plugin
	// Logger is for build-time and per-request warnings; never nil when
	// built by snapshot.Build.
	Logger *slog.Logger
	// Entities looks up consumers and credentials of the configuration
	// being built (the snapshot's index).
	Entities Entities
	// State keeps values that must outlive one snapshot (rate-limiting
	// counters): Get(PluginID+..., init). Nil in tests that do not need it.
	State *StatePool
	// Redis returns shared counters on a Redis server (one client per
	// distinct config, owned by the provider); nil when unavailable.
	Redis func(RedisConfig) (Counters, error)
	// Cluster is the counters table in the cluster's database
	// (rate-limiting policy cluster); nil without one (database = off or
	// embedded, tests).
	Cluster ClusterCounters
}

// Entities is the read-only view of consumers and credentials that auth
// plugins use. The snapshot implements it with maps built once per
// configuration.
type Entities interface {
	// Consumer finds a consumer by id, then by username (Kong's
	// kong.client.load_consumer(x, true)); nil when unknown.
	Consumer(idOrUsername string) *model.Consumer
	// KeyAuthCredential finds a key-auth credential by its key; nil when
	// unknown.
	KeyAuthCredential(key string) *model.KeyAuthCredential
	// BasicAuthCredential finds a basic-auth credential by username; nil
	// when unknown.
	BasicAuthCredential(username string) *model.BasicAuthCredential
	// HMACAuthCredential finds an hmac-auth credential by username; nil
	// when unknown.
	HMACAuthCredential(username string) *model.HMACAuthCredential
	// JWTSecret finds a jwt secret by its key (the iss claim by default);
	// nil when unknown.
	JWTSecret(key string) *model.JWTSecret
	// OAuth2Credential finds an oauth2 credential by its client_id; nil
	// when unknown.
	OAuth2Credential(clientID string) *model.OAuth2Credential
	// OAuth2CredentialByID finds an oauth2 credential by its id; nil when
	// unknown.
	OAuth2CredentialByID(id string) *model.OAuth2Credential
	// ConsumerGroups returns the acl groups of a consumer in configuration
	// order; nil when it has none. The slice is shared: do not modify it.
	ConsumerGroups(consumerID string) []string
}

// Ctx is the per-request state plugins see. The proxy owns and reuses it; a
// plugin must not keep it after the phase returns.
type Ctx struct {
	Request  *http.Request
	Route    *model.Route
	Service  *model.Service
	Consumer *model.Consumer
	// Credential identifies the credential an auth plugin accepted.
	Credential string
	// Status and Header are the response's, from header_filter on.
	Status int
	Header http.Header

	// UpstreamPath is the path the request is to be sent upstream with
	// (the service's path and the request's after strip_path, escaped;
	// Kong's ngx.var.upstream_uri in the access phase). A rewrite or
	// access plugin may change it (request-transformer's replace.uri).
	UpstreamPath string
	// Path is the request's path normalized as Kong's router sees it
	// (kong.request.get_path): percent-decoded where unreserved, dot
	// segments removed, slashes merged.
	Path string
	// RequestID is Kong's request id (X-Kong-Request-Id, kong.ctx's
	// request_id).
	RequestID string
	// ClientIP is the client address after real_ip_header/trusted_ips
	// processing (Kong's kong.client.get_ip / ngx.var.remote_addr).
	ClientIP string
	// TrustedClient reports whether the connection's peer is one of
	// trusted_ips (Kong's kong.ip.is_trusted of the client): its
	// X-Forwarded-* headers may be believed.
	TrustedClient bool
	// Captures are the route's regex captures ("0", "1", names); nil for
	// plain paths.
	Captures map[string]string

	// Timing is filled in by the proxy as the request goes (Kong's
	// ngx.ctx KONG_* timers and nginx's byte counters); log-phase plugins
	// read it. Fields not yet known are zero (durations -1, see Timing).
	Timing Timing

	exit *Exit

	// Proxy-side run state (see chain.go).
	active    []*Instance
	activeArr [8]*Instance
	pending   []headerPair // response headers set before the response exists
	pendArr   [8]headerPair
	query     url.Values
	shared    map[string]any
	anonymous bool
	// discard is set by ExitEmpty: the response's body is not sent.
	discard bool
	// upstreamHost is the Host set by SetUpstreamHost.
	upstreamHost string
	// trailer points at the proxied response's trailers (see
	// ResponseTrailers); nil when the proxy did not set it.
	trailer *http.Header
}

// Timing is what the proxy measured of one request, for the log phase.
type Timing struct {
	// Start is when the request was read from the client.
	Start time.Time
	// Kong is the time spent in the gateway before the upstream was
	// contacted, plus the time to process its response headers (Kong's
	// latencies.kong, X-Kong-Proxy-Latency); -1 when unknown.
	Kong time.Duration
	// Upstream is from the last attempt's send to the upstream's response
	// headers (latencies.proxy, X-Kong-Upstream-Latency); -1 when no
	// upstream answered (a plugin or the gateway produced the response).
	Upstream time.Duration
	// Request is the whole request, receive to last byte sent
	// (latencies.request); -1 when unknown.
	Request time.Duration
	// RequestSize is the bytes read from the client: request line, headers
	// and body (nginx's $request_length). ResponseSize is the bytes sent
	// to the client: status line, headers and body ($bytes_sent).
	RequestSize, ResponseSize int64
	// UpstreamURI is the path and query sent upstream ("" when none).
	UpstreamURI string
	// Tries are the balancer attempts, in order (Kong's
	// balancer_data.tries); empty when no upstream was contacted.
	Tries []Try
}

// Try is one attempt to reach an upstream peer.
type Try struct {
	IP       string
	Port     int
	Balancer time.Duration // time spent picking the peer
	Code     int           // status from that peer, 0 on failure
	Start    time.Time     // when the attempt began (before the connection)
}

// Exit is a response produced by a plugin instead of the upstream (Kong's
// kong.response.exit).
type Exit struct {
	Status int
	Body   []byte
	Header http.Header
	// Message, when Body is nil, is rendered by the proxy like its own
	// errors (Kong's kong.response.error): {"message":"..."} in JSON, or
	// HTML/XML/text following the request's Accept header.
	Message string
	// Stream, when set, is the body instead of Body: the proxy sends what
	// each Read returns as it comes (flushed, without a Content-Length),
	// then closes it, before the log phase runs. ai-proxy streams an LLM's
	// answer this way.
	Stream io.ReadCloser
}

// Terminate stops the chain and answers with e; later access-phase plugins
// and the upstream are skipped.
func (c *Ctx) Terminate(e *Exit) { c.exit = e }

// Exited returns the termination set by a plugin, or nil.
func (c *Ctx) Exited() *Exit { return c.exit }

// StreamCtx is what a stream phase sees of a TCP or TLS connection.
type StreamCtx struct {
	Route   *model.Route
	Service *model.Service
	// Protocol is "tcp", "tls" (terminated here) or "tls_passthrough".
	Protocol string
	// ClientIP is the client's address (the PROXY header's from a trusted
	// peer).
	ClientIP string
}

// Prereader runs for stream connections before the upstream is reached
// (Kong's preread phase). A non-nil Exit refuses the connection: its
// Message is sent (as Kong's kong.response.error writes it on a stream,
// {"message":...}) unless the connection is passed through, then it is
// closed.
type Prereader interface {
	Preread(c *StreamCtx) *Exit
}

// Phase interfaces: an instance implements the ones it needs.
type (
	Rewriter       interface{ Rewrite(c *Ctx) }
	Accessor       interface{ Access(c *Ctx) }
	HeaderFilterer interface{ HeaderFilter(c *Ctx) }
	BodyFilterer   interface {
		BodyFilter(c *Ctx, chunk []byte, last bool) []byte
	}
	Logger interface{ Log(c *Ctx) }
	Closer interface{ Close() }
)

var (
	regMu sync.RWMutex
	reg   = map[string]*Definition{}
)

// Register adds a plugin definition. It panics on a duplicate or incomplete
// definition: both are programming errors found at start-up.
func Register(d Definition) {
	if d.Name == "" || d.New == nil || d.Schema == nil {
		panic(fmt.Sprintf("plugin: incomplete definition %q", d.Name))
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := reg[d.Name]; dup {
		panic(fmt.Sprintf("plugin: %q registered twice", d.Name))
	}
	reg[d.Name] = &d
}

// Lookup returns a registered plugin.
func Lookup(name string) (*Definition, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	d, ok := reg[name]
	return d, ok
}

// Names returns the registered plugin names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(reg))
	for n := range reg {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SchemaLookup adapts the registry for model.ProcessOptions.Plugins,
// restricted to the enabled names (nil enables every registered plugin).
func SchemaLookup(enabled map[string]bool) model.PluginSchemaLookup {
	return func(name string) (*model.Schema, bool) {
		if enabled != nil && !enabled[name] {
			return nil, false
		}
		d, ok := Lookup(name)
		if !ok {
			return nil, false
		}
		return d.Schema, true
	}
}
