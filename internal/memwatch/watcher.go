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
	"sync"
	"sync/atomic"
	"time"
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
	files    []string
	inSpike  bool
	spikeLen int // samples since the open spike began
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
	mGoal
	mStacks
	mCycles
	mPause
	mGoroutines
	mCount
)

var metricNames = [mCount]string{
	mHeap:       "/memory/classes/heap/objects:bytes",
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
				e.Attrs[k.Key] = k.Value.Any()
			case string:
				if i+1 < len(attrs) {
					e.Attrs[k] = attrs[i+1]
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

// Start begins sampling every Options.Interval until ctx is done or Stop is
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
	})
}

// read fills s (whose Gauges has capacity MaxGauges) with the current
// values. It does not allocate.
func (w *Watcher) read(s *Sample, gauges []gauge) {
	metrics.Read(w.msamples)
	s.HeapInuse = int64(metricUint(w.msamples[mHeap]))
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

func heapOf(s *Sample) int64 { return s.HeapInuse }
func rssOf(s *Sample) int64  { return s.RSS }

func (w *Watcher) over(v, base int64) bool {
	return v-base >= w.opts.MinDelta && float64(v) > float64(base)*(1+w.opts.SpikeMargin)
}

// detectLocked compares the newest sample with the rolling baseline. A spike
// is reported once, when memory first rises over the threshold; while it
// stays over, the open spike's peak is updated instead.
//
// A spike ends when memory falls back under the threshold of the baseline
// from before it, or has stayed up for Options.Baseline samples (settled:
// the new level becomes the baseline).
func (w *Watcher) detectLocked(s Sample) (Spike, bool) {
	if w.count-1 < w.opts.MinBaseline {
		return Spike{}, false
	}
	if w.inSpike {
		// While a spike lasts it is measured against the baseline from
		// before it, so a slow climb is one spike, not one per window.
		last := &w.spikes[len(w.spikes)-1]
		w.spikeLen++
		stillOver := w.over(s.HeapInuse, last.HeapBaseline) || (s.RSS > 0 && w.over(s.RSS, last.RSSBaseline))
		if stillOver && w.spikeLen < w.opts.Baseline {
			last.PeakRSS = max(last.PeakRSS, s.RSS)
			last.PeakHeap = max(last.PeakHeap, s.HeapInuse)
			return Spike{}, false
		}
		// Back under the old threshold, or held for a whole baseline
		// window: the rolling baseline is the new normal.
		last.End = s.Time
		last.Settled = stillOver
		w.inSpike = false
		return Spike{}, false
	}
	heapBase := w.baselineLocked(heapOf)
	rssBase := w.baselineLocked(rssOf)
	heapOver := w.over(s.HeapInuse, heapBase)
	rssOver := s.RSS > 0 && w.over(s.RSS, rssBase)
	if !heapOver && !rssOver {
		return Spike{}, false
	}
	w.inSpike = true
	w.spikeLen = 0
	sp := Spike{
		Time: s.Time, RSS: s.RSS, RSSBaseline: rssBase, Heap: s.HeapInuse, HeapBaseline: heapBase,
		PeakRSS: s.RSS, PeakHeap: s.HeapInuse,
	}
	switch {
	case heapOver && rssOver:
		sp.Metric = "heap+rss"
	case heapOver:
		sp.Metric = "heap"
	default:
		sp.Metric = "rss"
	}
	sp.Growth = w.growthLocked(s, heapBase, rssBase)
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
	return sp, true
}

// Growth is how much one component grew over its baseline.
type Growth struct {
	Component string `json:"component"`
	Delta     int64  `json:"delta"`
	Unit      string `json:"unit"` // "bytes" or "goroutines"
}

// growthLocked lists what grew, the component most responsible first:
// registered gauges are parts of the heap, so one that accounts for at
// least half of the heap's growth is named ahead of the heap.
func (w *Watcher) growthLocked(s Sample, heapBase, rssBase int64) []Growth {
	stacksBase := w.baselineLocked(func(x *Sample) int64 { return x.Stacks })
	grBase := w.baselineLocked(func(x *Sample) int64 { return x.Goroutines })
	heapD := s.HeapInuse - heapBase
	stacksD := s.Stacks - stacksBase
	var out []Growth
	add := func(c string, d int64, unit string) {
		if d > 0 {
			out = append(out, Growth{c, d, unit})
		}
	}
	add("heap", heapD, "bytes")
	add("stacks", stacksD, "bytes")
	if s.RSS > 0 {
		add("outside the Go heap", (s.RSS-rssBase)-max(heapD, 0)-max(stacksD, 0), "bytes")
	}
	var gauges []Growth
	for i, g := range w.gauges {
		if i >= len(s.Gauges) {
			break
		}
		base := w.baselineLocked(func(x *Sample) int64 {
			if i < len(x.Gauges) {
				return x.Gauges[i]
			}
			return 0
		})
		if d := s.Gauges[i] - base; d > 0 {
			gauges = append(gauges, Growth{g.name, d, "bytes"})
		}
	}
	slices.SortStableFunc(out, func(a, b Growth) int { return cmpDesc(a.Delta, b.Delta) })
	slices.SortStableFunc(gauges, func(a, b Growth) int { return cmpDesc(a.Delta, b.Delta) })
	if len(out) > 0 && out[0].Component == "heap" && len(gauges) > 0 && gauges[0].Delta*2 >= heapD {
		out = append([]Growth{gauges[0]}, out...)
		gauges = gauges[1:]
	}
	out = append(out, gauges...)
	if d := s.Goroutines - grBase; d > 0 {
		out = append(out, Growth{"goroutines", d, "goroutines"})
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
