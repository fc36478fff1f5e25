package upstream

import (
	"strings"
	"time"
)

// Health values reported per target and address, as in Kong's
// /upstreams/{u}/health.
const (
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
	HealthDNSError  = "DNS_ERROR"
	HealthOff       = "HEALTHCHECKS_OFF"
)

// AddressHealth is the state of one resolved address of a target.
type AddressHealth struct {
	IP     string
	Port   int
	Weight int
	Health string // HEALTHY, UNHEALTHY or HEALTHCHECKS_OFF

	// Health counters (Kong's success, http, tcp and timeout counters).
	Successes, HTTPFailures, TCPFailures, Timeouts int
	InFlight                                       int64         // picked and not yet Done
	Picks                                          uint64        // total picks
	LatencyEWMA                                    time.Duration // latency algorithm only
}

// TargetHealth is one target with its addresses.
type TargetHealth struct {
	Target string // host:port as stored, IPv6 in brackets
	Host   string
	Port   int
	Weight int    // configured weight (Kong's nodeWeight)
	Health string // HEALTHY, UNHEALTHY, DNS_ERROR or HEALTHCHECKS_OFF
	DNS    string // "A", "AAAA" or the DNS error

	WeightTotal, WeightAvailable, WeightUnavailable int
	Addresses                                       []AddressHealth
}

// BalancerHealth is the upstream-level health (Kong's ?balancer_health=1).
type BalancerHealth struct {
	Health                                          string // HEALTHY, UNHEALTHY or HEALTHCHECKS_OFF
	WeightTotal, WeightAvailable, WeightUnavailable int
}

// Health reports every configured target in config order with Kong's rules:
// a target without addresses is DNS_ERROR; otherwise HEALTHY when any address
// is healthy, UNHEALTHY when all are unhealthy, HEALTHCHECKS_OFF when the
// upstream uses no health checks (active intervals 0 and passive unhealthy
// counters 0).
func (b *Balancer) Health() []TargetHealth {
	v := b.v.Load()
	if v == nil {
		return nil
	}
	now := time.Now().UnixNano()
	out := make([]TargetHealth, 0, len(v.targets))
	for _, t := range v.targets {
		th := TargetHealth{
			Target: t.cfg.raw,
			Host:   t.cfg.hp.hostHeader(),
			Port:   t.cfg.hp.port,
			Weight: t.cfg.weight,
		}
		switch {
		case t.dnsErr != nil:
			th.DNS = t.dnsErr.Error()
		case strings.Contains(t.cfg.hp.host, ":") || len(t.addrs) > 0 && strings.Contains(t.addrs[0].ip, ":"):
			th.DNS = "AAAA"
		default:
			th.DNS = "A"
		}
		if len(t.addrs) == 0 {
			th.Health = HealthDNSError
		} else {
			th.Health = HealthOff
		}
		for _, a := range t.addrs {
			ah := AddressHealth{IP: a.ip, Port: a.port, Weight: t.cfg.weight}
			c := a.counters()
			ah.Successes, ah.HTTPFailures, ah.TCPFailures, ah.Timeouts = c[ctrSuccess], c[ctrHTTP], c[ctrTCP], c[ctrTimeout]
			ah.InFlight = a.inflight.Load()
			ah.Picks = a.picks.Load()
			ah.LatencyEWMA = time.Duration(a.ewma(now) * float64(time.Second))
			th.WeightTotal += t.cfg.weight
			switch {
			case !v.cfg.usingChecks:
				ah.Health = HealthOff
				th.WeightAvailable += t.cfg.weight
			case a.healthy():
				ah.Health = HealthHealthy
				th.WeightAvailable += t.cfg.weight
				th.Health = HealthHealthy
			default:
				ah.Health = HealthUnhealthy
				th.WeightUnavailable += t.cfg.weight
				if th.Health != HealthHealthy {
					th.Health = HealthUnhealthy
				}
			}
			th.Addresses = append(th.Addresses, ah)
		}
		out = append(out, th)
	}
	return out
}

// TargetHealth returns the health of one target ("host:port"; port 8000 when
// omitted).
func (b *Balancer) TargetHealth(target string) (TargetHealth, bool) {
	hp, err := parseTarget(target)
	if err != nil {
		return TargetHealth{}, false
	}
	raw := hp.String()
	for _, th := range b.Health() {
		if th.Target == raw {
			return th, true
		}
	}
	return TargetHealth{}, false
}

// BalancerHealth reports the upstream as a whole: HEALTHCHECKS_OFF when it
// uses no health checks, else HEALTHY while the available weight is above
// the threshold.
func (b *Balancer) BalancerHealth() BalancerHealth {
	v := b.v.Load()
	if v == nil {
		return BalancerHealth{Health: HealthOff}
	}
	total, avail := v.weights()
	bh := BalancerHealth{WeightTotal: total, WeightAvailable: avail, WeightUnavailable: total - avail}
	switch {
	case !v.cfg.usingChecks:
		bh.Health = HealthOff
	case b.below.Load():
		bh.Health = HealthUnhealthy
	default:
		bh.Health = HealthHealthy
	}
	return bh
}
