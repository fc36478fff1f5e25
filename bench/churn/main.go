// Command churn is the churn benchmark of issue 5: several sluice replicas
// on one PostgreSQL database (or DB-less replicas fed the whole config
// through POST /config), thousands of routes and consumers with key-auth
// and rate-limiting, an open-loop load at a fixed rate, and a bulk config
// change every period. It samples each replica's memory and the latency of
// every request, and writes a JSON summary, a CSV timeline and a PNG plot
// under bench/results/churn-<time>/, then prints the verdict against the
// issue's bounds.
//
//	go run ./bench/churn [-mode postgres|off] [-replicas 3] [-routes 5000] ...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sluice/bench/internal/openloop"
	"sluice/bench/internal/procstat"
)

type options struct {
	mode                 string
	replicas             int
	routes, consumers    int
	rate                 float64
	conns                int
	duration, warmup     time.Duration
	period, after        time.Duration
	routeFrac, keyFrac   float64
	addFrac              float64
	workers              int
	gomemlimit           string
	plugins              bool
	sluice, out          string
	keep                 bool
	pg                   pgConfig
	lagTimeout           time.Duration
	sampleEvery          time.Duration
	seed                 uint64
	logLevel             string
	dbUpdateFrequencySec int
	controlRate          float64
	toolsNice            int
	loadgen              bool
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "postgres", "postgres: replicas share one database, changes go through node 1's Admin API; off: DB-less replicas, the whole config is POSTed to each one's /config every period")
	flag.IntVar(&o.replicas, "replicas", 3, "sluice replicas")
	flag.IntVar(&o.routes, "routes", 5000, "services, each with one route")
	flag.IntVar(&o.consumers, "consumers", 5000, "consumers, each with one key-auth credential")
	flag.Float64Var(&o.rate, "rate", 500, "total requests per second, spread evenly over the replicas")
	flag.IntVar(&o.conns, "conns", 16, "keep-alive connections per replica")
	flag.DurationVar(&o.duration, "duration", 2*time.Minute, "measured time after the warm-up")
	flag.DurationVar(&o.warmup, "warmup", 15*time.Second, "load before measuring (no changes)")
	flag.DurationVar(&o.period, "period", 15*time.Second, "time between bulk changes")
	flag.DurationVar(&o.after, "window", 3*time.Second, "how long after a change its latency counts as 'after the change'")
	flag.Float64Var(&o.routeFrac, "route-frac", 0.20, "fraction of routes whose path changes in each bulk change")
	flag.Float64Var(&o.keyFrac, "key-frac", 0.10, "fraction of credentials rotated (deleted and created) in each bulk change")
	flag.Float64Var(&o.addFrac, "add-frac", 0.01, "services added (and removed at the next change) per bulk change, as a fraction of routes")
	flag.IntVar(&o.workers, "workers", 8, "concurrent Admin API writers")
	flag.StringVar(&o.gomemlimit, "gomemlimit", "230MiB", "GOMEMLIMIT of each replica (230MiB: 0.9 of a 256 MiB container); empty: unset")
	flag.BoolVar(&o.plugins, "plugins", true, "enable key-auth and rate-limiting globally")
	flag.StringVar(&o.sluice, "sluice", "", "use this sluice binary instead of building ./cmd/sluice")
	flag.StringVar(&o.out, "out", "", "results directory (default bench/results/churn-<time>)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (process logs) and the database")
	flag.StringVar(&o.pg.Host, "pg-host", "127.0.0.1", "PostgreSQL host")
	flag.IntVar(&o.pg.Port, "pg-port", 5432, "PostgreSQL port")
	flag.StringVar(&o.pg.User, "pg-user", "postgres", "PostgreSQL user (needs CREATE DATABASE)")
	flag.StringVar(&o.pg.Password, "pg-password", os.Getenv("PGPASSWORD"), "PostgreSQL password (default $PGPASSWORD)")
	flag.DurationVar(&o.lagTimeout, "lag-timeout", 10*time.Second, "give up waiting for a replica to serve a change after this")
	flag.DurationVar(&o.sampleEvery, "sample", 500*time.Millisecond, "memory sampling interval")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed of the changes and the request mix")
	flag.StringVar(&o.logLevel, "log-level", "warn", "replicas' log_level")
	flag.IntVar(&o.dbUpdateFrequencySec, "db-update-frequency", 0, "replicas' db_update_frequency in seconds (0: sluice's default)")
	flag.IntVar(&o.toolsNice, "tools-nice", -10, "nice value of the load generator (a child process) and the upstream; the replicas, PostgreSQL and the harness with its Admin API writer keep 0; 0: all at the same priority")
	flag.BoolVar(&o.loadgen, "loadgen", false, "internal: run as the load generator child (a JSON spec on stdin, the report on stdout)")
	flag.Float64Var(&o.controlRate, "control-rate", 50, "requests per second sent straight to the upstream as a control (the machine's own latency noise); 0: none")
	flag.Parse()
	if o.loadgen {
		if err := runLoadgen(context.Background(), os.Stdin, os.Stdout); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if o.mode != "postgres" && o.mode != "off" {
		fatalf("-mode %q: want postgres or off", o.mode)
	}
	if o.replicas < 1 || o.routes < 10 || o.consumers < 10 || o.rate <= 0 || o.conns < 1 || o.period <= 0 || o.duration <= 0 {
		fatalf("want -replicas >= 1, -routes and -consumers >= 10, positive -rate, -conns, -period and -duration")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "churn: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Printf("%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Summary is summary.json.
type Summary struct {
	Started   time.Time         `json:"started"`
	Command   []string          `json:"command"`
	Mode      string            `json:"mode"`
	Replicas  int               `json:"replicas"`
	Routes    int               `json:"routes"`
	Consumers int               `json:"consumers"`
	Plugins   string            `json:"plugins"`
	Rate      float64           `json:"rate"`
	Warmup    float64           `json:"warmup_s"`
	Duration  float64           `json:"duration_s"`
	Period    float64           `json:"period_s"`
	Window    float64           `json:"after_change_window_s"`
	GoMemLim  string            `json:"gomemlimit"`
	Heap      bool              `json:"heap_from_debug_memory"`
	LoadTime  float64           `json:"initial_load_s"`
	AdminErrs int64             `json:"admin_errors"`
	AdminErr  string            `json:"first_admin_error,omitempty"`
	Changes   []Change          `json:"changes"`
	Load      []openloop.Result `json:"load"`
	Replica   []ReplicaSummary  `json:"per_replica"`
	Control   *Control          `json:"control,omitempty"`
	LoadAvg   [2]float64        `json:"loadavg_1min_start_end"`
	ToolsNice int               `json:"load_generator_nice"`
	CPUs      int               `json:"cpus"`
	Bounds    Bounds            `json:"bounds"`
	Pass      bool              `json:"pass"`
	Notes     []string          `json:"notes,omitempty"`
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, "bench", "results", "churn-"+started.UTC().Format("20060102-150405"))
	}
	work, err := os.MkdirTemp("", "sluice-churn-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work directory (logs): %s", work)
	} else {
		defer func() { _ = os.RemoveAll(work) }()
	}

	// Build.
	bin := o.sluice
	if bin == "" {
		bin = filepath.Join(work, "sluice")
		logf("building sluice")
		if err := build(ctx, root, bin, "./cmd/sluice"); err != nil {
			return err
		}
	}
	upBin := filepath.Join(work, "upstream")
	if err := build(ctx, root, upBin, "./bench/proxy/upstream"); err != nil {
		return err
	}

	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop(5 * time.Second)
		}
	}()

	// Upstream.
	upPort, err := freePort()
	if err != nil {
		return err
	}
	up, err := startProc(work, "upstream", nil, niceArgv(o.toolsNice, []string{upBin, "-listen", "127.0.0.1:" + strconv.Itoa(upPort)})...)
	if err != nil {
		return err
	}
	procs = append(procs, up)
	upURL := "http://127.0.0.1:" + strconv.Itoa(upPort)
	if err := waitStatus(ctx, up, upURL+"/", 200, 10*time.Second); err != nil {
		return err
	}

	// Database.
	env := []string{"KONG_PROXY_ACCESS_LOG=off", "KONG_LOG_LEVEL=" + o.logLevel}
	if o.gomemlimit != "" {
		env = append(env, "GOMEMLIMIT="+o.gomemlimit)
	}
	if o.dbUpdateFrequencySec > 0 {
		env = append(env, "KONG_DB_UPDATE_FREQUENCY="+strconv.Itoa(o.dbUpdateFrequencySec))
	}
	if o.mode == "postgres" {
		db := "sluice_churn_" + strconv.FormatInt(started.Unix(), 10)
		if err := o.pg.createDB(ctx, db); err != nil {
			return fmt.Errorf("creating database %s on %s:%d as %s: %w", db, o.pg.Host, o.pg.Port, o.pg.User, err)
		}
		logf("database %s created", db)
		if !o.keep {
			defer func() {
				// Replicas first: they hold connections.
				for _, p := range procs {
					p.stop(5 * time.Second)
				}
				c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := o.pg.dropDB(c, db); err != nil {
					logf("dropping database %s: %v", db, err)
				} else {
					logf("database %s dropped", db)
				}
			}()
		}
		env = append(env, "KONG_DATABASE=postgres")
		env = append(env, o.pg.env(db)...)
		p, err := startProc(work, "migrations", env, bin, "migrations", "bootstrap")
		if err != nil {
			return err
		}
		<-p.done
		if p.cmd.ProcessState.ExitCode() != 0 {
			return fmt.Errorf("sluice migrations bootstrap failed:\n%s", p.logTail())
		}
	} else {
		env = append(env, "KONG_DATABASE=off")
	}

	// Replicas.
	reps := make([]*replica, o.replicas)
	for i := range reps {
		var ports [3]int
		for k := range ports {
			if ports[k], err = freePort(); err != nil {
				return err
			}
		}
		r := &replica{proxy: "127.0.0.1:" + strconv.Itoa(ports[0]), admin: "127.0.0.1:" + strconv.Itoa(ports[1]), status: "127.0.0.1:" + strconv.Itoa(ports[2])}
		prefix := filepath.Join(work, fmt.Sprintf("node%d", i+1))
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return err
		}
		e := append(append([]string(nil), env...), "KONG_PREFIX="+prefix, "KONG_PROXY_LISTEN="+r.proxy, "KONG_ADMIN_LISTEN="+r.admin, "KONG_STATUS_LISTEN="+r.status)
		if r.p, err = startProc(work, fmt.Sprintf("node%d", i+1), e, bin, "start"); err != nil {
			return err
		}
		procs = append(procs, r.p)
		reps[i] = r
	}
	for _, r := range reps {
		if err := waitStatus(ctx, r.p, "http://"+r.status+"/status", 200, 30*time.Second); err != nil {
			return err
		}
	}
	heap := true
	for _, r := range reps {
		if code, _, err := call(ctx, http.MethodGet, "http://"+r.status+"/debug/memory?last=1", nil); err != nil || code != 200 {
			heap = false
		}
	}
	logf("%d replicas up (%s mode); heap from /debug/memory: %v", len(reps), o.mode, heap)

	// Initial configuration.
	st := newState(upURL, o.routes, o.consumers, o.plugins)
	adm := &admin{base: "http://" + reps[0].admin, workers: o.workers}
	loadStart := time.Now()
	if o.mode == "postgres" {
		logf("loading %d services and routes, %d consumers with key-auth credentials through node 1's Admin API (%d workers)", o.routes, o.consumers, o.workers)
		if err := adm.load(ctx, st); err != nil {
			return fmt.Errorf("initial load: %d errors, first: %w", adm.errs.Load(), err)
		}
	} else {
		body, err := st.declarative()
		if err != nil {
			return err
		}
		logf("posting the config (%d KiB JSON) to each replica's /config", len(body)>>10)
		for _, r := range reps {
			if err := postConfig(ctx, r.admin, body); err != nil {
				return err
			}
		}
	}
	// Every replica serves the last route with the last consumer's key.
	for i, r := range reps {
		if _, ok := probe(ctx, r.proxy, st.routePath[len(st.routePath)-1]+"/x", st.keys[len(st.keys)-1], 60*time.Second); !ok {
			return fmt.Errorf("replica %d does not serve the last route 60 s after the load:\n%s", i+1, r.p.logTail())
		}
	}
	loadTime := time.Since(loadStart)
	logf("configuration loaded and served by every replica in %.1f s", loadTime.Seconds())

	var notes []string
	pluginNote := "key-auth and rate-limiting (global)"
	if o.plugins {
		// The plugins are the last writes: wait until each replica asks
		// for a key.
		for i, r := range reps {
			if err := waitStatus(ctx, nil, "http://"+r.proxy+loadPath(0), http.StatusUnauthorized, 20*time.Second); err != nil {
				pluginNote = fmt.Sprintf("plugins inactive on replica %d: %v", i+1, err)
				notes = append(notes, pluginNote)
				logf("warning: %s", pluginNote)
				break
			}
		}
	} else {
		pluginNote = "none (-plugins=false)"
	}

	// Request mix: random load routes with random load consumers' keys.
	rng := rand.New(rand.NewPCG(o.seed, 2))
	mix := make([][]byte, 4096)
	for i := range mix {
		mix[i] = openloop.Request("churn", loadPath(rng.IntN(st.loadRoutes)), keyHeader, st.keys[rng.IntN(st.loadConsumers)])
	}

	// Samplers and load.
	total := o.warmup + o.duration
	t0 := time.Now().Add(20 * time.Millisecond) // ~ openloop's start
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	mem := make([][]memSample, len(reps))
	reqs := make([][]reqSample, len(reps))
	results := make([]openloop.Result, len(reps))
	var loadErr error
	var ctlReqs []reqSample
	var ctlRes openloop.Result
	loadAvgStart := loadAvg()
	sampCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var wg, swg sync.WaitGroup
	for i, r := range reps {
		swg.Add(1)
		go func() {
			defer swg.Done()
			mem[i] = sampleMemory(sampCtx, r, heap, o.sampleEvery, sec)
		}()
	}
	spec := loadSpec{Duration: total, Grace: 5 * time.Second, Epoch: t0.UnixNano()}
	for _, r := range reps {
		spec.Streams = append(spec.Streams, stream{Addr: r.proxy, Rate: o.rate / float64(len(reps)), Conns: o.conns, Requests: mix})
	}
	if o.controlRate > 0 {
		spec.Streams = append(spec.Streams, stream{Addr: "127.0.0.1:" + strconv.Itoa(upPort), Rate: o.controlRate, Conns: 2,
			Requests: [][]byte{openloop.Request("churn", "/x")}})
	}
	toolsNice := o.toolsNice
	if toolsNice < 0 && !canRaisePriority() {
		notes = append(notes, "load generator left at the replicas' priority: raising it needs root or CAP_SYS_NICE")
		toolsNice = 0
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep, err := runLoad(ctx, spec, toolsNice)
		if err != nil {
			logf("load: %v", err)
			loadErr = err
			return
		}
		for i := range reps {
			reqs[i], results[i] = rep.Samples[i], rep.Results[i]
			if rep.Errors[i] != "" {
				logf("load on replica %d: %s", i+1, rep.Errors[i])
			}
		}
		if o.controlRate > 0 {
			ctlReqs, ctlRes = rep.Samples[len(reps)], rep.Results[len(reps)]
		}
	}()
	logf("load: %.0f req/s over %d replicas for %v (warm-up %v), a bulk change every %v", o.rate, len(reps), total, o.warmup, o.period)

	// Bulk changes.
	var changes []Change
	nAdd := max(1, int(o.addFrac*float64(o.routes)+0.5))
	overran := false
	for k := 1; ; k++ {
		at := t0.Add(o.warmup + time.Duration(k)*o.period)
		if at.Add(o.after).After(t0.Add(total)) || time.Now().Add(o.after).After(t0.Add(total)) {
			break
		}
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return ctx.Err()
		}
		b := st.plan(rng, o.routeFrac, o.keyFrac, nAdd)
		c, err := applyChange(ctx, o, st, adm, reps, b, sec)
		if err != nil {
			return err
		}
		changes = append(changes, c)
		what := fmt.Sprintf("%d Admin API writes in %.2f s (%.0f/s)", c.Writes, c.End-c.Start, float64(c.Writes)/max(c.End-c.Start, 1e-3))
		if o.mode == "off" {
			what = fmt.Sprintf("config posted to %d replicas in %.2f s", len(reps), c.End-c.Start)
		}
		logf("change %d: %s; lag per replica (ms): %s", b.gen, what, lagText(c.Lags))
		if c.End-c.Start > o.period.Seconds() && !overran {
			overran = true
			notes = append(notes, fmt.Sprintf("change %d took %.1f s, longer than the %v period: the changes ran back to back and fewer fitted in the run", b.gen, c.End-c.Start, o.period))
		}
	}
	wg.Wait()
	stopSampling()
	swg.Wait()
	if loadErr != nil {
		return loadErr
	}

	// Summary.
	from, to := o.warmup.Seconds(), total.Seconds()
	sum := Summary{Started: started.UTC(), Command: os.Args, Mode: o.mode, Replicas: o.replicas, Routes: o.routes, Consumers: o.consumers,
		Plugins: pluginNote, Rate: o.rate, Warmup: from, Duration: o.duration.Seconds(), Period: o.period.Seconds(), Window: o.after.Seconds(),
		GoMemLim: o.gomemlimit, Heap: heap, ToolsNice: toolsNice, LoadTime: loadTime.Seconds(), AdminErrs: adm.errs.Load(), Changes: changes, Load: results, Bounds: IssueBounds, Notes: notes}
	if err := adm.firstErr(); err != nil {
		sum.AdminErr = err.Error()
	}
	secs := make([][]Second, len(reps))
	for i := range reps {
		sum.Replica = append(sum.Replica, summarize(i, mem[i], reqs[i], results[i].Missed, changes, from, to, o.after.Seconds()))
		secs[i] = perSecond(reqs[i])
		if heap {
			sum.Replica[i].Reloads = reloadEvents(ctx, reps[i].status, t0.Add(o.warmup))
		}
	}
	sum.LoadAvg, sum.CPUs = [2]float64{loadAvgStart, loadAvg()}, runtime.NumCPU()
	if o.controlRate > 0 {
		c := control(ctlReqs, ctlRes.Missed, changes, from, to, o.after.Seconds())
		sum.Control = &c
	}
	if busy := max(sum.LoadAvg[0], sum.LoadAvg[1]); busy > float64(sum.CPUs) {
		sum.Notes = append(sum.Notes, fmt.Sprintf("busy machine: 1-minute load average %.1f on %d CPUs; latency figures include other processes' interference (see the control)", busy, sum.CPUs))
	}
	checks := verdict(sum.Replica, IssueBounds)
	sum.Pass = len(checks) > 0
	for _, c := range checks {
		sum.Pass = sum.Pass && c.Pass
	}
	if len(changes) == 0 {
		sum.Pass = false
		sum.Notes = append(sum.Notes, "no bulk change fitted in the duration")
	}
	if err := writeResults(o.out, sum, mem, secs, perSecond(ctlReqs), changes, heap); err != nil {
		return err
	}
	fmt.Println()
	fmt.Printf("churn benchmark, mode %s: %d replicas, %d routes, %d consumers, plugins: %s, %.0f req/s, %d changes\n", o.mode, o.replicas, o.routes, o.consumers, pluginNote, o.rate, len(changes))
	for _, r := range sum.Replica {
		heapTxt := "heap n/a"
		if heap {
			heapTxt = fmt.Sprintf("heap median %.1f MiB peak %.1f MiB", r.HeapMedianMiB, r.HeapPeakMiB)
		}
		fmt.Printf("replica %d: RSS median %.1f MiB peak %.1f MiB (before the first change %.1f MiB: peak/before %.2f); %s; p50 %.2f ms; CPU %.0f%% after changes, %.0f%% elsewhere; %d reload events\n",
			r.Replica+1, r.RSSMedianMiB, r.RSSPeakMiB, r.RSSBeforeMiB, r.GrowthRatio, heapTxt, r.P50MS, r.CPUChangePct, r.CPUOtherPct, r.Reloads)
	}
	for _, r := range sum.Replica {
		fmt.Printf("replica %d p99 (ms) by seconds since a change started: %s\n", r.Replica+1, profileText(r.AroundChange))
	}
	if c := sum.Control; c != nil {
		fmt.Printf("control (straight to the upstream, %.0f req/s): p99 after changes %.1f ms, elsewhere %.1f ms, ratio %.2f, failed %d\n", o.controlRate, c.P99ChangeMS, c.P99OtherMS, c.P99Ratio, c.Failed)
	}
	for _, n := range sum.Notes {
		fmt.Printf("note: %s\n", n)
	}
	if sum.AdminErrs > 0 {
		fmt.Printf("Admin API errors: %d (first: %s)\n", sum.AdminErrs, sum.AdminErr)
	}
	fmt.Println()
	fmt.Print(verdictTable(checks))
	verdictWord := "PASS"
	if !sum.Pass {
		verdictWord = "FAIL"
	}
	fmt.Printf("\nverdict: %s\nresults: %s\n", verdictWord, o.out)
	return nil
}

