package memwatch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Timeline is the body of GET /debug/memory.
type Timeline struct {
	Now             time.Time    `json:"now"`
	IntervalSeconds float64      `json:"interval_seconds"`
	Limit           LimitJSON    `json:"limit"`
	GaugeNames      []string     `json:"gauge_names"`
	Samples         []JSONSample `json:"samples"` // oldest first
	Events          []JSONEvent  `json:"events"`  // oldest first
	Spikes          []Spike      `json:"spikes"`  // oldest first
	SpikesTotal     int64        `json:"spikes_total"`
	Period          Period       `json:"period"`
	Dir             string       `json:"dir"`
	Profiles        []string     `json:"profiles"` // capture files present in Dir
}

// LimitJSON is the memory limit decision and the limit now in force.
type LimitJSON struct {
	CgroupLimit int64  `json:"cgroup_limit"` // 0: none found
	GoMemLimit  int64  `json:"gomemlimit"`   // math.MaxInt64: none
	Source      string `json:"source"`
	GoMaxProcs  int    `json:"gomaxprocs"`
}

// JSONSample is one sample; byte counts in bytes, t in Unix milliseconds.
type JSONSample struct {
	T          int64   `json:"t"`
	RSS        int64   `json:"rss"`
	HeapInuse  int64   `json:"heap_inuse"`
	HeapLive   int64   `json:"heap_live"`
	HeapGoal   int64   `json:"heap_goal"`
	Stacks     int64   `json:"stacks"`
	GCCycles   int64   `json:"gc_cycles"`
	GCPauseNs  int64   `json:"gc_pause_ns"`
	Goroutines int64   `json:"goroutines"`
	Gauges     []int64 `json:"gauges,omitempty"` // in the order of gauge_names
}

// JSONEvent is one event of the timeline.
type JSONEvent struct {
	Time   time.Time      `json:"time"`
	Kind   string         `json:"kind"`
	Detail string         `json:"detail,omitempty"`
	Attrs  map[string]any `json:"attrs,omitempty"`
}

func jsonEvent(e Event) JSONEvent {
	return JSONEvent(e)
}

// Timeline returns a copy of the timeline; last > 0 keeps only the newest
// last samples.
func (w *Watcher) Timeline(last int) Timeline {
	w.mu.Lock()
	n := w.count
	if last > 0 && last < n {
		n = last
	}
	t := Timeline{
		Now:             w.opts.now(),
		IntervalSeconds: w.opts.Interval.Seconds(),
		Limit: LimitJSON{
			CgroupLimit: w.opts.Limit.CgroupLimit,
			GoMemLimit:  debug.SetMemoryLimit(-1),
			Source:      w.opts.Limit.Source,
			GoMaxProcs:  w.opts.Limit.GoMaxProcs,
		},
		GaugeNames:  make([]string, len(w.gauges)),
		Samples:     make([]JSONSample, n),
		Events:      make([]JSONEvent, 0, w.ecount),
		Spikes:      make([]Spike, len(w.spikes)),
		SpikesTotal: w.spikesTotal.Load(),
		Dir:         w.opts.Dir,
	}
	for i, g := range w.gauges {
		t.GaugeNames[i] = g.name
	}
	ng := 0
	for i := range n {
		ng += len(w.at(i).Gauges)
	}
	gflat := make([]int64, 0, ng)
	for i := range n {
		s := w.at(n - 1 - i)
		t.Samples[i] = JSONSample{
			T: s.Time.UnixMilli(), RSS: s.RSS, HeapInuse: s.HeapInuse, HeapLive: s.HeapLive, HeapGoal: s.HeapGoal,
			Stacks: s.Stacks, GCCycles: s.GCCycles, GCPauseNs: s.GCPauseNs, Goroutines: s.Goroutines,
		}
		if len(s.Gauges) > 0 {
			start := len(gflat)
			gflat = append(gflat, s.Gauges...)
			t.Samples[i].Gauges = gflat[start:len(gflat):len(gflat)]
		}
	}
	events := make([]Event, 0, w.ecount)
	ne := len(w.events)
	for i := w.ecount - 1; i >= 0; i-- {
		e := w.events[((w.enext-1-i)%ne+ne)%ne]
		events = append(events, e)
		t.Events = append(t.Events, jsonEvent(e))
	}
	copy(t.Spikes, w.spikes)
	w.mu.Unlock()

	times := make([]time.Time, len(t.Spikes))
	for i, s := range t.Spikes {
		times[i] = s.Time
	}
	t.Period = FindPeriod(times, events, 0.10)
	if t.Dir != "" {
		t.Profiles = ListCaptures(t.Dir)
	}
	return t
}

