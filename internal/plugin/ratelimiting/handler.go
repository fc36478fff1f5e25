package ratelimiting

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// expiration is Kong's EXPIRATION table (seconds per period).
var expiration = plugin.PeriodSeconds

var (
	hdrLimit     [len(periodNames)]string
	hdrRemaining [len(periodNames)]string
)

func init() {
	for i, p := range periodNames {
		title := string(p[0]-'a'+'A') + p[1:]
		hdrLimit[i] = "X-Ratelimit-Limit-" + title
		hdrRemaining[i] = "X-Ratelimit-Remaining-" + title
	}
}

// RateLimiting is one configured instance.
type RateLimiting struct {
	limits     [len(periodNames)]int64 // 0: period not configured
	limitStr   [len(periodNames)]string
	nperiods   int
	limitBy    string
	headerName string
	path       string
	hide       bool
	errorCode  int
	errorMsg   string
	store      *Store

	// redis policy
	remote        plugin.Counters
	keyPrefix     string // "ratelimit:<route id>:<service id>:"
	faultTolerant bool
	log           *slog.Logger

	// cluster policy
	cluster            plugin.ClusterCounters
	serviceID, routeID string // Kong's empty UUID when the plugin has no such scope
}

const emptyUUID = "00000000-0000-0000-0000-000000000000"

// New builds an instance from a validated config. The counters come from
// deps.State under the plugin id, so that they outlive the snapshot.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	rl := &RateLimiting{limitBy: "consumer", errorCode: 429, errorMsg: "API rate limit exceeded"}
	for i, p := range periodNames {
		if v, ok := model.Number(cfg[p]); ok && v > 0 {
			rl.limits[i] = int64(v)
			if float64(rl.limits[i]) < v {
				rl.limits[i]++ // Kong compares usage with the fractional limit
			}
			rl.limitStr[i] = strconv.FormatInt(rl.limits[i], 10)
			rl.nperiods++
		}
	}
	if s, ok := cfg["limit_by"].(string); ok {
		rl.limitBy = s
	}
	rl.headerName, _ = cfg["header_name"].(string)
	rl.path, _ = cfg["path"].(string)
	rl.hide, _ = cfg["hide_client_headers"].(bool)
	if v, ok := model.Number(cfg["error_code"]); ok {
		rl.errorCode = int(v)
	}
	if s, ok := cfg["error_message"].(string); ok {
		rl.errorMsg = s
	}
	rl.faultTolerant = boolOr(cfg["fault_tolerant"], true)
	rl.log = deps.Logger
	if rl.log == nil {
		rl.log = slog.Default()
	}
	rl.routeID, rl.serviceID = emptyUUID, emptyUUID
	if p := deps.Plugin; p != nil {
		if p.Route != nil {
			rl.routeID = p.Route.ID
		}
		if p.Service != nil {
			rl.serviceID = p.Service.ID
		}
	}
	switch pol, _ := cfg["policy"].(string); {
	case pol == "redis" && deps.Redis != nil:
		counters, err := deps.Redis(plugin.RedisConfigOf(cfg))
		if err != nil {
			return nil, err
		}
		rl.remote = counters
		rl.keyPrefix = "ratelimit:" + rl.routeID + ":" + rl.serviceID + ":"
		return rl, nil
	case pol == "cluster" && deps.Cluster != nil:
		rl.cluster = deps.Cluster
		return rl, nil
	case pol == "cluster":
		// No cluster database: the embedded store is one node, whose
		// process is the whole cluster.
		rl.log.Info("rate-limiting policy cluster without a cluster database: counting in this process")
	case pol == "redis":
		rl.log.Warn("rate-limiting policy is not available: counting locally (per node)", "policy", pol)
	}
	if deps.State != nil && deps.PluginID != "" {
		st, ok := deps.State.Get(deps.PluginID, func() any { return newStore(0, true) }).(*Store)
		if !ok { // the pool holds another plugin's state under this id
			st = NewStore(0)
		}
		rl.store = st
	} else {
		rl.store = NewStore(0)
	}
	return rl, nil
}

// Counters returns the instance's counter store (for metrics and tests).
func (rl *RateLimiting) Counters() *Store { return rl.store }

func (rl *RateLimiting) identifier(c *plugin.Ctx) string {
	var id string
	switch rl.limitBy {
	case "service":
		if c.Service != nil {
			id = c.Service.ID
		}
	case "consumer", "consumer-group":
		if c.Consumer != nil {
			id = c.Consumer.ID
		} else {
			id = c.Credential
		}
	case "credential":
		id = c.Credential
	case "header":
		id = c.Request.Header.Get(rl.headerName)
	case "path":
		if rl.path == c.Request.URL.Path {
			id = rl.path
		}
	}
	if id == "" {
		id = c.ClientIP
	}
	return id
}

