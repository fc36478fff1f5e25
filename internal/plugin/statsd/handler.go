package statsd

import (
	"bytes"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// QueueBytes bounds each destination's queue in bytes (queue.max_bytes
// when set); queue.max_entries bounds it in requests.
const QueueBytes = 16 << 20

// workspace is the one workspace sluice has; both workspace identifiers
// name it.
const workspace = "default"

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_statsd_dropped_total",
	Help: "statsd requests whose metrics were dropped because the destination's queue was full, the send failed or the sender had stopped.", MaxSeries: 100,
}, "destination")

// hostname is the node's host name with dots as underscores (Kong's
// hostname_in_prefix and node tag).
var hostname = func() string {
	h, _ := os.Hostname()
	return strings.ReplaceAll(h, ".", "_")
}()

// StatsD is one plugin instance.
type StatsD struct {
	conf   Config
	prefix string
	ranges [][2]int
	s      *plugin.LineSink
	close  sync.Once
}

// statusRange is Kong's reading of an allow_status_codes entry: the first
// two three-digit numbers around a dash.
var statusRange = regexp.MustCompile(`(\d\d\d)-(\d\d\d)`)

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	p := &StatsD{conf: c, prefix: c.Prefix}
	if p.prefix == "" {
		p.prefix = "kong"
	}
	if c.HostnameInPrefix && c.TagStyle == nil {
		p.prefix += ".node." + hostname
	}
	for _, r := range c.AllowStatusCodes {
		if m := statusRange.FindStringSubmatch(r); m != nil {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			p.ranges = append(p.ranges, [2]int{lo, hi})
		}
	}
	maxBytes := int64(QueueBytes)
	if c.Queue.MaxBytes != nil && *c.Queue.MaxBytes > 0 {
		maxBytes = *c.Queue.MaxBytes
	}
	p.s = plugin.AcquireLineSink(plugin.LineSinkOptions{Kind: Name, Host: c.Host, Port: c.Port, TCP: c.UseTCP,
		PacketSize: int(c.UDPPacketSize), Entries: c.Queue.MaxEntries, Bytes: maxBytes,
		OnDrop: dropped.With(net.JoinHostPort(c.Host, strconv.Itoa(c.Port))).Inc})
	return p, nil
}

// Log queues the request's metrics; it never blocks.
func (p *StatsD) Log(c *plugin.Ctx) {
	if !p.allowed(c.Status) {
		return
	}
	var b bytes.Buffer
	p.lines(&b, c)
	if b.Len() > 0 {
		p.s.Put(b.Bytes())
	}
}

// Close releases the destination's sender.
func (p *StatsD) Close() { p.close.Do(p.s.Release) }