func lagText(lags []float64) string {
	s := ""
	for i, l := range lags {
		if i > 0 {
			s += " "
		}
		if math.IsNaN(l) {
			s += "never"
		} else {
			s += strconv.FormatFloat(l*1000, 'f', 0, 64)
		}
	}
	return s
}

// applyChange applies one bulk change and measures each replica's lag.
func applyChange(ctx context.Context, o options, st *state, adm *admin, reps []*replica, b batch, sec func(time.Time) float64) (Change, error) {
	probeKey := st.keys[0] // a load consumer: never rotated
	c := Change{Lags: make([]float64, len(reps))}
	start := time.Now()
	c.Start = sec(start)
	var wg sync.WaitGroup
	if o.mode == "postgres" {
		c.Writes = adm.change(ctx, st, b)
		ref := time.Now() // the probe route exists in the database
		c.End = sec(ref)
		for i, r := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Lags[i] = math.NaN()
				if t, ok := probe(ctx, r.proxy, "/"+b.probe, probeKey, o.lagTimeout); ok {
					c.Lags[i] = t.Sub(ref).Seconds()
				}
			}()
		}
		wg.Wait()
		st.apply(b)
	} else {
		st.apply(b)
		body, err := st.declarative()
		if err != nil {
			return c, err
		}
		c.Writes = 1
		var mu sync.Mutex
		var firstErr error
		for i, r := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Lags[i] = math.NaN()
				// The replica serves the change from the moment it swaps
				// its snapshot, before it has written its answer (every
				// entity): the probe runs while the POST does.
				sent := time.Now()
				posted := make(chan error, 1)
				go func() { posted <- postConfig(ctx, r.admin, body) }()
				served, ok := probe(ctx, r.proxy, "/"+b.probe, probeKey, o.lagTimeout)
				if err := <-posted; err != nil {
					adm.errs.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						adm.mu.Lock()
						if adm.first == nil {
							adm.first = err
						}
						adm.mu.Unlock()
					}
					mu.Unlock()
					return
				}
				if ok {
					c.Lags[i] = served.Sub(sent).Seconds()
				}
			}()
		}
		wg.Wait()
		c.End = sec(time.Now())
		if firstErr != nil {
			logf("change %d: %v", b.gen, firstErr)
		}
	}
	return c, nil
}

