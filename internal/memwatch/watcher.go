package memwatch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Event kinds recorded on the timeline.
const (
	KindReload   = "reload"
	KindEviction = "eviction"
	KindGC       = "gc"
	KindSpike    = "spike"
)

// Options configures a Watcher. Zero values take the defaults in brackets.
type Options struct {
	Interval    time.Duration // time between samples [1s]
	Samples     int           // samples kept in the ring [3600]
	MaxEvents   int           // events kept in the ring [1024]
	MaxSpikes   int           // spikes kept [256]
	MaxGauges   int           // registered gauges the ring has room for [16]
	Baseline    int           // samples in the rolling baseline (median) [60]
	MinBaseline int           // samples needed before spikes are detected [5]
	SpikeMargin float64       // rise over the baseline that makes a spike, as a fraction [0.20]
	MinDelta    int64         // and at least this many bytes over it [16 MiB]
	// EventWindow is how far before a spike events count as its context [30s].
	EventWindow time.Duration
	// GCPauseEvent: a sample whose GC pause time since the previous sample
	// exceeds this records a gc event [10ms].
	GCPauseEvent time.Duration

	// Dir receives heap profiles and trace windows on a spike (normally
	// <prefix>/diagnostics). Empty: nothing is written.
	Dir      string
	MaxFiles int           // files kept in Dir, oldest deleted first [10]
	Cooldown time.Duration // at most one capture per cooldown [5m]
	// NoTrace disables the execution-trace flight recorder (it is started
	// by Start when Dir is set).
	NoTrace bool

	Limit Decision     // what ApplyLimit decided, shown in /debug/memory and /status
	Log   *slog.Logger // spike and capture messages [discard]

	// now is the clock, replaced in tests.
	now func() time.Time
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Samples <= 0 {
		o.Samples = 3600
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 1024
	}
	if o.MaxSpikes <= 0 {
		o.MaxSpikes = 256
	}
	if o.MaxGauges <= 0 {
		o.MaxGauges = 16
	}
	if o.Baseline <= 0 {
		o.Baseline = 60
	}
	if o.MinBaseline <= 0 {
		o.MinBaseline = 5
	}
	if o.MinBaseline > o.Baseline {
		o.MinBaseline = o.Baseline
	}
	if o.SpikeMargin <= 0 {
		o.SpikeMargin = 0.20
	}
	if o.MinDelta <= 0 {
		o.MinDelta = 16 << 20
	}
	if o.EventWindow <= 0 {
		o.EventWindow = 30 * time.Second
	}
	if o.GCPauseEvent <= 0 {
		o.GCPauseEvent = 10 * time.Millisecond
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 10
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
}

// Sample is one point of the timeline. Byte counts are bytes.
type Sample struct {
	Time       time.Time
	HeapInuse  int64 // live and not yet swept heap objects
	HeapLive   int64 // heap marked live by the last GC (no GC sawtooth)
	HeapGoal   int64
	Stacks     int64
	GCCycles   int64 // total since start
	GCPauseNs  int64 // total stop-the-world GC pause since start
	Goroutines int64
	RSS        int64 // resident set size; 0 where unknown
	// Gauges holds the registered gauges' values, in registration order.
	// In the ring it aliases preallocated storage: copy before keeping.
	Gauges []int64
}

// Event is something that happened, recorded on the timeline.
type Event struct {
	Time   time.Time
	Kind   string
	Detail string
	Attrs  map[string]any
}

type gauge struct {
	name string
	f    func() int64
}

// Watcher samples the process's memory, keeps the timeline and detects
// spikes. Its methods are safe for concurrent use.
type Watcher struct {
	opts Options

	// Only the sampling goroutine (or a test calling sampleOnce) writes the
	// sample ring; mu guards it and everything below for readers.
	mu       sync.Mutex
	samples  []Sample // ring, len == opts.Samples
	gstore   []int64  // opts.Samples * opts.MaxGauges
	next     int      // index of the next write
	count    int      // samples held
	gauges   []gauge
	events   []Event // ring
	enext    int
	ecount   int
	spikes   []Spike // oldest first, at most opts.MaxSpikes
	inSpike  bool
	reported bool   // the open spike was logged
	spikeLen int    // samples since the open spike began
	quiet    int    // samples since the open spike last grew
	base     Sample // the open spike's baselines (medians before it)
	peak     Sample // the open spike's largest sample
	lastCap  time.Time

	// Sampler state, touched only by the sampling goroutine.
	msamples  []metrics.Sample
	scratch   []int64
	gbuf      []int64 // gauge values being read, MaxGauges long
	rss       rssReader
	lastPause int64

	spikesTotal atomic.Int64
	fr          *trace.FlightRecorder

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
}

// Indices into msamples.
const (
	mHeap = iota
	mLive
	mGoal
	mStacks
	mCycles
	mPause
	mGoroutines
	mCount
)

var metricNames = [mCount]string{
	mHeap:       "/memory/classes/heap/objects:bytes",
	mLive:       "/gc/heap/live:bytes",
	mGoal:       "/gc/heap/goal:bytes",
	mStacks:     "/memory/classes/heap/stacks:bytes",
	mCycles:     "/gc/cycles/total:gc-cycles",
	mPause:      "/cpu/classes/gc/pause:cpu-seconds",
	mGoroutines: "/sched/goroutines:goroutines",
}

// New returns a Watcher; call Start to begin sampling.
func New(opts Options) *Watcher {
	opts.defaults()
	w := &Watcher{
		opts:     opts,
		samples:  make([]Sample, opts.Samples),
		gstore:   make([]int64, opts.Samples*opts.MaxGauges),
		events:   make([]Event, opts.MaxEvents),
		scratch:  make([]int64, opts.Baseline),
		gbuf:     make([]int64, opts.MaxGauges),
		msamples: make([]metrics.Sample, mCount),
	}
	w.base.Gauges = make([]int64, 0, opts.MaxGauges)
	w.peak.Gauges = make([]int64, 0, opts.MaxGauges)
	for i := range w.samples {
		w.samples[i].Gauges = w.gstore[i*opts.MaxGauges : i*opts.MaxGauges : (i+1)*opts.MaxGauges]
	}
	for i, name := range metricNames {
		w.msamples[i].Name = name
	}
	return w
}

// RegisterGauge adds a component whose size in bytes is sampled with the
// rest (snapshot bytes, a cache, a queue). f is called from the sampling
// goroutine and must be fast and safe for concurrent use. Gauges beyond
// Options.MaxGauges, or a name already registered, are refused with an error.
func (w *Watcher) RegisterGauge(name string, f func() int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.gauges) >= w.opts.MaxGauges {
		return fmt.Errorf("memwatch: gauge %q: all %d gauge slots are taken", name, w.opts.MaxGauges)
	}
	for _, g := range w.gauges {
		if g.name == name {
			return fmt.Errorf("memwatch: gauge %q registered twice", name)
		}
	}
	w.gauges = append(w.gauges, gauge{name, f})
	return nil
}

