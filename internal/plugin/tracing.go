package plugin

import (
	"slices"
	"sync/atomic"
)

// TracingSettings are Kong's tracing_instrumentations and
// tracing_sampling_rate, for the plugins that record spans.
type TracingSettings struct {
	Instrumentations []string
	SamplingRate     float64
}

// Has reports whether instrumentation name is on ("all" turns every one
// on, "off" none).
func (t TracingSettings) Has(name string) bool {
	return slices.Contains(t.Instrumentations, "all") || slices.Contains(t.Instrumentations, name)
}

var tracing atomic.Pointer[TracingSettings]

// SetTracing sets the tracing settings (cmd/sluice calls it at start).
func SetTracing(t TracingSettings) { tracing.Store(&t) }

// Tracing returns the tracing settings: Kong's defaults (off, 0.01) until
// SetTracing.
func Tracing() TracingSettings {
	if t := tracing.Load(); t != nil {
		return *t
	}
	return TracingSettings{Instrumentations: []string{"off"}, SamplingRate: 0.01}
}

var nodeID atomic.Pointer[string]

// SetNodeID records the node's id (Kong's kong.node.get_id()), which
// tracing plugins tag their spans with. cmd/sluice calls it at start.
func SetNodeID(id string) { nodeID.Store(&id) }

// NodeID returns what SetNodeID set ("" before).
func NodeID() string {
	if p := nodeID.Load(); p != nil {
		return *p
	}
	return ""
}
