package opentelemetry

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// QueueBytes bounds each instance's export queue (queue.max_bytes when
// set); queue.max_entries bounds it in requests.
const QueueBytes = 16 << 20

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_opentelemetry_dropped_total",
	Help: "opentelemetry span exports dropped because the queue was full, the collector failed or the plugin was removed.", MaxSeries: 1,
}).With()

// hostname is service.instance.id.
var hostname, _ = os.Hostname()

// OTel is one plugin instance.
type OTel struct {
	// record: the request instrumentation is on (tracing_instrumentations)
	// and spans are exported to endpoint through box
	record   bool
	balancer bool // the balancer instrumentation: a span per try
	rate     float64
	endpoint string
	resource []attr
	box      *plugin.Poster
	close    sync.Once

	tracing     bool // a traces endpoint is set: Kong propagates only then
	prop        plugin.Propagation
	traceHeader string
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	pr := c.Propagation
	if pr.DefaultFormat == "" {
		pr.DefaultFormat = "w3c"
	}
	if c.TracesEndpoint == nil {
		c.TracesEndpoint = c.Endpoint
	}
	p := &OTel{tracing: c.TracesEndpoint != nil,
		prop: plugin.NewPropagation(c.HeaderType, pr.Extract, pr.Inject, pr.Clear, pr.DefaultFormat)}
	if c.HTTPResponseTraceID != nil {
		p.traceHeader = *c.HTTPResponseTraceID
	}
	tr := plugin.Tracing()
	if !p.tracing || !tr.Has("request") {
		return p, nil
	}
	p.record, p.balancer, p.rate = true, tr.Has("balancer"), tr.SamplingRate
	if c.SamplingRate != nil {
		p.rate = *c.SamplingRate
	}
	p.endpoint = *c.TracesEndpoint
	res := map[string]string{"service.name": "kong", "service.instance.id": hostname, "service.version": model.KongVersion}
	for k, v := range c.ResourceAttributes {
		res[k] = v
	}
	for _, k := range []string{"service.name", "service.instance.id", "service.version"} {
		p.resource = append(p.resource, attr{k, res[k]})
		delete(res, k)
	}
	for k, v := range res {
		p.resource = append(p.resource, attr{k, v})
	}
	maxBytes := int64(QueueBytes)
	if c.Queue.MaxBytes != nil && *c.Queue.MaxBytes > 0 {
		maxBytes = *c.Queue.MaxBytes
	}
	p.box = plugin.NewPoster(plugin.PosterOptions{Endpoint: p.endpoint, ContentType: "application/x-protobuf", Headers: c.Headers,
		ConnectTimeout: time.Duration(c.ConnectTimeout) * time.Millisecond,
		Timeout:        time.Duration(c.SendTimeout+c.ReadTimeout) * time.Millisecond,
		Entries:        c.Queue.MaxEntries, Bytes: maxBytes, OnDrop: dropped.Inc,
		Accept: func(status int) bool { return status == http.StatusOK }})
	if deps.Logger != nil {
		deps.Logger.Debug("opentelemetry: recording request spans", slog.String("endpoint", p.endpoint))
	}
	return p, nil
}

// Close stops the export queue (what it holds is still sent).
func (p *OTel) Close() {
	p.close.Do(func() {
		if p.box != nil {
			p.box.Stop()
		}
	})
}

// sample is Kong's probability sampler: the trace id's first 8 bytes, read
// little-endian, below rate × 2^64.
func sample(trace []byte, rate float64) bool {
	switch {
	case rate >= 1:
		return true
	case rate <= 0:
		return false
	}
	return float64(binary.LittleEndian.Uint64(trace[:8])) < rate*math.Pow(2, 64)
}

const (
	ctxTraceID = "opentelemetry.trace_id"
	ctxSpan    = "opentelemetry.span"
)

// rootSpan is the request span being recorded, and the id of the first
// balancer span (the one sent upstream) with the balancer instrumentation.
type rootSpan struct {
	trace, span, parent, balancer []byte
}

