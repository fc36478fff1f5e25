package upstream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// targetCfg is one configured target.
type targetCfg struct {
	raw    string // host:port, IPv6 in brackets
	hp     hostPort
	weight int
}

// node is one pickable address in a view.
type node struct {
	a      *address
	weight int
	host   string // target host (no host_header), for probes and SNI
	peer   Peer
}

// targetView is a target and its addresses at one point in time.
type targetView struct {
	cfg    targetCfg
	addrs  []*address
	dnsErr error
}

// view is an immutable picture of a balancer: settings, targets, nodes and
// the algorithm's tables. Pick reads it with one atomic load.
type view struct {
	cfg     *config
	targets []targetView
	nodes   []node // addresses with weight > 0
	total   int    // sum of node weights
	wheel   []int32
	ring    []int32 // 1-based continuum, -1 = empty point
	points  uint32
}

// Balancer picks peers for one upstream. The same Balancer serves an
// upstream (by id) across Updates; it is safe for concurrent use.
type Balancer struct {
	p  *Pool
	id string

	v     atomic.Pointer[view]
	below atomic.Bool // healthy weight not above the threshold
	seq   atomic.Uint64

	mu      sync.Mutex // guards the fields below
	cfg     *config
	targets []targetCfg
	states  map[string]*address
	hosts   map[string]bool
	checker *checker
	stopped bool

	healthMu sync.Mutex // serializes recomputeHealth
}

func newBalancer(p *Pool, id string) *Balancer {
	b := &Balancer{p: p, id: id, states: map[string]*address{}}
	// Start the rotation at a random point so replicas restarted together
	// do not all send their first requests to the same target.
	b.seq.Store(rand.Uint64())
	return b
}

// Name returns the upstream name.
func (b *Balancer) Name() string {
	if v := b.v.Load(); v != nil {
		return v.cfg.name
	}
	return ""
}

// apply installs new settings and targets.
func (b *Balancer) apply(cfg *config, targets []targetCfg, runChecks bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = false
	old := b.cfg
	b.cfg = cfg
	b.targets = targets
	b.hosts = map[string]bool{}
	for _, t := range targets {
		if !t.hp.ip {
			b.hosts[t.hp.host] = true
		}
	}
	b.rebuildLocked()

	if !cfg.usingChecks {
		// Kong builds the balancer with every address available when the
		// upstream does not use health checks.
		for _, a := range b.states {
			if !a.healthy() || a.counters() != [4]int{} {
				a.set(true)
			}
		}
	}
	needChecker := runChecks && cfg.activeOn()
	if b.checker != nil && (!needChecker || old == nil ||
		old.active.healthyEvery != cfg.active.healthyEvery ||
		old.active.unhealthyEvery != cfg.active.unhealthyEvery) {
		b.checker.stop()
		b.checker = nil
	}
	if needChecker && b.checker == nil {
		b.checker = startChecker(b, cfg)
	}
}

// stop ends the active checker; the balancer keeps its last view.
func (b *Balancer) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.checker != nil {
		b.checker.stop()
		b.checker = nil
	}
}

func (b *Balancer) usesHost(h string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hosts[h]
}

// refresh rebuilds the view after a DNS change.
func (b *Balancer) refresh() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg != nil {
		b.rebuildLocked()
	}
}

