// Package upstream owns load balancing over Kong upstreams and targets, and
// their active and passive health checks. Balancers live in a Pool keyed by
// upstream identity so config reloads neither reset health nor leak checkers.
//
// Kong behaviour reproduced here (kong/runloop/balancer, lua-resty-healthcheck):
//   - algorithms round-robin (weighted), consistent-hashing (Kong's continuum
//     of max(slots, 1000) points, 160 points per target at equal weight,
//     xxHash32, lookup walking counter-clockwise), least-connections
//     ((in-flight+1)/weight) and latency (EWMA with a 10 s decay, divided by
//     weight);
//   - health counters: a success resets the failure counters, a failure
//     resets the success counter, a counter limit of 0 disables it, and the
//     intermediate "mostly healthy/unhealthy" states;
//   - the upstream is healthy while some weight is available and available
//     weight * 100 / total weight is at least healthchecks.threshold (the
//     documented rule; Kong's code compares strictly, which only differs at
//     equality, and its 3.x round-robin and hashing balancers skip the check);
//   - passive checks never bring a target back: only active checks (with
//     healthy.successes > 0) or a manual SetHealthy do.
package upstream

import (
	"errors"
	"net/http"
	"time"

	"sluice/internal/model"
)

// ErrNoPeer means no healthy target is available (Kong's 503 "failure to get
// a peer from the ring-balancer").
var ErrNoPeer = errors.New("failure to get a peer from the ring-balancer")

// PickContext carries what hashing may need beyond the request.
type PickContext struct {
	ConsumerID string
	ClientIP   string
	Captures   map[string]string
	// CredentialID is used by hash_on=consumer when no consumer is known
	// (Kong falls back to the authenticated credential).
	CredentialID string
}

// Peer is one chosen address. Peers returned by Pick are shared between
// requests: callers must not modify them.
type Peer struct {
	Addr string // host:port to dial
	Host string // target host name (for the Host header); upstream host_header when set; IPv6 in brackets
	Port int
	// SetCookie, when not nil, must be added to the response (cookie hashing).
	SetCookie *http.Cookie

	a *address
}

// Result reports the outcome of one attempt, for passive health checks and
// least-connections / latency accounting.
type Result struct {
	Status     int           // upstream status, 0 when none was received
	TCPFailure bool          // connect or I/O failure
	Timeout    bool          // timed out
	Latency    time.Duration // time to first byte
}

// Update makes the pool match the given config: creates balancers for new
// upstreams, updates targets and settings of existing ones (keeping health
// state of unchanged targets), stops health checkers of removed ones. It
// returns the balancers by upstream name. Safe to call while other goroutines
// use balancers from a previous Update.
//
// Targets whose host is a name are resolved here when the pool has not
// resolved that name before (in parallel, bounded by the DNS timeout), then
// refreshed in the background.
func (p *Pool) Update(ups []*model.Upstream, targets []*model.Target) map[string]*Balancer {
	return p.update(ups, targets)
}

// Close stops all health checkers and the DNS refresher and waits for them.
// Balancers keep answering Pick with their last state.
func (p *Pool) Close() { p.close() }
