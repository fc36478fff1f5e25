package responseratelimiting

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// emptyUUID is Kong's route and service id of a plugin without that scope.
const emptyUUID = "00000000-0000-0000-0000-000000000000"

// Queue bounds for the redis and cluster policies' increments (sent after
// the response, in order, by one goroutine per plugin instance).
const (
	QueueEntries = 4096
	QueueBytes   = 1 << 20
)

// timeout bounds a remote read or write of counters.
const timeout = 2 * time.Second

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_response_ratelimiting_dropped_total",
	Help: "response-ratelimiting increments not counted because the queue was full, the counter store failed or the plugin was removed.", MaxSeries: 3,
}, "policy")

// now is the clock (tests move it).
var now = time.Now

// limit is one named limit: its configured periods.
type limit struct {
	name    string
	periods []int     // indexes into plugin.PeriodNames, shortest first
	values  []float64 // the limit of each period
	hdrUp   string    // X-RateLimit-Remaining-<name>, to the upstream
	hdrLim  []string  // X-RateLimit-Limit-<name>-<period>
	hdrRem  []string  // X-RateLimit-Remaining-<name>-<period>
}

// RRL is one plugin instance.
type RRL struct {
	limits         []limit // by name
	headerName     string
	limitBy        string
	policy         string
	faultTolerant  bool
	block          bool
	hide           bool
	routeID, svcID string
	log            *slog.Logger

	local   *Store                  // policy local
	redis   plugin.Counters         // policy redis
	cluster plugin.ResponseCounters // policy cluster
	box     *plugin.Outbox          // increments to redis or the cluster
	close   sync.Once
}