// rebuildLocked computes a new view from b.cfg, b.targets and the DNS cache,
// reusing the address state of unchanged (target, ip:port) pairs.
func (b *Balancer) rebuildLocked() {
	cfg := b.cfg
	now := time.Now().UnixNano()
	v := &view{cfg: cfg, targets: make([]targetView, 0, len(b.targets))}
	states := make(map[string]*address, len(b.states))
	var fresh []*address
	for _, t := range b.targets {
		tv := targetView{cfg: t}
		var ips []string
		if t.hp.ip {
			ips = []string{t.hp.host}
		} else {
			ips, tv.dnsErr = b.p.dns.lookup(t.hp.host)
		}
		for _, ip := range ips {
			hostport := net.JoinHostPort(ip, strconv.Itoa(t.hp.port))
			key := t.raw + "|" + hostport
			a := states[key]
			if a == nil {
				a = b.states[key]
			}
			if a == nil {
				a = &address{b: b, key: key, target: t.raw, ip: ip, port: t.hp.port}
				fresh = append(fresh, a)
			}
			if states[key] != nil {
				continue // duplicate target entry
			}
			states[key] = a
			tv.addrs = append(tv.addrs, a)
			if t.weight > 0 {
				host := t.hp.hostHeader()
				peerHost := host
				if cfg.hostHeader != "" {
					peerHost = cfg.hostHeader
				}
				v.nodes = append(v.nodes, node{a: a, weight: t.weight, host: host,
					peer: Peer{Addr: hostport, Host: peerHost, Port: t.hp.port, a: a}})
				v.total += t.weight
			}
		}
		v.targets = append(v.targets, tv)
	}
	// Latency: new addresses start at the average of the others (Kong's slow
	// start), so they neither flood nor starve.
	if cfg.algo == algoLatency && len(fresh) > 0 {
		var sum float64
		var n int
		for _, nd := range v.nodes {
			if !slices.Contains(fresh, nd.a) {
				sum += nd.a.ewma(now)
				n++
			}
		}
		if n > 0 && sum > 0 {
			for _, a := range fresh {
				a.seed(sum/float64(n), now)
			}
		}
	}
	switch cfg.algo {
	case algoRoundRobin:
		v.wheel = buildWheel(v.nodes)
	case algoConsistentHashing:
		v.ring, v.points = buildRing(v.nodes, len(b.targets), cfg.ringPoints())
	}
	b.states = states
	b.v.Store(v)
	b.recomputeHealth()
}

// recomputeHealth updates the upstream-level health from the current view.
func (b *Balancer) recomputeHealth() {
	b.healthMu.Lock()
	defer b.healthMu.Unlock()
	v := b.v.Load()
	if v == nil {
		return
	}
	total, avail := v.weights()
	below := avail == 0 || float64(avail)*100/float64(total) < v.cfg.threshold
	if b.below.Swap(below) != below {
		state := "healthy"
		if below {
			state = "unhealthy"
		}
		b.p.opts.Logger.Warn("upstream: balancer health changed", "upstream", v.cfg.name, "health", state)
	}
}

// weights returns the total and the available node weight.
func (v *view) weights() (total, avail int) {
	for i := range v.nodes {
		n := &v.nodes[i]
		total += n.weight
		if v.available(n) {
			avail += n.weight
		}
	}
	return total, avail
}

func (v *view) available(n *node) bool {
	return !v.cfg.usingChecks || n.a.healthy()
}

func wasTried(a *address, tried []*Peer) bool {
	for _, t := range tried {
		if t != nil && t.a == a {
			return true
		}
	}
	return false
}

// Pick returns a peer. tried lists peers already attempted for this request
// (retries go to the next peer where possible). Every peer returned must be
// reported to Done exactly once. The returned Peer must not be modified.
func (b *Balancer) Pick(r *http.Request, pc *PickContext, tried []*Peer) (*Peer, error) {
	v := b.v.Load()
	if v == nil || len(v.nodes) == 0 || b.below.Load() {
		return nil, ErrNoPeer
	}
	var n *node
	var cookie string
	switch v.cfg.algo {
	case algoConsistentHashing:
		var key string
		key, cookie = hashValue(v.cfg, r, pc, tried)
		n = v.pickHash(xxhash32(key), tried)
	case algoLeastConnections:
		n = v.pickScore(b.seq.Add(1), tried, 0)
	case algoLatency:
		n = v.pickScore(b.seq.Add(1), tried, time.Now().UnixNano())
	default:
		n = v.pickRR(b.seq.Add(1), tried)
	}
	if n == nil {
		return nil, ErrNoPeer
	}
	n.a.inflight.Add(1)
	n.a.picks.Add(1)
	if cookie != "" {
		p := n.peer
		p.SetCookie = &http.Cookie{
			Name:     v.cfg.hashOn.name,
			Value:    cookie,
			Path:     v.cfg.cookiePath,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		}
		return &p, nil
	}
	return &n.peer, nil
}

// pickRR walks the weighted wheel from the next position, skipping
// unavailable nodes and (in the first pass) tried ones.
func (v *view) pickRR(seq uint64, tried []*Peer) *node {
	l := uint64(len(v.wheel))
	if l == 0 {
		return nil
	}
	for pass := 0; pass < 2; pass++ {
		for i := uint64(0); i < l; i++ {
			n := &v.nodes[v.wheel[(seq+i)%l]]
			if !v.available(n) || pass == 0 && wasTried(n.a, tried) {
				continue
			}
			return n
		}
		if len(tried) == 0 {
			break
		}
	}
	return nil
}