// Handler serves GET /debug/memory: the timeline as JSON. ?last=N limits
// the samples to the newest N. Mount it on the status listener.
func (w *Watcher) Handler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			writeJSONBody(rw, http.StatusMethodNotAllowed, map[string]string{"message": "Method not allowed"})
			return
		}
		last := 0
		if v := r.URL.Query().Get("last"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeJSONBody(rw, http.StatusBadRequest, map[string]string{"message": "last must be a non-negative integer"})
				return
			}
			last = n
		}
		writeJSONBody(rw, http.StatusOK, w.Timeline(last))
	})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// live reads the current values (not from the ring), for /status and
// metrics; it allocates and may run on any goroutine.
func (w *Watcher) live() (Sample, []string) {
	w.mu.Lock()
	gauges := append([]gauge(nil), w.gauges...)
	w.mu.Unlock()
	tmp := &Watcher{msamples: make([]metrics.Sample, mCount)}
	for i, name := range metricNames {
		tmp.msamples[i].Name = name
	}
	s := Sample{Time: w.opts.now(), Gauges: make([]int64, len(gauges))}
	tmp.read(&s, gauges)
	if tmp.rss.f != nil {
		tmp.rss.f.Close()
	}
	names := make([]string, len(gauges))
	for i, g := range gauges {
		names[i] = g.name
	}
	return s, names
}

// Component is one registered gauge (a cache, a queue, a snapshot) and its
// current size.
type Component struct {
	Name  string
	Bytes int64
}

// Current reads, now, the Go heap in use and every registered component,
// for metrics read at scrape time. It allocates and may run on any
// goroutine.
func (w *Watcher) Current() (heapInuse int64, comps []Component) {
	s, names := w.live()
	comps = make([]Component, len(names))
	for i, n := range names {
		comps[i] = Component{Name: n, Bytes: s.Gauges[i]}
	}
	return s.HeapInuse, comps
}

// SharedDict is one of sluice's bounded in-memory components as /status
// shows it in Kong's lua_shared_dicts and the Prometheus exporter in
// kong_memory_lua_shared_dict_*: bytes in use and capacity (0: none fixed).
type SharedDict struct {
	Name            string
	Bytes, Capacity int64
}

// StatusBlock is the memory block of GET /status with sizes in MiB and two
// decimals, as Kong's default.
func (w *Watcher) StatusBlock() map[string]any {
	m, _ := w.StatusBlockUnit("m", 2)
	return m
}

// StatusBlockUnit is the memory block of GET /status for Kong's ?unit= (b,
// k, m, g) and ?scale=. It keeps Kong's keys: workers_lua_vms has one entry
// (sluice is one process) whose http_allocated_gc is the Go heap in use, and
// lua_shared_dicts is empty. sluice's own fields sit beside them: rss,
// heap_inuse, heap_live, heap_goal, stacks, goroutines, gc_cycles, gomemlimit,
// cgroup_limit, components (the registered gauges), spikes_total and
// last_spike. gomemlimit and cgroup_limit are null when there is none.
func (w *Watcher) StatusBlockUnit(unit string, scale int) (map[string]any, error) {
	if _, err := FormatUnit(0, unit, scale); err != nil {
		return nil, err
	}
	f := func(n int64) any { v, _ := FormatUnit(n, unit, scale); return v }
	s, names := w.live()
	comps := make(map[string]any, len(names))
	for i, n := range names {
		comps[n] = f(s.Gauges[i])
	}
	m := map[string]any{
		"workers_lua_vms":  []map[string]any{{"http_allocated_gc": f(s.HeapInuse), "pid": os.Getpid()}},
		"lua_shared_dicts": map[string]any{},
		"rss":              f(s.RSS),
		"heap_inuse":       f(s.HeapInuse),
		"heap_live":        f(s.HeapLive),
		"heap_goal":        f(s.HeapGoal),
		"stacks":           f(s.Stacks),
		"goroutines":       s.Goroutines,
		"gc_cycles":        s.GCCycles,
		"gomemlimit":       nil,
		"cgroup_limit":     nil,
		"components":       comps,
		"spikes_total":     w.spikesTotal.Load(),
		"last_spike":       nil,
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		m["gomemlimit"] = f(l)
	}
	if w.opts.Limit.CgroupLimit > 0 {
		m["cgroup_limit"] = f(w.opts.Limit.CgroupLimit)
	}
	w.mu.Lock()
	if len(w.spikes) > 0 {
		sp := w.spikes[len(w.spikes)-1]
		m["last_spike"] = map[string]any{"time": sp.Time.UTC().Format(time.RFC3339), "summary": sp.Summary(), "profiles": sp.Profiles}
	}
	w.mu.Unlock()
	return m, nil
}

