package upstream

import (
	"time"

	"sluice/internal/model"
)

type algorithm uint8

const (
	algoRoundRobin algorithm = iota
	algoConsistentHashing
	algoLeastConnections
	algoLatency
)

func parseAlgorithm(s string) algorithm {
	switch s {
	case "consistent-hashing":
		return algoConsistentHashing
	case "least-connections":
		return algoLeastConnections
	case "latency":
		return algoLatency
	default:
		return algoRoundRobin
	}
}

// hashInput is one of Kong's hash_on / hash_fallback sources.
type hashInput struct {
	kind string // none, consumer, ip, header, cookie, path, query_arg, uri_capture
	name string // header name, cookie name, query arg or capture group
}

// statusSet is a set of HTTP status codes 100-999.
type statusSet [1000]bool

func newStatusSet(codes []int) *statusSet {
	var s statusSet
	for _, c := range codes {
		if c >= 0 && c < len(s) {
			s[c] = true
		}
	}
	return &s
}

func (s *statusSet) has(code int) bool { return code >= 0 && code < len(s) && s[code] }

// config is the parsed, immutable form of an upstream's settings.
type config struct {
	name        string
	algo        algorithm
	hashOn      hashInput
	hashFall    hashInput
	cookiePath  string
	slots       int
	hostHeader  string // upstream.host_header, "" when unset
	threshold   float64
	usingChecks bool // Kong's is_upstream_using_healthcheck

	active  activeCfg
	passive passiveCfg
}

// activeCfg is healthchecks.active, parsed.
type activeCfg struct {
	typ             string
	timeout         time.Duration
	concurrency     int
	httpPath        string
	sni             string
	verify          bool
	headers         []string // "Name: value" lines
	healthyEvery    time.Duration
	unhealthyEvery  time.Duration
	healthyStatuses *statusSet
	successes       int
	unhealthyStatus *statusSet
	httpFailures    int
	tcpFailures     int
	timeouts        int
}

// passiveCfg is healthchecks.passive, parsed.
type passiveCfg struct {
	healthyStatuses *statusSet
	successes       int
	unhealthyStatus *statusSet
	httpFailures    int
	tcpFailures     int
	timeouts        int
}

func seconds(f float64) time.Duration {
	if f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Kong's default status lists, used when the config leaves them nil.
var (
	defActiveHealthy    = []int{200, 302}
	defActiveUnhealthy  = []int{429, 404, 500, 501, 502, 503, 504, 505}
	defPassiveHealthy   = []int{200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308}
	defPassiveUnhealthy = []int{429, 500, 503}
)

func orDefault(codes, def []int) []int {
	if codes == nil {
		return def
	}
	return codes
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func parseConfig(u *model.Upstream) *config {
	c := &config{
		name:       u.Name,
		algo:       parseAlgorithm(u.Algorithm),
		cookiePath: u.HashOnCookiePath,
		slots:      u.Slots,
		hostHeader: deref(u.HostHeader),
	}
	if c.cookiePath == "" {
		c.cookiePath = "/"
	}
	c.hashOn = hashInput{kind: u.HashOn}
	switch u.HashOn {
	case "header":
		c.hashOn.name = deref(u.HashOnHeader)
	case "cookie":
		c.hashOn.name = deref(u.HashOnCookie)
	case "query_arg":
		c.hashOn.name = deref(u.HashOnQueryArg)
	case "uri_capture":
		c.hashOn.name = deref(u.HashOnURICapture)
	case "":
		c.hashOn.kind = "none"
	}
	c.hashFall = hashInput{kind: u.HashFallback}
	switch u.HashFallback {
	case "header":
		c.hashFall.name = deref(u.HashFallbackHeader)
	case "query_arg":
		c.hashFall.name = deref(u.HashFallbackQueryArg)
	case "uri_capture":
		c.hashFall.name = deref(u.HashFallbackURICapture)
	case "cookie":
		c.hashFall.name = deref(u.HashOnCookie)
	case "":
		c.hashFall.kind = "none"
	}

	hc := u.Healthchecks
	c.threshold = hc.Threshold
	a := &c.active
	a.typ = hc.Active.Type
	if a.typ == "" {
		a.typ = "http"
	}
	a.timeout = seconds(hc.Active.Timeout)
	if a.timeout == 0 {
		a.timeout = time.Second
	}
	a.concurrency = hc.Active.Concurrency
	if a.concurrency <= 0 {
		a.concurrency = 10
	}
	a.httpPath = hc.Active.HTTPPath
	if a.httpPath == "" {
		a.httpPath = "/"
	}
	a.sni = deref(hc.Active.HTTPSSNI)
	a.verify = hc.Active.HTTPSVerifyCertificate
	for name, vals := range hc.Active.Headers {
		for _, v := range vals {
			a.headers = append(a.headers, name+": "+v)
		}
	}
	a.healthyEvery = seconds(hc.Active.Healthy.Interval)
	a.unhealthyEvery = seconds(hc.Active.Unhealthy.Interval)
	a.healthyStatuses = newStatusSet(orDefault(hc.Active.Healthy.HTTPStatuses, defActiveHealthy))
	a.successes = hc.Active.Healthy.Successes
	a.unhealthyStatus = newStatusSet(orDefault(hc.Active.Unhealthy.HTTPStatuses, defActiveUnhealthy))
	a.httpFailures = hc.Active.Unhealthy.HTTPFailures
	a.tcpFailures = hc.Active.Unhealthy.TCPFailures
	a.timeouts = hc.Active.Unhealthy.Timeouts

	p := &c.passive
	p.healthyStatuses = newStatusSet(orDefault(hc.Passive.Healthy.HTTPStatuses, defPassiveHealthy))
	p.successes = hc.Passive.Healthy.Successes
	p.unhealthyStatus = newStatusSet(orDefault(hc.Passive.Unhealthy.HTTPStatuses, defPassiveUnhealthy))
	p.httpFailures = hc.Passive.Unhealthy.HTTPFailures
	p.tcpFailures = hc.Passive.Unhealthy.TCPFailures
	p.timeouts = hc.Passive.Unhealthy.Timeouts

	// Kong: health checks are in use when active probing is on in either
	// state or any passive unhealthy counter is set.
	c.usingChecks = a.healthyEvery > 0 || a.unhealthyEvery > 0 ||
		p.tcpFailures != 0 || p.timeouts != 0 || p.httpFailures != 0
	return c
}

// activeOn reports whether an active checker goroutine is needed.
func (c *config) activeOn() bool {
	return c.active.healthyEvery > 0 || c.active.unhealthyEvery > 0
}

// ringPoints is the size of the consistent-hashing continuum: Kong uses
// slots when it is at least 1000, otherwise 1000.
func (c *config) ringPoints() int {
	if c.slots >= 1000 {
		return c.slots
	}
	return 1000
}