// Access reads the trace context, clears the configured headers, decides
// whether the request is sampled (never without the request
// instrumentation) and sends this hop's context upstream.
func (p *OTel) Access(c *plugin.Ctx) {
	if !p.tracing {
		return
	}
	h := c.Request.Header
	tc := p.prop.Read(h)
	span := make([]byte, 8)
	_, _ = rand.Read(span)
	trace := make([]byte, 16)
	var parent []byte
	if tc != nil && tc.TraceID != nil {
		trace = tc.TraceID
		parent = tc.SpanID
		if parent == nil {
			parent = tc.ParentID
		}
	} else {
		_, _ = rand.Read(trace)
	}
	sampled := false
	if p.record {
		if len(trace) == 8 {
			trace = append(make([]byte, 8), trace...)
		}
		// an unsampled parent decides; otherwise the probability sampler
		sampled = !(tc != nil && tc.Sampled != nil && !*tc.Sampled) && sample(trace, p.rate)
		if sampled {
			rs := &rootSpan{trace: trace, span: span, parent: parent}
			if p.balancer {
				// Kong sends the balancer span's id upstream: the try's
				// span is the upstream's parent
				rs.balancer = make([]byte, 8)
				_, _ = rand.Read(rs.balancer)
			}
			c.Set(ctxSpan, rs)
		}
	}
	injected := span
	if v, ok := c.Get(ctxSpan); ok && v.(*rootSpan).balancer != nil {
		injected = v.(*rootSpan).balancer
	}
	p.prop.Write(h, tc, trace, injected, parent, sampled)
	c.Set(ctxTraceID, trace)
}

// HeaderFilter names the trace id in the configured response header.
func (p *OTel) HeaderFilter(c *plugin.Ctx) {
	if p.traceHeader == "" {
		return
	}
	if v, ok := c.Get(ctxTraceID); ok {
		trace := v.([]byte)
		if len(trace) == 8 {
			trace = append(make([]byte, 8), trace...)
		}
		c.Header.Add(p.traceHeader, hex.EncodeToString(trace))
	}
}

// Log exports the request span of a sampled request: "kong", kind
// server, from the request's start to now, with Kong's attributes.
func (p *OTel) Log(c *plugin.Ctx) {
	v, ok := c.Get(ctxSpan)
	if !ok || p.box == nil {
		return
	}
	rs := v.(*rootSpan)
	r := c.Request
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	route := ""
	if c.Route != nil && len(c.Route.Paths) > 0 {
		route = c.Route.Paths[0]
	}
	start := c.Timing.Start
	if start.IsZero() {
		start = time.Now()
	}
	sp := span{traceID: rs.trace, spanID: rs.span, parentID: rs.parent, name: "kong", kind: 2,
		start: start.UnixNano(), end: time.Now().UnixNano(), attrs: []attr{
			{"http.method", r.Method},
			{"http.url", scheme + "://" + r.Host + plugin.RequestURI(r)},
			{"http.host", hostOnly(r.Host)},
			{"http.scheme", scheme},
			{"http.flavor", fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)},
			{"http.client_ip", c.ClientIP},
			{"net.peer.ip", peerIP(r)},
			{"kong.request.id", c.RequestID},
			{"http.status_code", int64(c.Status)},
			{"http.route", route},
		}}
	spans := []span{sp}
	if p.balancer {
		spans = append(spans, balancerSpans(c, rs)...)
	}
	p.box.Put(exportRequest(p.resource, spans))
}

// balancerSpans are Kong's kong.balancer spans: one per try, kind client,
// children of the request span; a try that did not give the answer is an
// error.
func balancerSpans(c *plugin.Ctx, rs *rootSpan) []span {
	tries := c.Timing.Tries
	out := make([]span, 0, len(tries))
	for i, tr := range tries {
		id := rs.balancer
		if i > 0 {
			id = make([]byte, 8)
			_, _ = rand.Read(id)
		}
		end := time.Now()
		switch {
		case i+1 < len(tries):
			end = tries[i+1].Start
		case c.Timing.Upstream >= 0:
			end = tr.Start.Add(tr.Balancer + c.Timing.Upstream)
		}
		sp := span{traceID: rs.trace, spanID: id, parentID: rs.span, name: "kong.balancer", kind: 3,
			start: tr.Start.UnixNano(), end: end.UnixNano(), attrs: []attr{
				{"try_count", int64(i + 1)},
				{"net.peer.ip", tr.IP},
				{"net.peer.port", int64(tr.Port)},
				{"net.peer.name", tr.IP},
			}}
		if i+1 < len(tries) || tr.Code == 0 {
			sp.status = 2
			if tr.Code > 0 {
				sp.attrs = append(sp.attrs, attr{"http.status_code", int64(tr.Code)})
			}
		}
		out = append(out, sp)
	}
	return out
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// peerIP is the address of the connection's other end.
func peerIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
