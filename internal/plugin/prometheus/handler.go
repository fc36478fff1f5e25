package prometheus

import (
	"net/http"
	"strconv"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong's histogram buckets (exporter.lua), in milliseconds.
var (
	kongLatencyBuckets     = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000}
	upstreamLatencyBuckets = []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
)

// The metric families, registered once in the default registry so that
// they survive configuration reloads.
var (
	reg = metrics.Default()

	requests = reg.NewCounterVec(metrics.Opts{Name: "kong_http_requests_total",
		Help: "HTTP status codes per consumer/service/route in Kong", MaxSeries: 10000},
		"service", "route", "code", "source", "consumer")
	// Registered with Kong's names and buckets so dashboards find them; not
	// observed yet: the proxy does not hand its timings to plugins.
	_ = reg.NewHistogramVec(metrics.Opts{Name: "kong_kong_latency_ms",
		Help: "Latency added by Kong and enabled plugins for each service/route in Kong"},
		kongLatencyBuckets, "service", "route")
	_ = reg.NewHistogramVec(metrics.Opts{Name: "kong_upstream_latency_ms",
		Help: "Latency added by upstream response for each service/route in Kong"},
		upstreamLatencyBuckets, "service", "route")
	requestLatency = reg.NewHistogramVec(metrics.Opts{Name: "kong_request_latency_ms",
		Help: "Total latency incurred during requests for each service/route in Kong"},
		upstreamLatencyBuckets, "service", "route")
	bandwidth = reg.NewCounterVec(metrics.Opts{Name: "kong_bandwidth_bytes",
		Help: "Total bandwidth (ingress/egress) throughput in bytes", MaxSeries: 10000},
		"service", "route", "direction", "consumer")
	datastoreReachable = reg.NewGaugeVec(metrics.Opts{Name: "kong_datastore_reachable",
		Help: "Datastore reachable from Kong, 0 is unreachable"})
)

func init() {
	// sluice serves its configuration from memory: the datastore is always
	// reachable (Kong's DB-less mode reports 1 too).
	datastoreReachable.With().Set(1)
}

// startKey is the per-request key of the time the access phase saw.
const startKey = "prometheus.start"

// Prometheus is one plugin instance.
type Prometheus struct {
	conf Config
	now  func() time.Time
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	if c.UpstreamHealthMetrics && deps.Logger != nil {
		deps.Logger.Warn("prometheus: upstream_health_metrics is accepted but kong_upstream_target_health is not exported yet")
	}
	return &Prometheus{conf: c, now: time.Now}, nil
}

// Rewrite notes when the request reached the plugin, for the latency
// histograms; it runs for global instances only, before every access-phase
// plugin, so requests other plugins terminate are measured too.
func (p *Prometheus) Rewrite(c *plugin.Ctx) { p.mark(c) }

// Access notes the start for route- and service-scoped instances.
func (p *Prometheus) Access(c *plugin.Ctx) { p.mark(c) }

func (p *Prometheus) mark(c *plugin.Ctx) {
	if !p.conf.LatencyMetrics {
		return
	}
	if _, ok := c.Get(startKey); !ok {
		c.Set(startKey, p.now())
	}
}

// Log records the request. Requests without a service are not recorded
// (as in Kong).
func (p *Prometheus) Log(c *plugin.Ctx) {
	if c.Service == nil {
		return
	}
	service := c.Service.Host
	if c.Service.Name != nil {
		service = *c.Service.Name
	}
	route := ""
	if c.Route != nil {
		route = c.Route.ID
		if c.Route.Name != nil {
			route = *c.Route.Name
		}
	}
	consumer := ""
	if p.conf.PerConsumer && c.Consumer != nil && c.Consumer.Username != nil {
		consumer = *c.Consumer.Username
	}
	if p.conf.StatusCodeMetrics && c.Status > 0 {
		source := "service"
		if c.Exited() != nil {
			source = "kong"
		}
		requests.With(service, route, statusText(c.Status), source, consumer).Inc()
	}
	if p.conf.BandwidthMetrics {
		if n := requestSize(c.Request); n > 0 {
			bandwidth.With(service, route, "ingress", consumer).Add(float64(n))
		}
		if n := responseSize(c); n > 0 {
			bandwidth.With(service, route, "egress", consumer).Add(float64(n))
		}
	}
	if p.conf.LatencyMetrics {
		if v, ok := c.Get(startKey); ok {
			if start, ok := v.(time.Time); ok {
				ms := float64(p.now().Sub(start).Microseconds()) / 1000
				requestLatency.With(service, route).Observe(ms)
			}
		}
	}
}

var statusTexts [600]string

func init() {
	for i := 100; i < len(statusTexts); i++ {
		statusTexts[i] = strconv.Itoa(i)
	}
}

// statusText is strconv.Itoa without allocating for 100..599.
func statusText(code int) string {
	if code >= 100 && code < len(statusTexts) {
		return statusTexts[code]
	}
	return strconv.Itoa(code)
}

// requestSize estimates nginx's $request_length: request line, headers and
// body (Content-Length; 0 when unknown).
func requestSize(r *http.Request) int64 {
	if r == nil {
		return 0
	}
	n := int64(len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2)
	n += headerSize(r.Header) + 2
	if r.Host != "" && r.Header.Get("Host") == "" {
		n += int64(len("Host: ") + len(r.Host) + 2)
	}
	if r.ContentLength > 0 {
		n += r.ContentLength
	}
	return n
}

// responseSize estimates nginx's $bytes_sent: status line, headers and the
// Content-Length body.
func responseSize(c *plugin.Ctx) int64 {
	if c.Header == nil {
		return 0
	}
	n := int64(len("HTTP/1.1 200 OK\r\n")) + headerSize(c.Header) + 2
	if cl := c.Header.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v > 0 {
			n += v
		}
	}
	return n
}

func headerSize(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + 2 + len(v) + 2)
		}
	}
	return n
}