// formatUnit renders a byte count as Kong's /status does for ?unit= and
// ?scale= ("b" gives the number).
func FormatUnit(n int64, unit string, scale int) (any, error) {
	var div float64
	var suffix string
	switch unit {
	case "b", "B":
		return n, nil
	case "k", "K":
		div, suffix = 1<<10, "KiB"
	case "m", "M":
		div, suffix = 1<<20, "MiB"
	case "g", "G":
		div, suffix = 1<<30, "GiB"
	default:
		return nil, fmt.Errorf("invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", unit)
	}
	return strconv.FormatFloat(float64(n)/div, 'f', scale, 64) + " " + suffix, nil
}

// FormatBytes renders n for people: "512 B", "3.50 KiB", "12.34 MiB", "1.20 GiB".
func FormatBytes(n int64) string {
	neg := ""
	if n < 0 {
		neg, n = "-", -n
	}
	switch {
	case n >= 1<<30:
		return neg + strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return neg + strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB"
	case n >= 1<<10:
		return neg + strconv.FormatFloat(float64(n)/(1<<10), 'f', 2, 64) + " KiB"
	default:
		return neg + strconv.FormatInt(n, 10) + " B"
	}
}

// WriteMetrics writes the current memory gauges in the Prometheus text
// format (version 0.0.4): sluice_memory_heap_inuse_bytes,
// sluice_memory_heap_goal_bytes, sluice_memory_stacks_bytes,
// sluice_memory_rss_bytes, sluice_memory_goroutines,
// sluice_memory_gc_cycles_total, sluice_memory_gc_pause_seconds_total,
// sluice_memory_gomemlimit_bytes (when set), sluice_memory_spikes_total and
// sluice_memory_component_bytes{component="..."} for each registered gauge.
func (w *Watcher) WriteMetrics(out io.Writer) error {
	s, names := w.live()
	bw := bufio.NewWriter(out)
	var werr error // the first write error; later writes are skipped
	printf := func(format string, args ...any) {
		if werr == nil {
			_, werr = fmt.Fprintf(bw, format, args...)
		}
	}
	metric := func(name, typ, help string, v int64) {
		printf("# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	metric("sluice_memory_heap_inuse_bytes", "gauge", "Bytes of live and unswept Go heap objects.", s.HeapInuse)
	metric("sluice_memory_heap_goal_bytes", "gauge", "Heap size at which the next GC cycle starts.", s.HeapGoal)
	metric("sluice_memory_stacks_bytes", "gauge", "Bytes of goroutine stacks.", s.Stacks)
	metric("sluice_memory_rss_bytes", "gauge", "Resident set size of the process.", s.RSS)
	metric("sluice_memory_goroutines", "gauge", "Live goroutines.", s.Goroutines)
	metric("sluice_memory_gc_cycles_total", "counter", "Completed GC cycles.", s.GCCycles)
	printf("# HELP sluice_memory_gc_pause_seconds_total Stop-the-world GC pause time.\n# TYPE sluice_memory_gc_pause_seconds_total counter\nsluice_memory_gc_pause_seconds_total %s\n",
		strconv.FormatFloat(float64(s.GCPauseNs)/1e9, 'g', -1, 64))
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		metric("sluice_memory_gomemlimit_bytes", "gauge", "Go runtime soft memory limit.", l)
	}
	metric("sluice_memory_spikes_total", "counter", "Memory spikes detected.", w.spikesTotal.Load())
	if len(names) > 0 {
		printf("# HELP sluice_memory_component_bytes Bytes held by a component (snapshots, caches, queues).\n# TYPE sluice_memory_component_bytes gauge\n")
		for i, n := range names {
			printf("sluice_memory_component_bytes{component=\"%s\"} %d\n", escapeLabel(n), s.Gauges[i])
		}
	}
	if err := bw.Flush(); werr == nil {
		werr = err
	}
	return werr
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
