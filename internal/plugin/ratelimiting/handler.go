package ratelimiting

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"sluice/internal/plugin"
)

// expiration is Kong's EXPIRATION table (seconds per period).
var expiration = [...]int64{1, 60, 3600, 86400, 2592000, 31536000}

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
}

// New builds an instance from a validated config. The counters come from
// deps.State under the plugin id, so that they outlive the snapshot.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	rl := &RateLimiting{limitBy: "consumer", errorCode: 429, errorMsg: "API rate limit exceeded"}
	for i, p := range periodNames {
		if v, ok := num(cfg[p]); ok && v > 0 {
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
	if v, ok := num(cfg["error_code"]); ok {
		rl.errorCode = int(v)
	}
	if s, ok := cfg["error_message"].(string); ok {
		rl.errorMsg = s
	}
	if pol, _ := cfg["policy"].(string); pol == "redis" || pol == "cluster" {
		log := deps.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("rate-limiting policy is not supported: counting locally (per node)", "policy", pol)
	}
	if deps.State != nil && deps.PluginID != "" {
		rl.store = deps.State.Get(deps.PluginID, func() any { return NewStore(0) }).(*Store)
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

// periodStart is the start of the period's current window (UTC calendar).
func periodStart(i int, t time.Time, sec int64) int64 {
	switch i {
	case 0:
		return sec
	case 1:
		return sec - sec%60
	case 2:
		return sec - sec%3600
	case 3:
		return sec - sec%86400
	case 4:
		y, m, _ := t.UTC().Date()
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	return time.Date(t.UTC().Year(), 1, 1, 0, 0, 0, 0, time.UTC).Unix()
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
		ws = append(ws, window{period: uint8(i), limit: l, start: periodStart(i, t, sec), expiry: expiration[i]})
	}
	stop := rl.store.take(rl.identifier(c), ws, sec)

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