// Access counts the request and answers error_code when a window is
// exhausted.
func (rl *RateLimiting) Access(c *plugin.Ctx) {
	t := now()
	sec := t.Unix()
	var buf [len(periodNames)]window
	ws := buf[:0]
	for i, l := range rl.limits {
		if l == 0 {
			continue
		}
		ws = append(ws, window{period: uint8(i), limit: l, start: plugin.PeriodStart(i, t), expiry: expiration[i]})
	}
	var stop int
	switch {
	case rl.cluster != nil:
		var ok bool
		if stop, ok = rl.takeCluster(c, ws); !ok {
			return
		}
	case rl.remote != nil:
		var ok bool
		if stop, ok = rl.takeRemote(c, ws, t); !ok {
			return
		}
	default:
		stop = rl.store.take(rl.identifier(c), ws, sec)
	}

	var reset int64
	if !rl.hide {
		var remaining, win int64
		var limit, remStr string
		first := true
		for i := range ws {
			w := &ws[i]
			rem := w.limit - w.usage
			if stop < 0 || stop == i {
				rem--
			}
			if rem < 0 {
				rem = 0
			}
			if first || rem < remaining || (rem == remaining && w.expiry > win) {
				first = false
				limit, remaining, win = rl.limitStr[w.period], rem, w.expiry
				remStr = ""
				ms := t.UnixMilli() - w.start*1000
				reset = max(1, w.expiry-ms/1000)
			}
			c.SetResponseHeader(hdrLimit[w.period], rl.limitStr[w.period])
			rs := itoa(rem)
			if remStr == "" && rem == remaining {
				remStr = rs
			}
			c.SetResponseHeader(hdrRemaining[w.period], rs)
		}
		c.SetResponseHeader("Ratelimit-Limit", limit)
		if remStr == "" {
			remStr = itoa(remaining)
		}
		c.SetResponseHeader("Ratelimit-Remaining", remStr)
		c.SetResponseHeader("Ratelimit-Reset", itoa(reset))
	}
	if stop >= 0 {
		var h http.Header
		if reset > 0 {
			h = http.Header{"Retry-After": {itoa(reset)}}
		}
		c.Error(rl.errorCode, rl.errorMsg, h)
	}
}

// takeRemote counts the request on Redis with Kong's keys. On a Redis
// failure the request goes through without headers when fault_tolerant,
// else it answers 500; ok is false in both cases.
func (rl *RateLimiting) takeRemote(c *plugin.Ctx, ws []window, t time.Time) (stop int, ok bool) {
	id := rl.identifier(c)
	keys := make([]string, len(ws))
	ttls := make([]time.Duration, len(ws))
	for i, w := range ws {
		keys[i] = rl.keyPrefix + id + ":" + strconv.FormatInt(w.start*1000, 10) + ":" + periodNames[w.period]
		ttls[i] = time.Duration(w.expiry) * time.Second
	}
	usage, err := rl.remote.Take(c.Request.Context(), keys, ttls)
	if err != nil {
		rl.log.Error("rate-limiting: redis failed", "error", err, "fault_tolerant", rl.faultTolerant)
		if !rl.faultTolerant {
			c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		}
		return 0, false
	}
	stop = -1
	for i := range ws {
		ws[i].usage = usage[i]
		if stop < 0 && ws[i].limit-usage[i] <= 0 {
			stop = i
		}
	}
	return stop, true
}

// takeCluster counts the request in the cluster database (Kong's cluster
// policy, without its race: see README). Failures are handled as for redis.
func (rl *RateLimiting) takeCluster(c *plugin.Ctx, ws []window) (stop int, ok bool) {
	var cwBuf [len(periodNames)]plugin.CounterWindow
	var usage [len(periodNames)]int64
	cw := cwBuf[:len(ws)]
	for i, w := range ws {
		cw[i] = plugin.CounterWindow{Period: w.period, Start: w.start, Limit: w.limit}
	}
	if err := rl.cluster.Take(c.Request.Context(), rl.serviceID, rl.routeID, rl.identifier(c), cw, usage[:]); err != nil {
		rl.log.Error("rate-limiting: cluster counters failed", "error", err, "fault_tolerant", rl.faultTolerant)
		if !rl.faultTolerant {
			c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
		}
		return 0, false
	}
	stop = -1
	for i := range ws {
		ws[i].usage = usage[i]
		if stop < 0 && ws[i].limit-usage[i] <= 0 {
			stop = i
		}
	}
	return stop, true
}

func boolOr(v any, def bool) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return def
}

// small caches the decimal forms of small numbers.
var small = func() (t [1024]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func itoa(n int64) string {
	if n >= 0 && n < int64(len(small)) {
		return small[n]
	}
	return strconv.FormatInt(n, 10)
}

var _ plugin.Accessor = (*RateLimiting)(nil)
