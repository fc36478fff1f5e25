package prometheus

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Kong's histogram buckets in milliseconds (kong/plugins/prometheus/
// exporter.lua, 3.x: KONG_LATENCY_BUCKETS, raised to 6000 in 3.9 by
// Kong/kong#13588, and UPSTREAM_LATENCY_BUCKETS, also used for the request
// latency).
var (
	kongLatencyBuckets     = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000}
	upstreamLatencyBuckets = []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
)

// The metric families, registered once in the default registry so that
// they survive configuration reloads.
var (
	reg = metrics.Default()

	requests = reg.NewCounterVec(metrics.Opts{Name: "kong_http_requests_total",
		Help: "HTTP status codes per consumer/service/route in Kong", MaxSeries: 10000},
		"service", "route", "code", "source", "consumer")
	kongLatency = reg.NewHistogramVec(metrics.Opts{Name: "kong_kong_latency_ms",
		Help: "Latency added by Kong and enabled plugins for each service/route in Kong"},
		kongLatencyBuckets, "service", "route")
	upstreamLatency = reg.NewHistogramVec(metrics.Opts{Name: "kong_upstream_latency_ms",
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

	// The AI metrics (ai_metrics), fed by the AI plugins' calls with
	// log_statistics on. The cache and embeddings labels are for Kong
	// Enterprise's semantic cache and are always empty here.
	aiLabels   = []string{"ai_provider", "ai_model", "cache_status", "vector_db", "embeddings_provider", "embeddings_model", "workspace"}
	aiRequests = reg.NewCounterVec(metrics.Opts{Name: "kong_ai_llm_requests_total", Help: "AI requests total per ai_provider in Kong"}, aiLabels...)
	aiCost     = reg.NewCounterVec(metrics.Opts{Name: "kong_ai_llm_cost_total", Help: "AI requests cost per ai_provider/cache in Kong"}, aiLabels...)
	aiLatency  = reg.NewHistogramVec(metrics.Opts{Name: "kong_ai_llm_provider_latency_ms", Help: "LLM response Latency for each AI plugins per ai_provider in Kong"}, aiLatencyBuckets, aiLabels...)
	aiTokens   = reg.NewCounterVec(metrics.Opts{Name: "kong_ai_llm_tokens_total", Help: "AI requests cost per ai_provider/cache in Kong"}, append(append([]string(nil), aiLabels[:6]...), "token_type", "workspace")...)
)

// maxAILabel bounds the ai_model label, in bytes.
const maxAILabel = 256

// aiLatencyBuckets are Kong's for kong_ai_llm_provider_latency_ms.
var aiLatencyBuckets = []float64{250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 10000, 30000, 60000}

func init() {
	// sluice serves its configuration from memory: the datastore is always
	// reachable (Kong's DB-less mode reports 1 too).
	datastoreReachable.With().Set(1)
}

// healthInstances counts the live instances with upstream_health_metrics:
// kong_upstream_target_health is written while it is above zero. (Kong
// keeps exporting until a restart once an instance turned it on; here it
// stops when the last such instance is closed.)
var healthInstances atomic.Int64

// Prometheus is one plugin instance.
type Prometheus struct {
	conf  Config
	close sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	if c.UpstreamHealthMetrics {
		healthInstances.Add(1)
	}
	return &Prometheus{conf: c}, nil
}

// Close stops counting the instance for upstream_health_metrics.
func (p *Prometheus) Close() {
	p.close.Do(func() {
		if p.conf.UpstreamHealthMetrics {
			healthInstances.Add(-1)
		}
	})
}

// Log records the request from the proxy's measurements (Ctx.Timing), as
// Kong's exporter does from kong.log.serialize(). Requests without a
// service are recorded with an empty service label (Kong 3.6+,
// Kong/kong#11781).
func (p *Prometheus) Log(c *plugin.Ctx) {
	service := ""
	if c.Service != nil {
		service = c.Service.Host
		if c.Service.Name != nil {
			service = *c.Service.Name
		}
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
	t := &c.Timing
	if p.conf.BandwidthMetrics {
		if t.RequestSize > 0 {
			bandwidth.With(service, route, "ingress", consumer).Add(float64(t.RequestSize))
		}
		if t.ResponseSize > 0 {
			bandwidth.With(service, route, "egress", consumer).Add(float64(t.ResponseSize))
		}
	}
	if p.conf.StatusCodeMetrics && c.Status > 0 {
		source := "service"
		if c.Exited() != nil {
			source = "kong"
		}
		requests.With(service, route, statusText(c.Status), source, consumer).Inc()
	}
	if p.conf.AIMetrics {
		for _, u := range c.AIUsages() {
			// The model may come from the client's body or a header:
			// bound the label's size.
			aiModel := u.Model
			if len(aiModel) > maxAILabel {
				aiModel = aiModel[:maxAILabel]
			}
			l := []string{u.Provider, aiModel, "", "", "", "", "default"}
			aiRequests.With(l...).Inc()
			if u.Cost > 0 {
				aiCost.With(l...).Add(u.Cost)
			}
			if u.LatencyMS > 0 {
				aiLatency.With(l...).Observe(float64(u.LatencyMS))
			}
			for _, tk := range []struct {
				typ string
				n   float64
			}{{"prompt_tokens", u.PromptTokens}, {"completion_tokens", u.CompletionTokens}, {"total_tokens", u.TotalTokens}} {
				if tk.n > 0 {
					aiTokens.With(u.Provider, aiModel, "", "", "", "", tk.typ, "default").Add(tk.n)
				}
			}
		}
	}
	// A Timing without a start was not filled in by a proxy: nothing was
	// measured.
	if p.conf.LatencyMetrics && !t.Start.IsZero() {
		// Kong observes the serializer's whole milliseconds; a negative
		// value is "not measured" (latencies.proxy is -1 when no upstream
		// answered) and is not observed.
		if t.Request >= 0 {
			requestLatency.With(service, route).Observe(ms(t.Request))
		}
		if t.Upstream >= 0 {
			upstreamLatency.With(service, route).Observe(ms(t.Upstream))
		}
		if t.Kong >= 0 {
			kongLatency.With(service, route).Observe(ms(t.Kong))
		}
	}
}

// ms is d in whole milliseconds, as Kong's latencies.
func ms(d time.Duration) float64 { return float64(d.Milliseconds()) }

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