// Event records something that happened on the timeline. attrs are
// key-value pairs as for slog ("entities", 9000, "build_seconds", 0.8); a
// reload event should carry "entities" and "build_seconds" so spikes can be
// attributed to it.
func (w *Watcher) Event(kind, detail string, attrs ...any) {
	e := Event{Time: w.opts.now(), Kind: kind, Detail: detail}
	if len(attrs) > 0 {
		e.Attrs = make(map[string]any, len(attrs)/2)
		for i := 0; i < len(attrs); i++ {
			switch k := attrs[i].(type) {
			case slog.Attr:
				e.Attrs[k.Key] = plainValue(k.Value.Any())
			case string:
				if i+1 < len(attrs) {
					e.Attrs[k] = plainValue(attrs[i+1])
					i++
				} else {
					e.Attrs["!BADKEY"] = k
				}
			default:
				e.Attrs["!BADKEY"] = k
			}
		}
	}
	w.mu.Lock()
	w.addEventLocked(e)
	w.mu.Unlock()
}

// Eviction records that a cache or queue dropped entries to stay within its
// cap.
func (w *Watcher) Eviction(component string, entries int, bytes int64) {
	w.Event(KindEviction, fmt.Sprintf("%s evicted %d entries (%s)", component, entries, FormatBytes(bytes)),
		"component", component, "entries", entries, "bytes", bytes)
}

