// Package upstream owns load balancing over Kong upstreams and targets, and
// their active and passive health checks. Balancers live in a Pool keyed by
// upstream identity so config reloads neither reset health nor leak checkers.
package upstream

import (
	"errors"
	"net/http"
	"time"

	"sluice/internal/model"
)

// API CONTRACT (stub: the upstream owner replaces the bodies, keeps the signatures).

// ErrNoPeer means no healthy target is available (Kong's 503 "failure to get
// a peer from the ring-balancer").
var ErrNoPeer = errors.New("failure to get a peer from the ring-balancer")

// Pool holds one Balancer per upstream across config reloads.
type Pool struct{}

// NewPool returns an empty pool.
func NewPool() *Pool { return &Pool{} }

// Update makes the pool match the given config: creates balancers for new
// upstreams, updates targets and settings of existing ones (keeping health
// state of unchanged targets), stops health checkers of removed ones. It
// returns the balancers by upstream name. Safe to call while other goroutines
// use balancers from a previous Update.
func (p *Pool) Update(ups []*model.Upstream, targets []*model.Target) map[string]*Balancer {
	return map[string]*Balancer{}
}

// Close stops all health checkers.
func (p *Pool) Close() {}

// Balancer picks peers for one upstream.
type Balancer struct{}

// PickContext carries what hashing may need beyond the request.
type PickContext struct {
	ConsumerID string
	ClientIP   string
	Captures   map[string]string
}

// Peer is one chosen address.
type Peer struct {
	Addr string // host:port to dial
	Host string // target host name (for the Host header)
	Port int
	// SetCookie, when not nil, must be added to the response (cookie hashing).
	SetCookie *http.Cookie
}

// Result reports the outcome of one attempt, for passive health checks and
// least-connections / latency accounting.
type Result struct {
	Status     int           // upstream status, 0 when none was received
	TCPFailure bool          // connect or I/O failure
	Timeout    bool          // timed out
	Latency    time.Duration // time to first byte
}

// Pick returns a peer. tried lists peers already attempted for this request
// (retries go to the next peer where possible).
func (b *Balancer) Pick(r *http.Request, pc *PickContext, tried []*Peer) (*Peer, error) {
	return nil, ErrNoPeer
}

// Done reports the result of using p.
func (b *Balancer) Done(p *Peer, res Result) {}
