package zipkin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// QueueBytes bounds an instance's queue of reports when queue.max_bytes
// is not set.
const QueueBytes = 8 << 20

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_zipkin_dropped_total",
	Help: "Zipkin reports dropped: the queue was full or the collector did not take them.",
}).With()

// Zipkin is one plugin instance.
type Zipkin struct {
	cfg   Config
	prop  plugin.Propagation
	box   *plugin.Poster
	log   *slog.Logger
	close sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	pr := c.Propagation
	def := pr.DefaultFormat
	if pr.Extract == nil && pr.Inject == nil && pr.Clear == nil {
		def = c.DefaultHeaderType // the deprecated options decide (Kong's get_plugin_params)
	}
	p := &Zipkin{cfg: c, prop: plugin.NewPropagation(c.HeaderType, pr.Extract, pr.Inject, pr.Clear, def), log: deps.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	if c.HTTPEndpoint == nil {
		return p, nil // spans are made, not sent (Kong's behaviour)
	}
	maxBytes := int64(QueueBytes)
	if c.Queue.MaxBytes != nil && *c.Queue.MaxBytes > 0 {
		maxBytes = *c.Queue.MaxBytes
	}
	p.box = plugin.NewPoster(plugin.PosterOptions{Endpoint: *c.HTTPEndpoint, ContentType: "application/json",
		ConnectTimeout: time.Duration(c.ConnectTimeout) * time.Millisecond,
		Timeout:        time.Duration(c.SendTimeout+c.ReadTimeout) * time.Millisecond,
		Entries:        c.Queue.MaxEntries, Bytes: maxBytes, OnDrop: dropped.Inc,
		OnError: func(err error) {
			var se *plugin.StatusError
			if errors.As(err, &se) {
				p.log.Error(fmt.Sprintf("zipkin server responded unexpectedly: %d %s", se.Status, http.StatusText(se.Status)))
				return
			}
			p.log.Error("zipkin request failed: " + err.Error())
		}})
	return p, nil
}

// Close stops the report queue (what it holds is still sent).
func (p *Zipkin) Close() {
	p.close.Do(func() {
		if p.box != nil {
			p.box.Stop()
		}
	})
}

const ctxKey = "zipkin.request"

// state is what the phases record of one request.
type state struct {
	trace       []byte // as used in spans (an extracted id padded to 16 bytes)
	span        []byte // the request span
	parent      []byte
	proxy       []byte // the proxy span, sent upstream
	sampled     bool
	accessStart time.Time
	headerStart time.Time
	headerEnd   time.Time
}

func randomID(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func pad16(b []byte) []byte {
	if len(b) == 16 {
		return b
	}
	return append(make([]byte, 16-len(b)), b...)
}

// begin makes the request's trace state from its incoming context (nil
// when none came): the trace id, the request span (a B3 or Jaeger caller's
// span id is the request span's own, as in Kong), the proxy span and the
// sampling decision. It returns the trace id to send upstream: an
// incoming one keeps its size.
func (p *Zipkin) begin(c *plugin.Ctx, tc *plugin.TraceContext, now time.Time) (*state, []byte) {
	st := &state{accessStart: now, proxy: randomID(8)}
	var upstream []byte
	if tc != nil && tc.TraceID != nil {
		upstream = tc.TraceID
		st.trace = pad16(tc.TraceID)
		if tc.Format == "b3" || tc.Format == "jaeger" {
			st.span, st.parent = tc.SpanID, tc.ParentID
		} else {
			st.parent = tc.SpanID
		}
	} else {
		st.trace = randomID(p.cfg.TraceIDByteCount)
		upstream = st.trace
	}
	if st.span == nil {
		st.span = randomID(8)
	}
	if tc != nil && tc.Sampled != nil {
		st.sampled = *tc.Sampled
	} else {
		st.sampled = mrand.Float64() < p.cfg.SampleRatio
	}
	c.Set(ctxKey, st)
	return st, upstream
}

// stateOf returns the request's trace state; a request whose access phase
// did not reach this plugin (an earlier plugin answered) gets one now, so
// that it is still reported, as in Kong.
func (p *Zipkin) stateOf(c *plugin.Ctx) *state {
	if v, ok := c.Get(ctxKey); ok {
		return v.(*state)
	}
	st, _ := p.begin(c, plugin.ExtractTrace(c.Request.Header, p.prop.Extract), time.Now())
	return st
}

// Access reads the trace context, decides sampling, starts the proxy span
// and sends its context upstream.
func (p *Zipkin) Access(c *plugin.Ctx) {
	h := c.Request.Header
	tc := p.prop.Read(h)
	st, upstream := p.begin(c, tc, time.Now())
	p.prop.Write(h, tc, upstream, st.proxy, st.span, st.sampled)
}

// HeaderFilter notes the response phase and names the trace id in the
// configured response header.
func (p *Zipkin) HeaderFilter(c *plugin.Ctx) {
	st := p.stateOf(c)
	st.headerStart = time.Now()
	if p.cfg.TraceIDHeader != nil {
		c.Header.Add(*p.cfg.TraceIDHeader, hex.EncodeToString(st.trace))
	}
	st.headerEnd = time.Now()
}

// span is one Zipkin v2 span.
type span struct {
	TraceID        string            `json:"traceId"`
	Name           string            `json:"name"`
	ParentID       string            `json:"parentId,omitempty"`
	ID             string            `json:"id"`
	Kind           string            `json:"kind"`
	Timestamp      int64             `json:"timestamp"`
	Duration       int64             `json:"duration"`
	LocalEndpoint  endpoint          `json:"localEndpoint"`
	RemoteEndpoint *endpoint         `json:"remoteEndpoint"`
	Tags           map[string]string `json:"tags,omitempty"`
	Annotations    []annotation      `json:"annotations,omitempty"`
}

type endpoint struct {
	ServiceName string `json:"serviceName,omitempty"`
	IPv4        string `json:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty"`
	Port        int    `json:"port,omitempty"`
}

type annotation struct {
	Value     string `json:"value"`
	Timestamp int64  `json:"timestamp"`
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// remote is a remoteEndpoint: nil (JSON null) when it names nothing.
func remote(service, ip string, port int) *endpoint {
	if service == "" && port == 0 {
		return nil
	}
	e := &endpoint{ServiceName: service, Port: port}
	if strings.Contains(ip, ":") {
		e.IPv6 = ip
	} else {
		e.IPv4 = ip
	}
	return e
}

// Log reports a sampled request's spans: the balancer tries, the proxy
// span and the request span, in Kong's order.
func (p *Zipkin) Log(c *plugin.Ctx) {
	st := p.stateOf(c)
	if !st.sampled || p.box == nil {
		return
	}
	now := time.Now()
	r := c.Request
	name := r.Method
	if p.cfg.HTTPSpanName == "method_path" {
		name += " " + r.URL.EscapedPath()
	}
	hexTrace := hex.EncodeToString(st.trace)
	local := endpoint{ServiceName: p.cfg.LocalServiceName}
	defaultService := ""
	if p.cfg.DefaultServiceName != nil {
		defaultService = *p.cfg.DefaultServiceName
	}
	serviceName := defaultService
	svcTags := map[string]string{}
	if c.Service != nil {
		svcTags["kong.service"] = c.Service.ID
		if c.Service.Name != nil {
			svcTags["kong.service_name"] = *c.Service.Name
			serviceName = *c.Service.Name
		}
	}
	if c.Route != nil {
		svcTags["kong.route"] = c.Route.ID
		if c.Route.Name != nil {
			svcTags["kong.route_name"] = *c.Route.Name
		}
	}
	annotations := p.cfg.PhaseFlavor == "annotations"
	start := c.Timing.Start
	if start.IsZero() {
		start = st.accessStart
	}
	tries := c.Timing.Tries
	var spans []span

	// balancer tries
	for i, tr := range tries {
		end := now
		switch {
		case i+1 < len(tries):
			end = tries[i+1].Start
		case c.Timing.Upstream >= 0:
			end = tr.Start.Add(tr.Balancer + c.Timing.Upstream)
		}
		tags := map[string]string{"kong.balancer.try": strconv.Itoa(i + 1)}
		for k, v := range svcTags {
			tags[k] = v
		}
		if i+1 < len(tries) {
			tags["error"] = "true"
			tags["kong.balancer.state"] = "failed"
			if tr.Code > 0 {
				tags["http.status_code"] = strconv.Itoa(tr.Code)
			}
		}
		spans = append(spans, span{TraceID: hexTrace, Name: name + " (balancer try " + strconv.Itoa(i+1) + ")",
			ParentID: hex.EncodeToString(st.span), ID: hex.EncodeToString(randomID(8)), Kind: "CLIENT",
			Timestamp: micros(tr.Start), Duration: max(micros(end)-micros(tr.Start), 0), LocalEndpoint: local,
			RemoteEndpoint: remote(serviceName, tr.IP, tr.Port), Tags: tags})
	}

	// the proxy span: from access to the end of the response
	proxy := span{TraceID: hexTrace, Name: name + " (proxy)", ParentID: hex.EncodeToString(st.span),
		ID: hex.EncodeToString(st.proxy), Kind: "CLIENT", Timestamp: micros(st.accessStart),
		Duration: max(micros(now)-micros(st.accessStart), 0), LocalEndpoint: local}
	if c.Service != nil {
		proxy.Tags = map[string]string{}
		for k, v := range svcTags {
			proxy.Tags[k] = v
		}
		ip, port := "", 0
		if n := len(tries); n > 0 {
			ip, port = tries[n-1].IP, tries[n-1].Port
		}
		if c.Service.Host != "" {
			proxy.Tags["peer.hostname"] = c.Service.Host
		}
		proxy.RemoteEndpoint = remote(serviceName, ip, port)
	}
	accessEnd := st.accessStart
	if len(tries) > 0 {
		accessEnd = tries[0].Start
	}
	headerStart, headerEnd := st.headerStart, st.headerEnd
	if headerStart.IsZero() {
		headerStart, headerEnd = now, now
	}
	if annotations {
		proxy.Annotations = []annotation{{"kas", micros(st.accessStart)}, {"kaf", micros(accessEnd)},
			{"khs", micros(headerStart)}, {"khf", micros(headerEnd)}, {"kbs", micros(headerEnd)}, {"kbf", micros(now)}}
	} else {
		if proxy.Tags == nil {
			proxy.Tags = map[string]string{}
		}
		ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
		proxy.Tags["kong.access.duration_ms"] = ms(accessEnd.Sub(st.accessStart))
		proxy.Tags["kong.header_filter.duration_ms"] = ms(headerEnd.Sub(headerStart))
		proxy.Tags["kong.body_filter.duration_ms"] = ms(now.Sub(headerEnd))
	}
	spans = append(spans, proxy)

	// the request span
	tags := map[string]string{"lc": "kong", "http.method": r.Method, "http.host": hostOnly(r.Host),
		"http.path": r.URL.EscapedPath()}
	if r.ProtoMajor > 0 {
		if r.ProtoMajor >= 2 {
			tags["http.protocol"] = "HTTP/" + strconv.Itoa(r.ProtoMajor)
		} else {
			tags["http.protocol"] = "HTTP/" + strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
		}
	}
	for _, t := range p.cfg.StaticTags {
		tags[t.Name] = t.Value
	}
	if hv := r.Header.Values(p.cfg.TagsHeader); len(hv) > 0 {
		parsed, bad := ParseTags(hv)
		for k, v := range parsed {
			tags[k] = v
		}
		if len(bad) > 0 {
			p.log.Warn("Could not parse the following Zipkin tags: " + strings.Join(bad, ", "))
		}
	}
	if c.Status > 0 {
		tags["http.status_code"] = strconv.Itoa(c.Status)
	}
	if c.Consumer != nil {
		tags["kong.consumer"] = c.Consumer.ID
	}
	if p.cfg.IncludeCredential && c.Credential != "" && !c.Anonymous() {
		tags["kong.credential"] = c.Credential
	}
	if id := plugin.NodeID(); id != "" {
		tags["kong.node.id"] = id
	}
	for k, v := range tags {
		if v == "" {
			delete(tags, k) // Kong drops empty values
		}
	}
	clientPort := 0
	if _, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		clientPort, _ = strconv.Atoi(port)
	}
	req := span{TraceID: hexTrace, Name: name, ID: hex.EncodeToString(st.span), Kind: "SERVER",
		Timestamp: micros(start), Duration: max(micros(now)-micros(start), 0), LocalEndpoint: local,
		RemoteEndpoint: remote(defaultService, c.ClientIP, clientPort), Tags: tags}
	if st.parent != nil {
		req.ParentID = hex.EncodeToString(st.parent)
	}
	if annotations {
		req.Annotations = []annotation{{"krs", micros(start)}, {"krf", micros(st.accessStart)}}
	} else {
		req.Tags["kong.rewrite.duration_ms"] = strconv.FormatInt(st.accessStart.Sub(start).Milliseconds(), 10)
	}
	spans = append(spans, req)
	body, err := json.Marshal(spans)
	if err != nil {
		return
	}
	p.box.Put(body)
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(h)
}

// ParseTags reads Kong's Zipkin-Tags header values: "name=value" items
// separated by ";", blanks around names and values trimmed; a name has no
// blanks and a value is not empty. It returns the tags and the items it
// could not read.
func ParseTags(values []string) (map[string]string, []string) {
	tags := map[string]string{}
	var bad []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ";") {
			if item == "" {
				continue
			}
			name, value, ok := strings.Cut(item, "=")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if !ok || name == "" || value == "" || strings.ContainsAny(name, " \t\r\n\f\v") {
				bad = append(bad, item)
				continue
			}
			tags[name] = value
		}
	}
	return tags, bad
}