// pickHash walks the continuum counter-clockwise from the key's point, as
// Kong does, to the first available node.
func (v *view) pickHash(h uint32, tried []*Peer) *node {
	if v.points == 0 {
		return nil
	}
	start := h%v.points + 1
	for pass := 0; pass < 2; pass++ {
		idx := start
		for i := uint32(0); i < v.points; i++ {
			if ni := v.ring[idx]; ni >= 0 {
				n := &v.nodes[ni]
				if v.available(n) && (pass == 1 || !wasTried(n.a, tried)) {
					return n
				}
			}
			idx--
			if idx == 0 {
				idx = v.points
			}
		}
		if len(tried) == 0 {
			break
		}
	}
	return nil
}

// pickScore returns the available node with the lowest score: least
// connections ((in-flight+1)/weight) when now is 0, else latency (decayed
// EWMA/weight). Ties go round-robin via seq.
func (v *view) pickScore(seq uint64, tried []*Peer, now int64) *node {
	l := len(v.nodes)
	start := int(seq % uint64(l))
	for pass := 0; pass < 2; pass++ {
		var best *node
		bestScore := math.Inf(1)
		for k := 0; k < l; k++ {
			n := &v.nodes[(start+k)%l]
			if !v.available(n) || pass == 0 && wasTried(n.a, tried) {
				continue
			}
			var s float64
			if now == 0 {
				s = float64(n.a.inflight.Load()+1) / float64(n.weight)
			} else {
				s = n.a.ewma(now) / float64(n.weight)
			}
			if best == nil || s < bestScore {
				best, bestScore = n, s
			}
		}
		if best != nil || len(tried) == 0 {
			return best
		}
	}
	return nil
}

// Done reports the result of using p: it ends the in-flight count, feeds the
// latency EWMA and the passive health checks. Kong's passive classification:
// a timeout (or a failed attempt with status 504) counts against timeouts, a
// connection failure against tcp_failures, a received status against the
// healthy or unhealthy http_statuses. A result without status, failure or
// timeout (an aborted attempt) is not counted.
func (b *Balancer) Done(p *Peer, res Result) {
	if p == nil || p.a == nil {
		return
	}
	a := p.a
	a.inflight.Add(-1)
	v := a.b.v.Load()
	if v == nil {
		return
	}
	cfg := v.cfg
	if cfg.algo == algoLatency && res.Latency > 0 {
		a.observe(res.Latency, time.Now().UnixNano())
	}
	if !cfg.usingChecks {
		return
	}
	pc := &cfg.passive
	switch {
	case res.Timeout || res.TCPFailure && res.Status == 504:
		a.report(false, ctrTimeout, pc.timeouts)
	case res.TCPFailure:
		a.report(false, ctrTCP, pc.tcpFailures)
	case res.Status > 0:
		if pc.healthyStatuses.has(res.Status) {
			a.report(true, ctrSuccess, pc.successes)
		} else if pc.unhealthyStatus.has(res.Status) {
			a.report(false, ctrHTTP, pc.httpFailures)
		}
	}
}

// SetHealthy forces the health of target (all its addresses) or of one of
// its addresses ("ip" or "ip:port"; the target's port when omitted) and
// clears the counters. See Pool.SetHealthy.
func (b *Balancer) SetHealthy(target, addr string, healthy bool) error {
	v := b.v.Load()
	if v == nil {
		return fmt.Errorf("%w: %s", ErrUnknownUpstream, b.id)
	}
	if !v.cfg.usingChecks {
		return fmt.Errorf("no healthchecker found for %s", v.cfg.name)
	}
	hp, err := parseTarget(target)
	if err != nil {
		return err
	}
	raw := hp.String()
	var wantIP string
	wantPort := hp.port
	if addr != "" {
		ah, err := parseTarget(addr)
		if err != nil || !ah.ip {
			return fmt.Errorf("invalid address %q", addr)
		}
		wantIP = ah.host
		if hasPort(addr) {
			wantPort = ah.port
		}
	}
	found := false
	for _, t := range v.targets {
		if t.cfg.raw != raw {
			continue
		}
		found = true
		n := 0
		for _, a := range t.addrs {
			if wantIP != "" && (a.ip != wantIP || a.port != wantPort) {
				continue
			}
			a.set(healthy)
			n++
		}
		if wantIP != "" && n == 0 {
			return fmt.Errorf("%w: address %s of %s", ErrUnknownTarget, addr, raw)
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrUnknownTarget, raw)
	}
	return nil
}

func hasPort(s string) bool {
	if s != "" && s[0] == '[' {
		return s[len(s)-1] != ']'
	}
	return strings.Count(s, ":") == 1
}
