// Package metrics is a small Prometheus registry: counter, gauge and
// histogram vectors with bounded label sets, and the text exposition format
// 0.0.4. Plugins (prometheus) and the core record into Default(); the status
// listener's /metrics serves it through Handler.
//
// Each vector keeps at most MaxSeries label combinations; observations for
// a new combination past the cap are dropped and counted in
// sluice_metrics_dropped_series_total{metric="<name>"}. Looking up a known
// combination takes no lock and allocates nothing: the series index is an
// immutable map replaced copy-on-write when a series is added, and values
// are updated with atomics.
package metrics

import (
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultMaxSeries is the series cap of a vector created with MaxSeries 0.
const DefaultMaxSeries = 1000

// Opts name a metric.
type Opts struct {
	Name string
	Help string
	// MaxSeries caps the label combinations kept (0: DefaultMaxSeries).
	MaxSeries int
}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	}
	return "histogram"
}

// Registry holds metric vectors.
type Registry struct {
	mu      sync.Mutex
	vecs    map[string]*vec
	order   []string
	dropped *CounterVec
}

// NewRegistry returns an empty registry (with its dropped-series counter).
func NewRegistry() *Registry {
	r := &Registry{vecs: map[string]*vec{}}
	r.dropped = r.NewCounterVec(Opts{
		Name: "sluice_metrics_dropped_series_total",
		Help: "Observations dropped because a metric reached its cap on label combinations.",
	}, "metric")
	return r
}

var defaultRegistry = NewRegistry()

// Default returns the process-wide registry.
func Default() *Registry { return defaultRegistry }

var seed = maphash.MakeSeed()

// series is one label combination.
type series struct {
	values []string
	bits   atomic.Uint64 // float64 value (counter, gauge) or histogram sum
	count  atomic.Uint64 // histogram observations
	counts []atomic.Uint64
}

type vec struct {
	reg     *Registry
	name    string
	help    string
	kind    kind
	labels  []string
	buckets []float64
	max     int

	mu    sync.Mutex // serialises adds
	index atomic.Pointer[map[uint64][]*series]
	n     int
}

