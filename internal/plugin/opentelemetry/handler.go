package opentelemetry

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// legacyExtract is what header_type "preserve" (and the other legacy
// values) reads: every format, in Kong's order.
var legacyExtract = []string{"b3", "w3c", "jaeger", "ot", "datadog", "aws", "gcp"}

// OTel is one plugin instance.
type OTel struct {
	tracing       bool // a traces endpoint is set: Kong propagates only then
	extract       []string
	inject        []string
	clear         []string
	defaultFormat string
	traceHeader   string
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	p := &OTel{tracing: c.TracesEndpoint != nil || c.Endpoint != nil, defaultFormat: c.Propagation.DefaultFormat,
		clear: c.Propagation.Clear}
	if p.defaultFormat == "" {
		p.defaultFormat = "w3c"
	}
	if c.HTTPResponseTraceID != nil {
		p.traceHeader = *c.HTTPResponseTraceID
	}
	pr := c.Propagation
	if pr.Extract == nil && pr.Inject == nil && pr.Clear == nil {
		// the deprecated header_type decides (Kong's get_plugin_params)
		switch c.HeaderType {
		case "ignore":
			p.inject = []string{p.defaultFormat}
		case "preserve", "":
			p.extract, p.inject = legacyExtract, []string{"preserve"}
		default:
			p.extract, p.inject = legacyExtract, []string{"preserve", c.HeaderType}
		}
	} else {
		p.extract, p.inject = pr.Extract, pr.Inject
	}
	if deps.Logger != nil && p.tracing {
		deps.Logger.Debug("opentelemetry: sluice has no tracing instrumentations: trace context is propagated, no span is exported",
			slog.String("plugin", Name))
	}
	return p, nil
}

const ctxTraceID = "opentelemetry.trace_id"

// Access reads the trace context, clears the configured headers and sends
// this hop's context upstream (not sampled: no span is recorded).
func (p *OTel) Access(c *plugin.Ctx) {
	if !p.tracing {
		return
	}
	h := c.Request.Header
	tc := extract(h, p.extract)
	for _, name := range p.clear {
		h.Del(name)
	}
	span := make([]byte, 8)
	_, _ = rand.Read(span)
	trace := make([]byte, 16)
	var parent []byte
	if tc != nil && tc.traceID != nil {
		trace = tc.traceID
		parent = tc.spanID
		if parent == nil {
			parent = tc.parentID
		}
	} else {
		_, _ = rand.Read(trace)
	}
	for _, f := range p.inject {
		if f == "preserve" {
			switch {
			case tc != nil && tc.format == "b3" && tc.single:
				f = "b3-single"
			case tc != nil && tc.format != "":
				f = tc.format
			default:
				f = p.defaultFormat
			}
		}
		inject(h, f, trace, span, parent, false, tc)
	}
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
