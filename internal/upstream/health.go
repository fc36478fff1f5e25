package upstream

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Internal health states, as in Kong's health checker: the "mostly" states
// count as the state they name but have started to receive the opposite
// reports.
const (
	stHealthy int32 = iota
	stUnhealthy
	stMostlyHealthy
	stMostlyUnhealthy
)

// counter kinds
const (
	ctrSuccess = iota
	ctrHTTP
	ctrTCP
	ctrTimeout
)

// address is one balancer node: a resolved ip:port of a target. Its health
// and counters survive config updates as long as the target string and the
// resolved address stay the same.
type address struct {
	b      *Balancer
	key    string // target + "|" + ip:port
	target string // the target as configured (host:port)
	ip     string
	port   int

	state atomic.Int32

	mu       sync.Mutex // guards ctr
	ctr      [4]int
	inflight atomic.Int64
	picks    atomic.Uint64

	// latency EWMA, seconds, as float64 bits; ewmaAt is unix nanoseconds of
	// the last update.
	ewmaMu   sync.Mutex
	ewmaBits atomic.Uint64
	ewmaAt   atomic.Int64
}

// healthy reports whether the address may receive traffic per its health.
func (a *address) healthy() bool {
	s := a.state.Load()
	return s == stHealthy || s == stMostlyHealthy
}

// report counts one health observation the way Kong's health checker does:
// a report matching the fully settled state is ignored; a success resets the
// failure counters and any failure resets the success counter; reaching limit
// flips the state. limit 0 disables the criterion.
func (a *address) report(healthyReport bool, kind, limit int) {
	if limit <= 0 {
		return
	}
	want := stUnhealthy
	if healthyReport {
		want = stHealthy
	}
	if a.state.Load() == want {
		return
	}
	a.mu.Lock()
	cur := a.state.Load()
	if cur == want {
		a.mu.Unlock()
		return
	}
	if a.ctr[kind] < 255 {
		a.ctr[kind]++
	}
	n := a.ctr[kind]
	if kind == ctrSuccess {
		a.ctr[ctrHTTP], a.ctr[ctrTCP], a.ctr[ctrTimeout] = 0, 0, 0
	} else {
		a.ctr[ctrSuccess] = 0
	}
	next := cur
	switch {
	case n >= limit:
		next = want
	case cur == stHealthy && !healthyReport:
		next = stMostlyHealthy
	case cur == stUnhealthy && healthyReport:
		next = stMostlyUnhealthy
	}
	was := a.healthy()
	a.state.Store(next)
	now := a.healthy()
	a.mu.Unlock()
	if was != now {
		a.changed(now, "counter")
	}
}

// changed logs a health flip and updates the upstream-level health.
func (a *address) changed(healthy bool, why string) {
	if a.b == nil {
		return
	}
	state := "unhealthy"
	if healthy {
		state = "healthy"
	}
	a.b.p.opts.Logger.Warn("upstream: target health changed", "upstream", a.b.Name(),
		"target", a.target, "address", a.ip, "port", a.port, "health", state, "by", why)
	a.b.recomputeHealth()
}

// set forces the state and clears the counters (Kong's set_target_status).
func (a *address) set(healthy bool) {
	a.mu.Lock()
	was := a.healthy()
	a.ctr = [4]int{}
	if healthy {
		a.state.Store(stHealthy)
	} else {
		a.state.Store(stUnhealthy)
	}
	now := a.healthy()
	a.mu.Unlock()
	if was != now {
		a.changed(now, "manual")
	}
}

func (a *address) counters() [4]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctr
}

// ewmaDecay is Kong's latency balancer decay time.
const ewmaDecay = 10 * time.Second

// ewma returns the latency score of a at now: the stored EWMA decayed toward
// zero by the time since its last update (so a slow target is retried
// eventually), in seconds.
func (a *address) ewma(now int64) float64 {
	e := math.Float64frombits(a.ewmaBits.Load())
	if e == 0 {
		return 0
	}
	td := now - a.ewmaAt.Load()
	if td <= 0 {
		return e
	}
	return e * math.Exp(-float64(td)/float64(ewmaDecay))
}

// observe folds one latency sample into the EWMA.
func (a *address) observe(rtt time.Duration, now int64) {
	a.ewmaMu.Lock()
	e := math.Float64frombits(a.ewmaBits.Load())
	td := now - a.ewmaAt.Load()
	if td < 0 {
		td = 0
	}
	w := math.Exp(-float64(td) / float64(ewmaDecay))
	e = e*w + rtt.Seconds()*(1-w)
	a.ewmaBits.Store(math.Float64bits(e))
	a.ewmaAt.Store(now)
	a.ewmaMu.Unlock()
}

func (a *address) seed(e float64, now int64) {
	a.ewmaBits.Store(math.Float64bits(e))
	a.ewmaAt.Store(now)
}
