package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"sluice/internal/model"
)

// Resolver looks up the addresses of a host name. *net.Resolver satisfies it;
// tests inject their own.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Options tunes a Pool. Zero values take the defaults.
type Options struct {
	// Resolver resolves target host names (default net.DefaultResolver).
	Resolver Resolver
	// DNSRefresh is how often a resolved name is looked up again (default
	// 30 s); each name gets up to 20% jitter so names and replicas do not
	// refresh in lockstep.
	DNSRefresh time.Duration
	// DNSErrorRetry is how soon a failed lookup is retried (default 30 s, as
	// Kong's requery interval); the target reports DNS_ERROR until then.
	DNSErrorRetry time.Duration
	// DNSTimeout bounds one lookup (default 5 s).
	DNSTimeout time.Duration
	// MaxDNSEntries caps the name cache (default 10000); names no longer used
	// by any target are dropped first.
	MaxDNSEntries int
	// Logger receives health transitions and check errors (default: discard).
	Logger *slog.Logger
}

func (o *Options) fill() {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.DNSRefresh <= 0 {
		o.DNSRefresh = 30 * time.Second
	}
	if o.DNSErrorRetry <= 0 {
		o.DNSErrorRetry = 30 * time.Second
	}
	if o.DNSTimeout <= 0 {
		o.DNSTimeout = 5 * time.Second
	}
	if o.MaxDNSEntries <= 0 {
		o.MaxDNSEntries = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Pool holds one Balancer per upstream across config reloads.
type Pool struct {
	opts Options

	updateMu sync.Mutex // serializes Update and Close

	mu     sync.RWMutex
	byID   map[string]*Balancer
	byName map[string]*Balancer
	closed bool

	dns *dnsCache

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	dnsRun bool
}

// NewPool returns an empty pool with default options.
func NewPool() *Pool { return NewPoolWithOptions(Options{}) }

// NewPoolWithOptions returns an empty pool.
func NewPoolWithOptions(o Options) *Pool {
	o.fill()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{
		opts:   o,
		byID:   map[string]*Balancer{},
		byName: map[string]*Balancer{},
		ctx:    ctx,
		cancel: cancel,
	}
	p.dns = newDNSCache(p)
	return p
}

func (p *Pool) update(ups []*model.Upstream, targets []*model.Target) map[string]*Balancer {
	p.updateMu.Lock()
	defer p.updateMu.Unlock()

	byUp := make(map[string][]*model.Target, len(ups))
	for _, t := range targets {
		if t == nil || t.Upstream == nil {
			continue
		}
		byUp[t.Upstream.ID] = append(byUp[t.Upstream.ID], t)
	}

	// Parse targets and resolve host names the pool has not seen.
	parsed := make(map[string][]targetCfg, len(ups))
	var names []string
	for _, u := range ups {
		if u == nil {
			continue
		}
		var tc []targetCfg
		for _, t := range byUp[u.ID] {
			hp, err := parseTarget(t.Target)
			if err != nil {
				p.opts.Logger.Warn("upstream: skipping target", "upstream", u.Name, "target", t.Target, "error", err)
				continue
			}
			w := t.Weight
			if w < 0 {
				w = 0
			}
			tc = append(tc, targetCfg{raw: hp.String(), hp: hp, weight: w})
			if !hp.ip {
				names = append(names, hp.host)
			}
		}
		parsed[u.ID] = tc
	}
	closed := p.isClosed()
	if !closed {
		p.dns.use(names)
	}

	out := make(map[string]*Balancer, len(ups))
	seen := make(map[string]bool, len(ups))
	p.mu.Lock()
	for _, u := range ups {
		if u == nil || seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		b := p.byID[u.ID]
		if b == nil {
			b = newBalancer(p, u.ID)
			p.byID[u.ID] = b
		}
		out[u.Name] = b
	}
	var removed []*Balancer
	for id, b := range p.byID {
		if !seen[id] {
			removed = append(removed, b)
			delete(p.byID, id)
		}
	}
	p.byName = out
	p.mu.Unlock()

	for _, u := range ups {
		if u == nil {
			continue
		}
		b := out[u.Name]
		if b == nil || b.id != u.ID {
			continue
		}
		b.apply(parseConfig(u), parsed[u.ID], !closed)
	}
	for _, b := range removed {
		b.stop()
	}
	if !closed && len(names) > 0 {
		p.startDNS()
	}
	result := make(map[string]*Balancer, len(out))
	for k, v := range out {
		result[k] = v
	}
	return result
}

func (p *Pool) isClosed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.closed
}

func (p *Pool) startDNS() {
	if p.dnsRun {
		return
	}
	p.dnsRun = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.dns.run(p.ctx)
	}()
}

func (p *Pool) close() {
	p.updateMu.Lock()
	defer p.updateMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	bs := make([]*Balancer, 0, len(p.byID))
	for _, b := range p.byID {
		bs = append(bs, b)
	}
	p.mu.Unlock()
	p.cancel()
	for _, b := range bs {
		b.stop()
	}
	p.wg.Wait()
}

// Balancer returns the balancer of the upstream with the given name or id, or
// nil.
func (p *Pool) Balancer(nameOrID string) *Balancer {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if b := p.byName[nameOrID]; b != nil {
		return b
	}
	return p.byID[nameOrID]
}

// Errors of SetHealthy.
var (
	ErrUnknownUpstream = errors.New("upstream not found")
	ErrUnknownTarget   = errors.New("target not found")
)

// SetHealthy forces the health of a target (all its addresses) or, when
// address is not empty ("ip" or "ip:port"), of one of its addresses, and
// clears its counters: Kong's PUT /upstreams/{u}/targets/{t}[/{address}]/healthy
// and .../unhealthy. upstream is a name or id; target is "host:port" (port
// defaults to 8000). It fails, as Kong does, when the upstream does not use
// health checks ("no healthchecker found for <name>", a 400 in the Admin API).
func (p *Pool) SetHealthy(upstream, target, address string, healthy bool) error {
	b := p.Balancer(upstream)
	if b == nil {
		return fmt.Errorf("%w: %s", ErrUnknownUpstream, upstream)
	}
	return b.SetHealthy(target, address, healthy)
}

// dnsChanged rebuilds every balancer that has a target with host name.
func (p *Pool) dnsChanged(host string) {
	p.mu.RLock()
	bs := make([]*Balancer, 0, len(p.byID))
	for _, b := range p.byID {
		bs = append(bs, b)
	}
	p.mu.RUnlock()
	for _, b := range bs {
		if b.usesHost(host) {
			b.refresh()
		}
	}
}