// Config is the decoded config record.
type Config struct {
	HeaderName            string                        `json:"header_name"`
	LimitBy               string                        `json:"limit_by"`
	Policy                string                        `json:"policy"`
	FaultTolerant         bool                          `json:"fault_tolerant"`
	BlockOnFirstViolation bool                          `json:"block_on_first_violation"`
	HideClientHeaders     bool                          `json:"hide_client_headers"`
	Limits                map[string]map[string]float64 `json:"limits"`
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	p := &RRL{headerName: c.HeaderName, limitBy: c.LimitBy, policy: c.Policy, faultTolerant: c.FaultTolerant,
		block: c.BlockOnFirstViolation, hide: c.HideClientHeaders, routeID: emptyUUID, svcID: emptyUUID, log: deps.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.headerName == "" {
		p.headerName = "x-kong-limit"
	}
	names := make([]string, 0, len(c.Limits))
	for n := range c.Limits {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		l := limit{name: n, hdrUp: "X-RateLimit-Remaining-" + n}
		for i, pn := range plugin.PeriodNames {
			if v, ok := c.Limits[n][pn]; ok && v > 0 {
				l.periods = append(l.periods, i)
				l.values = append(l.values, v)
				l.hdrLim = append(l.hdrLim, "X-RateLimit-Limit-"+n+"-"+pn)
				l.hdrRem = append(l.hdrRem, "X-RateLimit-Remaining-"+n+"-"+pn)
			}
		}
		p.limits = append(p.limits, l)
	}
	if pl := deps.Plugin; pl != nil {
		if pl.Route != nil {
			p.routeID = pl.Route.ID
		}
		if pl.Service != nil {
			p.svcID = pl.Service.ID
		}
	}
	switch {
	case p.policy == "redis" && deps.Redis != nil:
		counters, err := deps.Redis(plugin.RedisConfigOf(cfg))
		if err != nil {
			return nil, err
		}
		p.redis = counters
	case p.policy == "cluster" && deps.Cluster != nil:
		rc, ok := deps.Cluster.(plugin.ResponseCounters)
		if !ok {
			p.log.Warn("response-ratelimiting policy cluster: the database has no response_ratelimiting_metrics table: counting in this process")
			break
		}
		p.cluster = rc
	case p.policy == "cluster":
		// No cluster database: the embedded store is one node, whose
		// process is the whole cluster.
		p.log.Info("response-ratelimiting policy cluster without a cluster database: counting in this process")
	case p.policy == "redis":
		p.log.Warn("response-ratelimiting policy redis is not available: counting locally (per node)")
	}
	if p.redis != nil || p.cluster != nil {
		drops := dropped.With(p.policy)
		p.box = plugin.NewOutbox(plugin.OutboxOptions{Entries: QueueEntries, Bytes: QueueBytes,
			Deliver: p.deliver, OnDrop: drops.Inc})
		return p, nil
	}
	if deps.State != nil && deps.PluginID != "" {
		// keyed by plugin id and name: an entity may keep its id and
		// become another counting plugin
		st, ok := deps.State.Get(deps.PluginID+"/"+Name, func() any { return NewStore(0) }).(*Store)
		if !ok {
			st = NewStore(0)
		}
		p.local = st
	} else {
		p.local = NewStore(0)
	}
	return p, nil
}

// Close stops the instance's queue (what it holds is still sent).
func (p *RRL) Close() {
	p.close.Do(func() {
		if p.box != nil {
			p.box.Stop()
		}
	})
}

// state is what the access phase leaves for header_filter and log (Kong's
// kong.ctx.plugin).
type state struct {
	identifier string
	at         time.Time
	// remaining[i][j] is limit i's remaining for its period j before
	// this request (limit minus usage; may be negative).
	remaining  [][]float64
	increments map[string]float64
	stopLog    bool
}

const ctxKey = "response-ratelimiting"

func (p *RRL) identifier(c *plugin.Ctx) string {
	var id string
	switch p.limitBy {
	case "consumer":
		if c.Consumer != nil {
			id = c.Consumer.ID
		} else {
			id = c.Credential
		}
	case "credential":
		id = c.Credential
	}
	if id == "" {
		id = c.ClientIP
	}
	return id
}

// Access reads the usage of every limit, tells the upstream what is left
// (X-RateLimit-Remaining-<name>: the least of the limit's periods) and,
// with block_on_first_violation, refuses a request whose limit has
// exactly nothing left.
func (p *RRL) Access(c *plugin.Ctx) {
	if len(p.limits) == 0 {
		return
	}
	st := &state{identifier: p.identifier(c), at: now()}
	usage, err := p.usage(c.Request.Context(), st)
	if err != nil {
		if p.faultTolerant {
			p.log.Error("response-ratelimiting: failed to get usage", "error", err)
			return
		}
		c.Error(500, "An unexpected error occurred", nil)
		return
	}
	st.remaining = make([][]float64, len(p.limits))
	k := 0
	for i := range p.limits {
		l := &p.limits[i]
		st.remaining[i] = make([]float64, len(l.periods))
		least := math.Inf(1)
		for j := range l.periods {
			r := l.values[j] - float64(usage[k])
			k++
			st.remaining[i][j] = r
			if p.block && r == 0 {
				c.Error(429, "API rate limit exceeded for '"+l.name+"'", nil)
				return
			}
			least = min(least, r)
		}
		c.SetRequestHeader(l.hdrUp, number(least))
	}
	c.Set(ctxKey, st)
}

// HeaderFilter reads the upstream's quota header, sets the client's
// headers (what is left after this response) and answers 429 with an
// empty body when the response uses a limit that was already used up.
func (p *RRL) HeaderFilter(c *plugin.Ctx) {
	if len(p.limits) == 0 {
		return
	}
	v, _ := c.Get(ctxKey)
	st, _ := v.(*state)
	increments := p.parse(c.Header.Values(p.headerName))
	if st == nil {
		return // no usage (the store failed): Kong leaves the header
	}
	st.increments = increments
	stop := false
	for i := range p.limits {
		l := &p.limits[i]
		inc, has := increments[l.name]
		for j := range l.periods {
			r := st.remaining[i][j]
			if !p.hide {
				c.Header.Set(l.hdrLim[j], number(l.values[j]))
				c.Header.Set(l.hdrRem[j], number(max(0, r-inc)))
			}
			if has && inc > 0 && r <= 0 {
				stop = true
			}
		}
	}
	c.Header.Del(p.headerName)
	if stop {
		st.stopLog = true
		c.ExitEmpty(429)
	}
}

// parse reads "name=n, other=m" (one header value split on commas, or
// each of several values as one entry), keeping configured names only.
func (p *RRL) parse(values []string) map[string]float64 {
	if len(values) == 0 {
		return nil
	}
	parts := values
	if len(values) == 1 {
		parts = strings.Split(values[0], ",")
	}
	var inc map[string]float64
	for _, part := range parts {
		kv := strings.Split(part, "=")
		if len(kv) != 2 {
			continue
		}
		name := strings.TrimSpace(kv[0])
		if !p.hasLimit(name) {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(kv[1]), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			continue // Kong's tonumber gives nil
		}
		if inc == nil {
			inc = map[string]float64{}
		}
		inc[name] = n
	}
	return inc
}

func (p *RRL) hasLimit(name string) bool {
	for i := range p.limits {
		if p.limits[i].name == name {
			return true
		}
	}
	return false
}

// Log counts the response's increments in every period of their limits
// (all six, as Kong does), unless the response was refused.
func (p *RRL) Log(c *plugin.Ctx) {
	v, _ := c.Get(ctxKey)
	st, _ := v.(*state)
	if st == nil || st.stopLog {
		return
	}
	for i := range p.limits {
		name := p.limits[i].name
		inc := st.increments[name]
		if inc == 0 {
			continue
		}
		n := int64(inc) // counters are integers (Redis INCRBY, Kong's INTEGER column)
		if n == 0 {
			continue
		}
		if p.local != nil {
			p.local.Add(st.identifier, name, st.at, n)
			continue
		}
		p.box.Put(encode(st.identifier, name, st.at.Unix(), n))
	}
}

// usage reads every configured period of every limit, in order.
func (p *RRL) usage(ctx context.Context, st *state) ([]int64, error) {
	n := 0
	for i := range p.limits {
		n += len(p.limits[i].periods)
	}
	out := make([]int64, n)
	switch {
	case p.local != nil:
		k := 0
		for i := range p.limits {
			for _, per := range p.limits[i].periods {
				out[k] = p.local.Get(st.identifier, p.limits[i].name, per, st.at)
				k++
			}
		}
		return out, nil
	case p.redis != nil:
		keys := make([]string, 0, n)
		for i := range p.limits {
			for _, per := range p.limits[i].periods {
				keys = append(keys, p.redisKey(st.identifier, p.limits[i].name, per, st.at))
			}
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		got, err := p.redis.Get(ctx, keys)
		if err != nil {
			return nil, err
		}
		copy(out, got)
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cells := make([]plugin.ResponseCell, 0, n)
	for i := range p.limits {
		for _, per := range p.limits[i].periods {
			cells = append(cells, plugin.ResponseCell{Period: p.limits[i].name + "_" + plugin.PeriodNames[per],
				Start: plugin.PeriodStart(per, st.at)})
		}
	}
	return out, p.cluster.ResponseUsage(ctx, p.svcID, p.routeID, st.identifier, cells, out)
}

// redisKey is Kong's key: response-ratelimit:<route>:<service>:<identifier>:<period start, ms>:<name>:<period>.
func (p *RRL) redisKey(identifier, name string, per int, at time.Time) string {
	return "response-ratelimit:" + p.routeID + ":" + p.svcID + ":" + identifier + ":" +
		strconv.FormatInt(plugin.PeriodStart(per, at)*1000, 10) + ":" + name + ":" + plugin.PeriodNames[per]
}

// An increment in the queue: "<unix seconds> <n> <name>\x00<identifier>".
func encode(identifier, name string, sec, n int64) []byte {
	b := strconv.AppendInt(nil, sec, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, 0)
	return append(b, identifier...)
}

func decode(entry []byte) (identifier, name string, at time.Time, n int64, ok bool) {
	secB, rest, ok1 := bytes.Cut(entry, []byte{' '})
	nB, rest, ok2 := bytes.Cut(rest, []byte{' '})
	nameB, idB, ok3 := bytes.Cut(rest, []byte{0})
	sec, err1 := strconv.ParseInt(string(secB), 10, 64)
	n, err2 := strconv.ParseInt(string(nB), 10, 64)
	if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil {
		return "", "", time.Time{}, 0, false
	}
	return string(idB), string(nameB), time.Unix(sec, 0), n, true
}

// deliver adds one increment to all six periods, on Redis or in the
// cluster's database (the outbox's goroutine).
func (p *RRL) deliver(entry []byte) error {
	identifier, name, at, n, ok := decode(entry)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if p.redis != nil {
		keys := make([]string, len(plugin.PeriodNames))
		ttls := make([]time.Duration, len(plugin.PeriodNames))
		for per := range plugin.PeriodNames {
			keys[per] = p.redisKey(identifier, name, per, at)
			ttls[per] = time.Duration(plugin.PeriodSeconds[per]) * time.Second
		}
		return p.redis.Add(ctx, keys, n, ttls)
	}
	cells := make([]plugin.ResponseCell, len(plugin.PeriodNames))
	for per, pn := range plugin.PeriodNames {
		cells[per] = plugin.ResponseCell{Period: name + "_" + pn, Start: plugin.PeriodStart(per, at)}
	}
	return p.cluster.ResponseAdd(ctx, p.svcID, p.routeID, identifier, cells, n)
}

// number renders a count as Lua's tostring does for these values: an
// integer without a decimal point.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