// plainValue keeps v when it encodes to JSON as itself and renders it as
// text otherwise, so one odd attribute cannot break /debug/memory.
func plainValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return v
	case float32:
		return plainValue(float64(x))
	case time.Duration:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(v)
	}
}

// Reload records a config reload of entities entities that took build to
// build.
func (w *Watcher) Reload(entities int, build time.Duration) {
	w.Event(KindReload, fmt.Sprintf("config reload of %d entities", entities),
		"entities", entities, "build_seconds", build.Seconds())
}

func (w *Watcher) addEventLocked(e Event) {
	w.events[w.enext] = e
	w.enext = (w.enext + 1) % len(w.events)
	if w.ecount < len(w.events) {
		w.ecount++
	}
}

// Start begins sampling (call it once) every Options.Interval until ctx is done or Stop is
// called. It also starts the trace flight recorder when Options.Dir is set
// (unless NoTrace); failing to start it is logged, not fatal.
func (w *Watcher) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	if w.opts.Dir != "" && !w.opts.NoTrace {
		fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 10 * time.Second, MaxBytes: 8 << 20})
		if err := fr.Start(); err != nil {
			w.opts.Log.Warn("memwatch: trace flight recorder not started", "error", err)
		} else {
			w.fr = fr
		}
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.opts.Interval)
		defer t.Stop()
		w.sampleOnce()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.sampleOnce()
			}
		}
	}()
}

// Stop ends sampling and waits for the sampler to return.
func (w *Watcher) Stop() {
	w.stopOnce.Do(func() {
		if w.cancel == nil {
			return
		}
		w.cancel()
		<-w.done
		if w.fr != nil {
			w.fr.Stop()
		}
		if w.rss.f != nil {
			w.rss.f.Close()
			w.rss.f = nil
		}
	})
}

// read fills s (whose Gauges has capacity MaxGauges) with the current
// values. It does not allocate.
func (w *Watcher) read(s *Sample, gauges []gauge) {
	metrics.Read(w.msamples)
	s.HeapInuse = int64(metricUint(w.msamples[mHeap]))
	s.HeapLive = int64(metricUint(w.msamples[mLive]))
	s.HeapGoal = int64(metricUint(w.msamples[mGoal]))
	s.Stacks = int64(metricUint(w.msamples[mStacks]))
	s.GCCycles = int64(metricUint(w.msamples[mCycles]))
	s.Goroutines = int64(metricUint(w.msamples[mGoroutines]))
	if v := w.msamples[mPause]; v.Value.Kind() == metrics.KindFloat64 {
		// The metric counts GOMAXPROCS times the wall-clock pause.
		s.GCPauseNs = int64(v.Value.Float64() / float64(runtime.GOMAXPROCS(0)) * 1e9)
	}
	s.RSS = w.rss.read()
	s.Gauges = s.Gauges[:len(gauges)]
	for i, g := range gauges {
		s.Gauges[i] = g.f()
	}
}