func (r *Registry) register(o Opts, k kind, buckets []float64, labels []string) *vec {
	if o.Name == "" {
		panic("metrics: empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.vecs[o.Name]; ok {
		if v.kind != k || !slices.Equal(v.labels, labels) || !slices.Equal(v.buckets, buckets) {
			panic(fmt.Sprintf("metrics: %s registered again with a different shape", o.Name))
		}
		return v
	}
	v := &vec{reg: r, name: o.Name, help: o.Help, kind: k, labels: slices.Clone(labels), buckets: slices.Clone(buckets), max: o.MaxSeries}
	if v.max <= 0 {
		v.max = DefaultMaxSeries
	}
	m := map[uint64][]*series{}
	v.index.Store(&m)
	r.vecs[o.Name] = v
	r.order = append(r.order, o.Name)
	return v
}

func hashValues(values []string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, s := range values {
		h.WriteString(s)
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

// get finds or adds the series for values; nil when the vector is full or
// the number of values is wrong.
func (v *vec) get(values []string) *series {
	if len(values) != len(v.labels) {
		return nil
	}
	h := hashValues(values)
	if s := find((*v.index.Load())[h], values); s != nil {
		return s
	}
	v.mu.Lock()
	old := *v.index.Load()
	if s := find(old[h], values); s != nil {
		v.mu.Unlock()
		return s
	}
	if v.n >= v.max {
		v.mu.Unlock()
		if v != v.reg.dropped.v {
			v.reg.dropped.With(v.name).Inc()
		}
		return nil
	}
	s := &series{values: make([]string, len(values))}
	for i, x := range values {
		s.values[i] = strings.Clone(x)
	}
	if v.kind == kindHistogram {
		s.counts = make([]atomic.Uint64, len(v.buckets))
	}
	m := make(map[uint64][]*series, len(old)+1)
	for k, l := range old {
		m[k] = l
	}
	m[h] = append(slices.Clip(old[h]), s)
	v.n++
	v.index.Store(&m)
	v.mu.Unlock()
	return s
}

func find(l []*series, values []string) *series {
	for _, s := range l {
		if slices.Equal(s.values, values) {
			return s
		}
	}
	return nil
}

// reset removes every series.
func (v *vec) reset() {
	v.mu.Lock()
	m := map[uint64][]*series{}
	v.index.Store(&m)
	v.n = 0
	v.mu.Unlock()
}

func (v *vec) seriesCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

func addFloat(a *atomic.Uint64, d float64) {
	for {
		old := a.Load()
		if a.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// CounterVec is a counter with labels.
type CounterVec struct{ v *vec }

// Counter is one series of a CounterVec; a nil Counter (dropped series)
// ignores updates.
type Counter struct{ s *series }

// NewCounterVec registers (or returns the existing) counter vector.
func (r *Registry) NewCounterVec(o Opts, labels ...string) *CounterVec {
	return &CounterVec{r.register(o, kindCounter, nil, labels)}
}

// With returns the series for the label values, in label order.
func (c *CounterVec) With(values ...string) Counter { return Counter{c.v.get(values)} }

// Reset removes every series.
func (c *CounterVec) Reset() { c.v.reset() }

// Len is the number of series kept.
func (c *CounterVec) Len() int { return c.v.seriesCount() }

// Inc adds 1.
func (c Counter) Inc() { c.Add(1) }

// Add adds d (negative values are ignored: counters only go up).
func (c Counter) Add(d float64) {
	if c.s == nil || !(d >= 0) {
		return
	}
	addFloat(&c.s.bits, d)
}

// Value returns the current value (0 for a dropped series).
func (c Counter) Value() float64 {
	if c.s == nil {
		return 0
	}
	return math.Float64frombits(c.s.bits.Load())
}

// GaugeVec is a gauge with labels.
type GaugeVec struct{ v *vec }

// Gauge is one series of a GaugeVec; a nil Gauge ignores updates.
type Gauge struct{ s *series }

// NewGaugeVec registers (or returns the existing) gauge vector.
func (r *Registry) NewGaugeVec(o Opts, labels ...string) *GaugeVec {
	return &GaugeVec{r.register(o, kindGauge, nil, labels)}
}

// With returns the series for the label values.
func (g *GaugeVec) With(values ...string) Gauge { return Gauge{g.v.get(values)} }

// Reset removes every series.
func (g *GaugeVec) Reset() { g.v.reset() }

// Len is the number of series kept.
func (g *GaugeVec) Len() int { return g.v.seriesCount() }

// Set sets the value.
func (g Gauge) Set(x float64) {
	if g.s != nil {
		g.s.bits.Store(math.Float64bits(x))
	}
}

// Add adds d (may be negative).
func (g Gauge) Add(d float64) {
	if g.s != nil {
		addFloat(&g.s.bits, d)
	}
}

// Value returns the current value.
func (g Gauge) Value() float64 {
	if g.s == nil {
		return 0
	}
	return math.Float64frombits(g.s.bits.Load())
}

// HistogramVec is a histogram with labels.
type HistogramVec struct{ v *vec }

// Histogram is one series of a HistogramVec; a nil Histogram ignores
// observations.
type Histogram struct {
	s       *series
	buckets []float64
}

// NewHistogramVec registers (or returns the existing) histogram vector with
// the given upper bounds (sorted ascending; +Inf is implied).
func (r *Registry) NewHistogramVec(o Opts, buckets []float64, labels ...string) *HistogramVec {
	if !slices.IsSorted(buckets) {
		panic("metrics: histogram buckets not sorted: " + o.Name)
	}
	return &HistogramVec{r.register(o, kindHistogram, buckets, labels)}
}

// With returns the series for the label values.
func (h *HistogramVec) With(values ...string) Histogram {
	return Histogram{h.v.get(values), h.v.buckets}
}

// Reset removes every series.
func (h *HistogramVec) Reset() { h.v.reset() }

// Len is the number of series kept.
func (h *HistogramVec) Len() int { return h.v.seriesCount() }

// Observe records one value.
func (h Histogram) Observe(x float64) {
	if h.s == nil {
		return
	}
	for i, b := range h.buckets {
		if x <= b {
			h.s.counts[i].Add(1)
			break
		}
	}
	h.s.count.Add(1)
	addFloat(&h.s.bits, x)
}

// Count returns the number of observations.
func (h Histogram) Count() uint64 {
	if h.s == nil {
		return 0
	}
	return h.s.count.Load()
}

// Handler serves the Default registry followed by the extra writers (e.g.
// memwatch's WriteMetrics) in the text format 0.0.4.
func Handler(extra ...func(io.Writer) error) http.Handler {
	return Default().Handler(extra...)
}

// Handler serves the registry followed by the extra writers.
func (r *Registry) Handler(extra ...func(io.Writer) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := r.WriteText(w); err != nil {
			return
		}
		for _, f := range extra {
			if err := f(w); err != nil {
				return
			}
		}
	})
}

// GaugeNames lists the registered gauges' names in registration order.
func (r *Registry) GaugeNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.order {
		if r.vecs[n].kind == kindGauge {
			out = append(out, n)
		}
	}
	return out
}

// GaugeSum is the sum of a gauge's series (a cache's bytes over all its
// label values); 0 when no gauge has that name.
func (r *Registry) GaugeSum(name string) float64 {
	r.mu.Lock()
	v := r.vecs[name]
	r.mu.Unlock()
	if v == nil || v.kind != kindGauge {
		return 0
	}
	var sum float64
	for _, list := range *v.index.Load() {
		for _, s := range list {
			sum += math.Float64frombits(s.bits.Load())
		}
	}
	return sum
}
