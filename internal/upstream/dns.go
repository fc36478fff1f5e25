package upstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// dnsEntry is the last answer for one host name.
type dnsEntry struct {
	ips  []string // sorted, unique
	err  error
	next time.Time // when to look it up again
}

// dnsCache resolves the host names of targets, once per name for the whole
// pool, and refreshes them in one background goroutine.
type dnsCache struct {
	p    *Pool
	mu   sync.Mutex
	m    map[string]*dnsEntry
	kick chan struct{}
}

var errDNSCacheFull = errors.New("dns cache full")

func newDNSCache(p *Pool) *dnsCache {
	return &dnsCache{p: p, m: map[string]*dnsEntry{}, kick: make(chan struct{}, 1)}
}

// use makes the cache hold exactly names (the names of all configured
// targets): names not resolved yet are resolved now, in parallel; names no
// longer used are dropped.
func (d *dnsCache) use(names []string) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var todo []string
	d.mu.Lock()
	for n := range d.m {
		if !want[n] {
			delete(d.m, n)
		}
	}
	for n := range want {
		if _, ok := d.m[n]; ok {
			continue
		}
		if len(d.m)+len(todo) >= d.p.opts.MaxDNSEntries {
			d.m[n] = &dnsEntry{err: errDNSCacheFull, next: time.Now().Add(d.p.opts.DNSErrorRetry)}
			continue
		}
		todo = append(todo, n)
	}
	d.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	results := make([]*dnsEntry, len(todo))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, n := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			results[i] = d.resolve(d.p.ctx, n)
			<-sem
		}()
	}
	wg.Wait()
	d.mu.Lock()
	for i, n := range todo {
		d.m[n] = results[i]
	}
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *dnsCache) resolve(ctx context.Context, host string) *dnsEntry {
	ctx, cancel := context.WithTimeout(ctx, d.p.opts.DNSTimeout)
	defer cancel()
	addrs, err := d.p.opts.Resolver.LookupIPAddr(ctx, host)
	now := time.Now()
	if err == nil && len(addrs) == 0 {
		err = errors.New("empty record received")
	}
	if err != nil {
		return &dnsEntry{err: err, next: now.Add(d.p.opts.DNSErrorRetry)}
	}
	// Kong's default dns_order (LAST,SRV,A,CNAME) asks for A records only:
	// use the IPv4 addresses when there are any, else the IPv6 ones.
	ips := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if a.IP.To4() != nil {
			ips = append(ips, a.IP.String())
		}
	}
	if len(ips) == 0 {
		for _, a := range addrs {
			ips = append(ips, a.IP.String())
		}
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	refresh := d.p.opts.DNSRefresh
	jitter := time.Duration(rand.Int64N(int64(refresh)/5 + 1))
	return &dnsEntry{ips: ips, next: now.Add(refresh - jitter)}
}

// lookup returns the cached answer for host.
func (d *dnsCache) lookup(host string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.m[host]
	if e == nil {
		return nil, errors.New("not resolved")
	}
	return e.ips, e.err
}

// run refreshes names when they are due until ctx ends.
func (d *dnsCache) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		var due []string
		now := time.Now()
		wait := time.Hour
		for n, e := range d.m {
			if !e.next.After(now) {
				due = append(due, n)
			} else if w := e.next.Sub(now); w < wait {
				wait = w
			}
		}
		d.mu.Unlock()
		for _, n := range due {
			if ctx.Err() != nil {
				return
			}
			e := d.resolve(ctx, n)
			if ctx.Err() != nil {
				return
			}
			d.mu.Lock()
			old, ok := d.m[n]
			if ok {
				d.m[n] = e
			}
			d.mu.Unlock()
			if ok && !sameAnswer(old, e) {
				d.p.dnsChanged(n)
			}
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			t.Stop() // Go 1.23+ timers: no stale tick to drain
		case <-t.C:
		}
	}
}

func sameAnswer(a, b *dnsEntry) bool {
	if (a.err == nil) != (b.err == nil) {
		return false
	}
	return slices.Equal(a.ips, b.ips)
}
