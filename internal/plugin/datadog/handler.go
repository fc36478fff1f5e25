package datadog

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// QueueBytes bounds each destination's queue in bytes (queue.max_bytes
// when set); queue.max_entries bounds it in requests.
const QueueBytes = 16 << 20

// The agent's address when host or port is null (Kong reads them from the
// environment, so that each node can send to the agent of its own host).
const (
	envHost = "KONG_DATADOG_AGENT_HOST"
	envPort = "KONG_DATADOG_AGENT_PORT"
)

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_datadog_dropped_total",
	Help: "datadog requests whose metrics were dropped because the destination's queue was full, the send failed, the sender had stopped or no agent address is set.", MaxSeries: 100,
}, "destination")

// Datadog is one plugin instance.
type Datadog struct {
	conf                        Config
	prefix                      string
	nameTag, statusTag, userTag string
	types                       []string // per metric: its type code
	dest                        string
	s                           *plugin.LineSink // nil without an address
	close                       sync.Once
}

var typeCodes = map[string]string{"counter": "c", "gauge": "g", "timer": "ms", "histogram": "h",
	"meter": "m", "set": "s", "distribution": "d"}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	p := &Datadog{conf: c, prefix: or(c.Prefix, "kong"), nameTag: or(c.ServiceNameTag, "name"),
		statusTag: or(c.StatusTag, "status"), userTag: or(c.ConsumerTag, "consumer")}
	for _, m := range c.Metrics {
		p.types = append(p.types, typeCodes[m.StatType])
	}
	host := os.Getenv(envHost)
	if c.Host != nil {
		host = *c.Host
	}
	port, err := strconv.Atoi(os.Getenv(envPort))
	if c.Port != nil {
		port, err = *c.Port, nil
	}
	if host == "" || err != nil {
		// Kong fails to send each entry, and logs it: so does this
		// instance (counted as dropped), rather than failing the route
		if deps.Logger != nil {
			deps.Logger.Error("datadog: no agent address: set config.host and config.port, or " + envHost + " and " + envPort)
		}
		return p, nil
	}
	p.dest = net.JoinHostPort(host, strconv.Itoa(port))
	maxBytes := int64(QueueBytes)
	if c.Queue.MaxBytes != nil && *c.Queue.MaxBytes > 0 {
		maxBytes = *c.Queue.MaxBytes
	}
	p.s = plugin.AcquireLineSink(plugin.LineSinkOptions{Kind: Name, Host: host, Port: port,
		Entries: c.Queue.MaxEntries, Bytes: maxBytes, OnDrop: dropped.With(p.dest).Inc})
	return p, nil
}

func or(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// Log queues the request's metrics; it never blocks.
func (p *Datadog) Log(c *plugin.Ctx) {
	if p.s == nil {
		dropped.With("").Inc()
		return
	}
	var b bytes.Buffer
	p.lines(&b, c)
	if b.Len() > 0 {
		p.s.Put(b.Bytes())
	}
}

// Close releases the destination's sender.
func (p *Datadog) Close() {
	p.close.Do(func() {
		if p.s != nil {
			p.s.Release()
		}
	})
}

var stats = map[string]string{"request_count": "request.count", "request_size": "request.size",
	"response_size": "response.size", "latency": "latency", "kong_latency": "kong_latency",
	"upstream_latency": "upstream_latency"}

// lines writes one DogStatsD line per metric:
// <prefix>.<stat>:<value>|<type>[|@<rate>]|#<name tag>:<service>,<status
// tag>:<status>[,<consumer tag>:<consumer>][,<metric's tags>].
func (p *Datadog) lines(b *bytes.Buffer, c *plugin.Ctx) {
	t := &c.Timing
	service := ""
	if s := c.Service; s != nil {
		service = s.Host
		if s.Name != nil {
			service = *s.Name
		}
		service = strings.ReplaceAll(service, ".", "_")
	}
	status := strconv.Itoa(c.Status)
	for i := range p.conf.Metrics {
		m := &p.conf.Metrics[i]
		var value int64
		switch m.Name {
		case "request_count":
			value = 1
		case "request_size":
			value = t.RequestSize
		case "response_size":
			value = t.ResponseSize
		case "latency":
			value = millis(t.Request)
		case "kong_latency":
			value = millis(t.Kong)
		case "upstream_latency":
			value = millis(t.Upstream)
		default:
			continue
		}
		b.WriteString(p.prefix)
		b.WriteByte('.')
		b.WriteString(stats[m.Name])
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(value, 10))
		b.WriteByte('|')
		b.WriteString(p.types[i])
		if m.SampleRate != nil && *m.SampleRate != 1 {
			b.WriteString("|@")
			b.WriteString(strconv.FormatFloat(*m.SampleRate, 'g', -1, 64))
		}
		b.WriteString("|#")
		b.WriteString(p.nameTag + ":" + service + "," + p.statusTag + ":" + status)
		if id := consumerID(c.Consumer, m.ConsumerIdentifier); id != "" {
			b.WriteString("," + p.userTag + ":" + id)
		}
		for _, tag := range m.Tags {
			b.WriteByte(',')
			b.WriteString(tag)
		}
		b.WriteByte('\n')
	}
}

// millis is a latency in whole milliseconds; -1 (Kong's value) when it is
// unknown, as an upstream latency without an upstream.
func millis(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

// consumerID is the consumer's identifier named by which ("" for none):
// its id with dashes as underscores, custom_id or username.
func consumerID(k *model.Consumer, which *string) string {
	if k == nil || which == nil {
		return ""
	}
	switch *which {
	case "consumer_id":
		return strings.ReplaceAll(k.ID, "-", "_")
	case "custom_id":
		if k.CustomID != nil {
			return *k.CustomID
		}
	case "username":
		if k.Username != nil {
			return *k.Username
		}
	}
	return ""
}