// sampleMemory reads a replica's RSS (and heap when /debug/memory answers)
// every interval until ctx ends.
func sampleMemory(ctx context.Context, r *replica, heap bool, every time.Duration, sec func(time.Time) float64) []memSample {
	var out []memSample
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		now := time.Now()
		m, err := procstat.Proc.Memory(r.p.pid())
		if err == nil {
			s := memSample{T: sec(now), RSS: m.RSSKiB << 10, Heap: -1, CPU: -1}
			if st, err := procstat.Proc.Stat(r.p.pid()); err == nil {
				s.CPU = st.CPUSeconds()
			}
			if heap {
				s.Heap = heapInuse(ctx, r.status)
			}
			out = append(out, s)
		}
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

func heapInuse(ctx context.Context, status string) int64 {
	code, body, err := call(ctx, http.MethodGet, "http://"+status+"/debug/memory?last=1", nil)
	if err != nil || code != 200 {
		return -1
	}
	var tl struct {
		Samples []struct {
			HeapInuse int64 `json:"heap_inuse"`
		} `json:"samples"`
	}
	if json.Unmarshal(body, &tl) != nil || len(tl.Samples) == 0 {
		return -1
	}
	return tl.Samples[len(tl.Samples)-1].HeapInuse
}

// writeResults writes summary.json, timeline.csv and plot.png.
func writeResults(dir string, sum Summary, mem [][]memSample, secs [][]Second, ctl []Second, changes []Change, heap bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "timeline.csv"))
	if err != nil {
		return err
	}
	if err := writeTimeline(f, mem, secs, changes); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	title := fmt.Sprintf("mode %s, %d routes, %d consumers, %.0f req/s", sum.Mode, sum.Routes, sum.Consumers, sum.Rate)
	pf, err := os.Create(filepath.Join(dir, "plot.png"))
	if err != nil {
		return err
	}
	if err := chart(title, mem, secs, ctl, changes, heap, sum.Warmup, sum.Window).PNG(pf); err != nil {
		pf.Close()
		return err
	}
	return errors.Join(pf.Close())
}

// loadAvg is the 1-minute load average, or 0 when unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(string(b), &v)
	return v
}

// reloadEvents counts the reload events a replica's /debug/memory
// timeline holds since the given time (0 when it cannot tell).
func reloadEvents(ctx context.Context, status string, since time.Time) int {
	code, body, err := call(ctx, http.MethodGet, "http://"+status+"/debug/memory", nil)
	if err != nil || code != 200 {
		return 0
	}
	var tl struct {
		Events []struct {
			Time time.Time `json:"time"`
			Kind string    `json:"kind"`
		} `json:"events"`
	}
	if json.Unmarshal(body, &tl) != nil {
		return 0
	}
	n := 0
	for _, e := range tl.Events {
		if e.Kind == "reload" && !e.Time.Before(since) {
			n++
		}
	}
	return n
}