// allowed: no list allows every status; an empty one none, as in Kong.
func (p *StatsD) allowed(status int) bool {
	if p.conf.AllowStatusCodes == nil {
		return true
	}
	for _, r := range p.ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

var typeCodes = map[string]string{"counter": "c", "gauge": "g", "timer": "ms", "histogram": "h", "meter": "m", "set": "s"}

// lines writes the request's metrics, one per line.
func (p *StatsD) lines(b *bytes.Buffer, c *plugin.Ctx) {
	t := &c.Timing
	latency := max(t.Request.Milliseconds(), 0)
	kongLatency := max(t.Kong.Milliseconds(), 0)
	upstream := int64(-1)
	if t.Upstream >= 0 {
		upstream = t.Upstream.Milliseconds()
	}
	status := strconv.Itoa(c.Status)
	for i := range p.conf.Metrics {
		m := &p.conf.Metrics[i]
		var value string
		switch m.Name {
		case "request_count":
			value = "1"
		case "request_size":
			value = strconv.FormatInt(t.RequestSize, 10)
		case "response_size":
			value = strconv.FormatInt(t.ResponseSize, 10)
		case "latency":
			value = strconv.FormatInt(latency, 10)
		case "kong_latency":
			value = strconv.FormatInt(kongLatency, 10)
		case "upstream_latency":
			if upstream < 0 {
				continue
			}
			value = strconv.FormatInt(upstream, 10)
		}
		if p.conf.TagStyle != nil {
			if value != "" {
				p.tagged(b, c, m, suffixes[m.Name], value, status)
			}
			continue // the per-status and per-user metrics have no tagged form
		}
		scope := p.scope(c, m)
		consumer := p.consumerID(c, m)
		switch m.Name {
		case "status_count":
			p.line(b, scope+".status."+status, "1", "c", m.SampleRate)
		case "unique_users":
			if consumer != "" {
				p.line(b, scope+".user.uniques", consumer, "s", nil)
			}
		case "request_per_user":
			if consumer != "" {
				p.line(b, scope+".user."+consumer+".request.count", "1", "c", m.SampleRate)
			}
		case "status_count_per_user":
			if consumer != "" {
				p.line(b, scope+".user."+consumer+".status."+status, "1", "c", m.SampleRate)
			}
		case "status_count_per_workspace":
			if c.Service != nil { // Kong sends six metrics for a request no route matched
				p.line(b, scope+".workspace."+workspace+".status."+status, "1", "c", m.SampleRate)
			}
		case "status_count_per_user_per_route":
			if consumer != "" && c.Route != nil {
				p.line(b, "route."+c.Route.ID+".user."+consumer+".status."+status, "1", "c", m.SampleRate)
			}
		case "shdict_usage":
			// sluice has no shared dicts (see README)
		default:
			if value != "" {
				p.line(b, scope+"."+suffixes[m.Name], value, typeCodes[m.StatType], m.SampleRate)
			}
		}
	}
}

var suffixes = map[string]string{"request_count": "request.count", "request_size": "request.size",
	"response_size": "response.size", "latency": "latency", "kong_latency": "kong_latency",
	"upstream_latency": "upstream_latency"}

// line writes "<prefix>.<stat>:<value>|<type>[|@<rate>]".
func (p *StatsD) line(b *bytes.Buffer, stat, value, typ string, rate *float64) {
	b.WriteString(p.prefix)
	b.WriteByte('.')
	b.WriteString(stat)
	b.WriteByte(':')
	b.WriteString(value)
	b.WriteByte('|')
	b.WriteString(typ)
	writeRate(b, rate)
	b.WriteByte('\n')
}

func writeRate(b *bytes.Buffer, rate *float64) {
	if rate != nil && *rate != 1 {
		b.WriteString("|@")
		b.WriteString(strconv.FormatFloat(*rate, 'g', -1, 64))
	}
}

// scope is "service.<identifier>" (dots as underscores; "unnamed" without
// a value) or "global.unmatched" without a service.
func (p *StatsD) scope(c *plugin.Ctx, m *Metric) string {
	if c.Service == nil {
		return "global.unmatched"
	}
	id := p.serviceID(c, m)
	if id == "" {
		return "service.unnamed"
	}
	return "service." + strings.ReplaceAll(id, ".", "_")
}

func (p *StatsD) serviceID(c *plugin.Ctx, m *Metric) string {
	s := c.Service
	if s == nil {
		return ""
	}
	which := p.conf.ServiceIdentifierDefault
	if m.ServiceIdentifier != nil {
		which = *m.ServiceIdentifier
	}
	switch which {
	case "service_id":
		return s.ID
	case "service_host":
		return s.Host
	case "service_name":
		if s.Name != nil {
			return *s.Name
		}
		return ""
	}
	if s.Name != nil {
		return *s.Name
	}
	return s.Host
}

func (p *StatsD) consumerID(c *plugin.Ctx, m *Metric) string {
	k := c.Consumer
	if k == nil {
		return ""
	}
	which := p.conf.ConsumerIdentifierDefault
	if m.ConsumerIdentifier != nil {
		which = *m.ConsumerIdentifier
	}
	switch which {
	case "consumer_id":
		return k.ID
	case "username":
		if k.Username != nil {
			return *k.Username
		}
	default:
		if k.CustomID != nil {
			return *k.CustomID
		}
	}
	return ""
}

// tagged writes a metric of tag mode: no scope in the name, the service,
// route, workspace, consumer, node and status as tags (none at all when
// the service identifier has no value).
func (p *StatsD) tagged(b *bytes.Buffer, c *plugin.Ctx, m *Metric, stat, value, status string) {
	var tags [][2]string
	if svc := p.serviceID(c, m); svc != "" {
		tags = append(tags, [2]string{"service", svc})
		if c.Route != nil {
			route := c.Route.ID
			if c.Route.Name != nil {
				route = *c.Route.Name
			}
			tags = append(tags, [2]string{"route", route})
		}
		tags = append(tags, [2]string{"workspace", workspace})
		if consumer := p.consumerID(c, m); consumer != "" {
			tags = append(tags, [2]string{"consumer", consumer})
		}
		tags = append(tags, [2]string{"node", hostname}, [2]string{"status", status})
	}
	typ := typeCodes[m.StatType]
	name := p.prefix + "." + stat
	join := func(sep string) string {
		parts := make([]string, len(tags))
		for i, t := range tags {
			parts[i] = t[0] + sep + t[1]
		}
		return strings.Join(parts, ",")
	}
	switch {
	case len(tags) == 0:
		b.WriteString(name + ":" + value + "|" + typ)
		writeRate(b, m.SampleRate)
	case *p.conf.TagStyle == "dogstatsd":
		b.WriteString(name + ":" + value + "|" + typ)
		writeRate(b, m.SampleRate)
		b.WriteString("|#" + join(":"))
	case *p.conf.TagStyle == "influxdb":
		b.WriteString(name + "," + join("=") + ":" + value + "|" + typ)
		writeRate(b, m.SampleRate)
	case *p.conf.TagStyle == "librato":
		b.WriteString(name + "#" + join("=") + ":" + value + "|" + typ)
		writeRate(b, m.SampleRate)
	default: // signalfx
		b.WriteString(name + "[" + join("=") + "]:" + value + "|" + typ)
		writeRate(b, m.SampleRate)
	}
	b.WriteByte('\n')
}