func metricUint(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// sampleOnce takes one sample into the ring and runs spike detection.
func (w *Watcher) sampleOnce() {
	w.mu.Lock()
	gauges := w.gauges
	w.mu.Unlock()
	s := Sample{Time: w.opts.now(), Gauges: w.gbuf}
	w.read(&s, gauges)
	w.record(s)
}

// record copies s into the next ring slot and checks it for a spike.
func (w *Watcher) record(s Sample) {
	w.mu.Lock()
	slot := &w.samples[w.next]
	g := slot.Gauges[:len(s.Gauges)]
	copy(g, s.Gauges)
	*slot = s
	slot.Gauges = g
	w.next = (w.next + 1) % len(w.samples)
	if w.count < len(w.samples) {
		w.count++
	}
	pause := s.GCPauseNs - w.lastPause
	gcEvent := w.count > 1 && pause > int64(w.opts.GCPauseEvent)
	w.lastPause = s.GCPauseNs
	sp, ok := w.detectLocked(s)
	w.mu.Unlock()
	if gcEvent {
		w.Event(KindGC, fmt.Sprintf("GC paused the process %v since the previous sample", time.Duration(pause)),
			"pause_seconds", time.Duration(pause).Seconds())
	}
	if ok {
		w.onSpike(sp)
	}
}

// at returns the i-th most recent sample (0 = newest). Caller holds mu.
func (w *Watcher) at(i int) *Sample {
	n := len(w.samples)
	return &w.samples[((w.next-1-i)%n+n)%n]
}

// median of f over the baseline window before the newest sample, using the
// preallocated scratch slice. Caller holds mu; count-1 >= 1.
func (w *Watcher) baselineLocked(f func(*Sample) int64) int64 {
	n := min(w.count-1, w.opts.Baseline)
	buf := w.scratch[:n]
	for i := range n {
		buf[i] = f(w.at(i + 1))
	}
	slices.Sort(buf)
	if n%2 == 1 {
		return buf[n/2]
	}
	return (buf[n/2-1] + buf[n/2]) / 2
}

func heapOf(s *Sample) int64 { return s.HeapLive }
func rssOf(s *Sample) int64  { return s.RSS }

func (w *Watcher) over(v, base int64) bool {
	return v-base >= w.opts.MinDelta && float64(v) > float64(base)*(1+w.opts.SpikeMargin)
}

// detectLocked compares the newest sample with the rolling baseline of the
// live heap (marked by the last GC, so the collector's sawtooth does not
// count) and of RSS. When memory first rises over it a spike opens: its
// baselines are frozen, so a slow climb stays one spike, and what grew is
// measured against them at each new peak. The spike is reported (logged,
// profiles captured) once, when it stops growing for two samples, ends, or
// has lasted a baseline window; ok is true then. It ends when memory falls
// back under the frozen threshold or settles at a new level (see
// settledLocked).
func (w *Watcher) detectLocked(s Sample) (report Spike, ok bool) {
	if w.count-1 < w.opts.MinBaseline {
		return Spike{}, false
	}
	if w.inSpike {
		last := &w.spikes[len(w.spikes)-1]
		w.spikeLen++
		if excess(s, &w.base) > excess(w.peak, &w.base)+w.opts.MinDelta/4 {
			w.setPeakLocked(s)
			last.Growth = w.growthLocked()
			last.Grew = last.Growth[0].Component
			w.quiet = 0
		} else {
			w.quiet++
		}
		last.PeakRSS = max(last.PeakRSS, s.RSS)
		last.PeakHeap = max(last.PeakHeap, s.HeapLive)
		stillOver := w.over(s.HeapLive, w.base.HeapLive) || (s.RSS > 0 && w.over(s.RSS, w.base.RSS))
		ended := !stillOver || w.settledLocked()
		if ended {
			last.End = s.Time
			last.Settled = stillOver
			w.inSpike = false
		}
		if !w.reported && (ended || w.quiet >= 2 || w.spikeLen >= w.opts.Baseline) {
			w.reported = true
			return *last, true
		}
		return Spike{}, false
	}
	heapBase := w.baselineLocked(heapOf)
	rssBase := w.baselineLocked(rssOf)
	heapOver := w.over(s.HeapLive, heapBase)
	rssOver := s.RSS > 0 && w.over(s.RSS, rssBase)
	if !heapOver && !rssOver {
		return Spike{}, false
	}
	w.inSpike, w.reported = true, false
	w.spikeLen, w.quiet = 0, 0
	w.base.HeapLive, w.base.RSS = heapBase, rssBase
	w.base.HeapInuse = w.baselineLocked(func(x *Sample) int64 { return x.HeapInuse })
	w.base.Stacks = w.baselineLocked(func(x *Sample) int64 { return x.Stacks })
	w.base.Goroutines = w.baselineLocked(func(x *Sample) int64 { return x.Goroutines })
	w.base.Gauges = w.base.Gauges[:len(s.Gauges)]
	for i := range s.Gauges {
		w.base.Gauges[i] = w.baselineLocked(func(x *Sample) int64 {
			if i < len(x.Gauges) {
				return x.Gauges[i]
			}
			return 0
		})
	}
	w.setPeakLocked(s)
	sp := Spike{
		Time: s.Time, RSS: s.RSS, RSSBaseline: rssBase, Heap: s.HeapLive, HeapBaseline: heapBase,
		PeakRSS: s.RSS, PeakHeap: s.HeapLive,
	}
	switch {
	case heapOver && rssOver:
		sp.Metric = "heap+rss"
	case heapOver:
		sp.Metric = "heap"
	default:
		sp.Metric = "rss"
	}
	sp.Growth = w.growthLocked()
	if len(sp.Growth) > 0 {
		sp.Grew = sp.Growth[0].Component
	}
	sp.Before = w.eventsBeforeLocked(s.Time)
	if len(w.spikes) == w.opts.MaxSpikes {
		copy(w.spikes, w.spikes[1:])
		w.spikes = w.spikes[:len(w.spikes)-1]
	}
	w.spikes = append(w.spikes, sp)
	w.spikesTotal.Add(1)
	return Spike{}, false
}

// excess is how far s is over the baseline b, live heap and RSS together.
func excess(s Sample, b *Sample) int64 {
	return max(s.HeapLive-b.HeapLive, 0) + max(s.RSS-b.RSS, 0)
}

// setPeakLocked copies s into w.peak, keeping w.peak's gauge storage.
func (w *Watcher) setPeakLocked(s Sample) {
	g := w.peak.Gauges[:len(s.Gauges)]
	copy(g, s.Gauges)
	w.peak = s
	w.peak.Gauges = g
}

// settledLocked reports whether the open spike has become a new level: it
// has lasted a baseline window and the last half window of samples is flat
// (live heap and RSS within MinDelta), or it has lasted ten windows.
func (w *Watcher) settledLocked() bool {
	if w.spikeLen >= 10*w.opts.Baseline {
		return true
	}
	if w.spikeLen < w.opts.Baseline {
		return false
	}
	n := max(w.opts.Baseline/2, 3)
	return w.rangeLocked(heapOf, n) < w.opts.MinDelta && w.rangeLocked(rssOf, n) < w.opts.MinDelta
}

// rangeLocked is max-min of f over the newest n samples.
func (w *Watcher) rangeLocked(f func(*Sample) int64, n int) int64 {
	n = min(n, w.count)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range n {
		v := f(w.at(i))
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi - lo
}

// Growth is how much one component grew over its baseline.
type Growth struct {
	Component string `json:"component"`
	Delta     int64  `json:"delta"`
	Unit      string `json:"unit"` // "bytes" or "goroutines"
}

// growthLocked lists what grew from the open spike's baseline to its peak,
// the component most responsible first. Registered gauges are parts of the
// heap, so one that accounts for at least half of the heap's growth is named
// ahead of the heap. It never returns an empty list.
func (w *Watcher) growthLocked() []Growth {
	p, b := &w.peak, &w.base
	heapD := p.HeapLive - b.HeapLive
	stacksD := p.Stacks - b.Stacks
	var out []Growth
	add := func(c string, d int64, unit string) {
		if d > 0 {
			out = append(out, Growth{c, d, unit})
		}
	}
	add("heap", heapD, "bytes")
	add("stacks", stacksD, "bytes")
	if p.RSS > 0 {
		// Resident heap pages include garbage not yet collected: compare
		// with the heap in use, not the live heap.
		add("outside the Go heap", (p.RSS-b.RSS)-max(p.HeapInuse-b.HeapInuse, 0)-max(stacksD, 0), "bytes")
	}
	var gauges []Growth
	for i, g := range w.gauges {
		if i >= len(p.Gauges) || i >= len(b.Gauges) {
			break
		}
		if d := p.Gauges[i] - b.Gauges[i]; d > 0 {
			gauges = append(gauges, Growth{g.name, d, "bytes"})
		}
	}
	slices.SortStableFunc(out, func(a, b Growth) int { return cmpDesc(a.Delta, b.Delta) })
	// Memory outside the heap that grows in step with the heap (allocator
	// metadata; the race detector's shadow memory, as large as the heap
	// itself) follows from the heap's growth: name the heap unless the rest
	// clearly outgrew it.
	if len(out) > 1 && out[0].Component == "outside the Go heap" {
		if i := slices.IndexFunc(out, func(g Growth) bool { return g.Component == "heap" }); i > 0 && out[i].Delta*3 >= out[0].Delta*2 {
			h := out[i]
			out = slices.Delete(out, i, i+1)
			out = append([]Growth{h}, out...)
		}
	}
	slices.SortStableFunc(gauges, func(a, b Growth) int { return cmpDesc(a.Delta, b.Delta) })
	if len(out) > 0 && out[0].Component == "heap" && len(gauges) > 0 && gauges[0].Delta*2 >= heapD {
		out = append([]Growth{gauges[0]}, out...)
		gauges = gauges[1:]
	}
	out = append(out, gauges...)
	if d := p.Goroutines - b.Goroutines; d > 0 {
		out = append(out, Growth{"goroutines", d, "goroutines"})
	}
	if len(out) == 0 {
		out = append(out, Growth{"nothing measured", 0, "bytes"})
	}
	return out
}

func cmpDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// eventsBeforeLocked returns the events in the window before t, newest
// first, at most five.
func (w *Watcher) eventsBeforeLocked(t time.Time) []Prior {
	var out []Prior
	n := len(w.events)
	for i := 0; i < w.ecount && len(out) < 5; i++ {
		e := w.events[((w.enext-1-i)%n+n)%n]
		if e.Kind == KindSpike || e.Kind == KindGC {
			continue
		}
		ago := t.Sub(e.Time)
		if ago < 0 {
			continue
		}
		if ago > w.opts.EventWindow {
			break
		}
		out = append(out, Prior{Event: jsonEvent(e), AgoSeconds: ago.Seconds()})
	}
	return out
}

// rssReader reads the resident set size from /proc/self/statm through a file
// kept open, without allocating.
type rssReader struct {
	f      *os.File
	failed bool
	buf    [128]byte
}

func (r *rssReader) read() int64 {
	if r.failed {
		return 0
	}
	if r.f == nil {
		f, err := os.Open("/proc/self/statm")
		if err != nil {
			r.failed = true
			return 0
		}
		r.f = f
	}
	n, err := r.f.ReadAt(r.buf[:], 0)
	if n == 0 && err != nil {
		r.f.Close()
		r.f = nil
		return 0
	}
	v, ok := parseStatmRSS(r.buf[:n])
	if !ok {
		return 0
	}
	if v > math.MaxInt64/int64(os.Getpagesize()) {
		return 0
	}
	return v * int64(os.Getpagesize())
}

// parseStatmRSS returns the second field of /proc/self/statm (resident
// pages).
func parseStatmRSS(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	i++
	if i >= len(b) {
		return 0, false
	}
	var v int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if v > (math.MaxInt64-9)/10 {
			return 0, false
		}
		v = v*10 + int64(b[i]-'0')
		digits++
	}
	return v, digits > 0
}

// TimelineBytes reports the memory of the timeline's rings: what the
// samples and events held so far take, and what the full rings will
// (allocated up front; events' attributes not counted).
func (w *Watcher) TimelineBytes() (used, capacity int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sample := int64(unsafe.Sizeof(Sample{})) + int64(w.opts.MaxGauges)*8
	event := int64(unsafe.Sizeof(Event{}))
	return int64(w.count)*sample + int64(w.ecount)*event, int64(len(w.samples))*sample + int64(len(w.events))*event
}
