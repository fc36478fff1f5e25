// Command proxy is sluice's proxy benchmark: it measures sluice side by
// side with nginx (the reference proxy) and a minimal Go reverse proxy (the
// Go floor) on this machine, in one run.
//
//	go run ./bench/proxy            # full run, about 17 minutes
//	go run ./bench/proxy -d 2s -rounds 1 -bodies small   # smoke run
//
// It installs nginx and wrk with apt-get when they are missing, builds
// sluice and its own helpers, starts an upstream, the proxies (each on its
// own loopback port, pinned with the upstream to CPU 1) and drives each
// with wrk pinned to CPU 0, in interleaved rounds. Then it runs a fixed-rate
// open-loop load at half of nginx's capacity through each proxy for added
// latency. It prints the table and writes JSON and markdown under
// bench/results/. See bench/README.md for what each figure means.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"sluice/bench/benchstats"
	"sluice/bench/internal/confgen"
	"sluice/bench/internal/openloop"
	"sluice/bench/internal/procstat"
	"sluice/bench/internal/report"
	"sluice/bench/internal/wrk"
)

// harness holds the state of one benchmark run.
type harness struct {
	tools        tools
	procs        procs
	tmp          string
	sluiceBin    string
	gofloorBin   string
	loadgenBin   string
	upstream     *proc
	upstreamAddr string
	keepalive    int
	warnings     []string
	perf         string // perf binary, when -perf
	pprof        bool   // fetch Go profiles, when -pprof
	perfDir      string // where profiles go
	perfStamp    string
	scripts      map[string]string // target/body -> Lua script path
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func (h *harness) warnf(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	h.warnings = append(h.warnings, w)
	h.logf("warning: %s", w)
}

// options are the command-line flags.
type options struct {
	dur        time.Duration
	rounds     int
	conns      []int
	bodies     []string
	targets    []string
	keepalive  int
	latency    bool
	rate       float64
	out        string
	sluiceBin  string
	noInstall  bool
	keep       bool
	perf       bool
	pprof      bool
	warmup     time.Duration
	latencyDur time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.DurationVar(&o.dur, "d", 10*time.Second, "duration of each wrk run")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (A B C ..., repeated)")
	conns := fs.String("conns", "64,256", "wrk connection counts")
	bodies := fs.String("bodies", "small,16k", "upstream bodies: small (13 bytes) and/or 16k")
	targets := fs.String("targets", strings.Join(allTargets, ","), "targets to run")
	fs.IntVar(&o.keepalive, "keepalive", 64, "idle upstream keep-alive connections of nginx and the Go floor")
	fs.BoolVar(&o.latency, "latency", true, "run the fixed-rate added-latency phase")
	fs.Float64Var(&o.rate, "rate", 0, "fixed rate of the latency phase (default: half of nginx's measured req/s at the first conns and body)")
	fs.DurationVar(&o.latencyDur, "latency-d", 0, "duration of each fixed-rate run (default: -d)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded wrk run against each target before the rounds")
	fs.StringVar(&o.out, "out", "", "results directory (default: bench/results in the repository)")
	fs.StringVar(&o.sluiceBin, "sluice", "", "use this sluice binary instead of building ./cmd/sluice")
	fs.BoolVar(&o.noInstall, "no-install", false, "do not apt-get install missing tools")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	fs.BoolVar(&o.pprof, "pprof", false, "fetch Go CPU and allocation profiles (pprof) of sluice and the Go floor during their round-1 run at the first conns and body; written next to the results")
	fs.BoolVar(&o.perf, "perf", false, "record a CPU profile (perf record -g) of each proxy during its round-1 run at the first conns and body; writes perf report text next to the results")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.conns, err = parseInts(*conns); err != nil {
		return o, fmt.Errorf("-conns: %w", err)
	}
	o.bodies = splitList(*bodies)
	for _, b := range o.bodies {
		if b != "small" && b != "16k" {
			return o, fmt.Errorf("-bodies: %q is neither small nor 16k", b)
		}
	}
	o.targets = splitList(*targets)
	for _, t := range o.targets {
		if !slices.Contains(allTargets, t) {
			return o, fmt.Errorf("-targets: unknown %q (have %s)", t, strings.Join(allTargets, ", "))
		}
	}
	if o.dur < time.Second || o.rounds < 1 || len(o.bodies) == 0 || len(o.targets) == 0 || o.keepalive < 1 {
		return o, fmt.Errorf("need -d of at least 1s, -rounds >= 1, a body, a target and -keepalive >= 1")
	}
	if o.latencyDur == 0 {
		o.latencyDur = o.dur
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != f {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{keepalive: o.keepalive, scripts: map[string]string{}}
	code := 0
	if err := h.run(ctx, o); err != nil {
		h.logf("error: %v", err)
		code = 1
	}
	h.procs.stopAll()
	if h.tmp != "" && !o.keep {
		if err := os.RemoveAll(h.tmp); err != nil {
			h.logf("removing %s: %v", h.tmp, err)
		}
	} else if h.tmp != "" {
		h.logf("kept %s", h.tmp)
	}
	os.Exit(code)
}

func (h *harness) run(ctx context.Context, o options) error {
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("need at least 2 CPUs (wrk on CPU 0, proxy and upstream on CPU 1); have %d", runtime.NumCPU())
	}
	var err error
	if h.tools, err = ensureTools(ctx, !o.noInstall, h.logf); err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if h.tmp, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return err
	}
	h.logf("building into %s", h.tmp)
	if o.sluiceBin != "" {
		h.sluiceBin = o.sluiceBin
	} else if needsSluice(o.targets) {
		if h.sluiceBin, err = buildSluice(ctx, root, h.tmp); err != nil {
			if ctx.Err() != nil {
				return err
			}
			// Measure the references anyway; the report says why sluice is missing.
			h.warnf("sluice targets skipped: %v", err)
			o.targets = slices.DeleteFunc(o.targets, func(t string) bool { return strings.HasPrefix(t, "sluice") })
		}
	}
	for _, b := range []struct {
		dst *string
		pkg string
	}{{&h.gofloorBin, "./bench/proxy/gofloor"}, {&h.loadgenBin, "./bench/proxy/loadgen"}} {
		if *b.dst, err = build(ctx, root, h.tmp, filepath.Base(b.pkg), b.pkg); err != nil {
			return err
		}
	}
	upBin, err := build(ctx, root, h.tmp, "upstream", "./bench/proxy/upstream")
	if err != nil {
		return err
	}

	// The upstream.
	port, err := freePort()
	if err != nil {
		return err
	}
	h.upstreamAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if h.upstream, err = h.procs.start(h.tools, h.tmp, "upstream", 1, nil, upBin, "-listen", h.upstreamAddr); err != nil {
		return err
	}
	if err := waitFor(ctx, h.upstream, "http://"+h.upstreamAddr+"/small", 200, 10*time.Second); err != nil {
		return err
	}

	// The targets, all running for the whole benchmark.
	upURL := "http://" + h.upstreamAddr
	var targets []*target
	for _, name := range o.targets {
		var t *target
		var err error
		switch name {
		case tDirect:
			t = &target{name: tDirect, addr: h.upstreamAddr, proc: h.upstream, note: "upstream, no proxy"}
		case tNginx:
			t, err = h.startNginx(ctx)
		case tGoFloor:
			t, err = h.startGoFloor(ctx)
		case tSluice1:
			t, err = h.startSluice(ctx, name, confgen.Kong{Upstream: upURL})
		case tSluiceKong:
			t, err = h.startSluice(ctx, name, confgen.Kong{Upstream: upURL, Services: 100, Consumers: 100, Plugins: true})
		case tSluice10k:
			t, err = h.startSluice(ctx, name, confgen.Kong{Upstream: upURL, Services: 10000, Consumers: 10000, Plugins: true})
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			h.warnf("%s skipped: %v", name, err)
			continue
		}
		h.logf("%s on %s (pid %d) %s", t.name, t.addr, t.proc.pid(), t.note)
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return fmt.Errorf("no target started")
	}

	started := time.Now().UTC()
	if o.perf || o.pprof {
		if o.perf {
			if h.perf = find("perf"); h.perf == "" {
				return fmt.Errorf("-perf: perf not found (apt-get install linux-perf)")
			}
		}
		h.pprof = o.pprof
		h.perfDir, h.perfStamp = resultsDir(o, root), started.Format(stampLayout)
		if err := os.MkdirAll(h.perfDir, 0o755); err != nil {
			return err
		}
	}
	rep := report.Report{
		Started:  started,
		Host:     hostInfo(ctx, h.tools, root),
		Settings: settings(o),
	}
	notes := map[string]string{}
	for _, t := range targets {
		notes[t.name] = t.note
	}
	total := time.Duration(len(targets)*len(o.conns)*len(o.bodies)*o.rounds) * (o.dur + time.Second)
	if o.latency {
		total += time.Duration(len(targets)*o.rounds) * (o.latencyDur + time.Second)
	}
	h.logf("%d targets, about %v to go", len(targets), total.Round(time.Second))
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		h.logf("load average before: %s", strings.TrimSpace(string(la)))
		var l1 float64
		if _, err := fmt.Sscanf(string(la), "%f", &l1); err == nil && l1 > 0.5 {
			h.warnf("machine not idle at start (1-minute load average %.2f): figures are noisy", l1)
		}
	}

	// Warm-up, unrecorded.
	for _, t := range targets {
		if o.warmup > 0 {
			if _, err := h.wrk(ctx, t, o.conns[0], o.bodies[0], o.warmup); err != nil {
				h.warnf("%s warm-up: %v", t.name, err)
			}
		}
	}
	// From here on VmHWM is the peak under load, not while loading config.
	rep.StartupPeakRSSMiB = map[string]float64{}
	for _, t := range targets {
		if u, err := procstat.Proc.TreeUsage(t.proc.pid()); err == nil {
			rep.StartupPeakRSSMiB[t.name] = float64(u.HWMKiB) / 1024
		}
		if err := procstat.Proc.ResetPeak(t.proc.pid()); err != nil {
			h.warnf("%s: peak RSS includes start-up: %v", t.name, err)
		}
	}
	// Closed-loop rounds: A B C ..., A B C ...
	for round := 1; round <= o.rounds; round++ {
		for _, body := range o.bodies {
			for _, c := range o.conns {
				for _, t := range targets {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					profile := (o.perf || o.pprof) && round == 1 && body == o.bodies[0] && c == o.conns[0] && t.name != tDirect
					r, err := h.measure(ctx, t, c, body, o.dur, profile)
					if err != nil {
						h.warnf("%s round %d %s c=%d: %v", t.name, round, body, c, err)
						continue
					}
					r.Round = round
					rep.Runs = append(rep.Runs, r)
					h.logf("round %d %-15s %-5s c=%-3d %8.0f req/s p50 %6.0fus p99 %7.0fus cpu %.2fs -> %6.0f req/CPU-s rss %.1fMiB err %d",
						round, t.name, body, c, r.RPS, r.P50US, r.P99US, r.CPUSeconds, r.ReqPerCPUSecond(), float64(r.PeakRSSKiB)/1024, r.Errors)
				}
			}
		}
	}
	rep.Rows = report.Aggregate(rep.Runs, notes)

	// Open-loop added latency.
	if o.latency {
		rate := o.rate
		if rate == 0 {
			for _, row := range rep.Rows {
				if row.Target == report.Nginx && row.Conns == o.conns[0] && row.Body == o.bodies[0] {
					rate = row.RPS / 2
				}
			}
		}
		if rate <= 0 {
			h.warnf("latency phase skipped: no nginx figure to take half of (pass -rate)")
		} else {
			h.logf("added latency at %.0f req/s", rate)
			for round := 1; round <= o.rounds; round++ {
				for _, t := range targets {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					lr, err := h.fixedRate(ctx, t, rate, o.bodies[0], o.latencyDur)
					if err != nil {
						h.warnf("%s latency round %d: %v", t.name, round, err)
						continue
					}
					lr.Round = round
					rep.Latency = append(rep.Latency, lr)
					h.logf("latency round %d %-15s p50 %6.0fus p99 %7.0fus failed %d", round, t.name, lr.P50US, lr.P99US, lr.Failed)
				}
			}
			rep.LatRows = report.AggregateLatency(rep.Latency, notes)
		}
	}
	rep.Warnings = h.warnings
	return h.write(o, root, rep)
}

func needsSluice(targets []string) bool {
	return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(t, "sluice") })
}

// script returns the path of the Lua script for the target's mix.
func (h *harness) script(t *target, body string) (string, error) {
	m := mixFor(routesOf(t.name), body)
	key := fmt.Sprintf("%d-%s", m.Routes, body)
	if p, ok := h.scripts[key]; ok {
		return p, nil
	}
	s, err := wrk.Script(m)
	if err != nil {
		return "", err
	}
	p := filepath.Join(h.tmp, "mix-"+key+".lua")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		return "", err
	}
	h.scripts[key] = p
	return p, nil
}

// wrk runs wrk pinned to CPU 0 against t.
func (h *harness) wrk(ctx context.Context, t *target, conns int, body string, d time.Duration) (wrk.Result, error) {
	script, err := h.script(t, body)
	if err != nil {
		return wrk.Result{}, err
	}
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	cmd := exec.CommandContext(ctx, h.tools.taskset, "-c", "0", h.tools.wrk, "-t1", fmt.Sprintf("-c%d", conns),
		fmt.Sprintf("-d%ds", secs), "--timeout", "5s", "--latency", "-s", script, "http://"+t.addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrk.Result{}, fmt.Errorf("wrk: %w\n%s", err, tail(string(out), 1000))
	}
	return wrk.Parse(string(out))
}

// measure is one recorded wrk run with the proxy's CPU and memory.
func (h *harness) measure(ctx context.Context, t *target, conns int, body string, d time.Duration, profile bool) (report.Run, error) {
	if t.proc.exited() {
		return report.Run{}, fmt.Errorf("process exited: %w\n%s", t.proc.exitErr(), t.proc.logTail())
	}
	before, err := procstat.Proc.TreeUsage(t.proc.pid())
	if err != nil {
		return report.Run{}, err
	}
	upBefore, _ := procstat.Proc.TreeUsage(h.upstream.pid())
	busyBefore, _ := procstat.Proc.CPUBusySeconds("cpu1")
	var statsBefore benchstats.Stats
	if t.stats != "" {
		if statsBefore, err = readStats(ctx, t.stats); err != nil {
			h.warnf("%s: no allocation counters: %v", t.name, err)
		}
	}
	var pprofDone func() error
	if profile && h.pprof && t.stats != "" {
		pprofDone = h.pprofCPU(ctx, t, d)
	}
	var perfDone func() error
	if profile && h.perf != "" {
		data, txt := perfPaths(h.perfDir, h.perfStamp, t.name)
		if perfDone, err = h.perfRecord(ctx, t, d, data, txt); err != nil {
			h.warnf("%s: perf: %v", t.name, err)
		}
	}
	t0 := time.Now()
	res, err := h.wrk(ctx, t, conns, body, d)
	wall := time.Since(t0).Seconds()
	if pprofDone != nil {
		if perr := pprofDone(); perr != nil {
			h.warnf("%s: pprof: %v", t.name, perr)
		}
	}
	if perfDone != nil {
		if perr := perfDone(); perr != nil {
			h.warnf("%s: %v", t.name, perr)
		} else {
			_, txt := perfPaths(h.perfDir, h.perfStamp, t.name)
			h.logf("%s: CPU profile in %s (the run's figures include perf's overhead)", t.name, txt)
		}
	}
	if err != nil {
		return report.Run{}, err
	}
	after, err := procstat.Proc.TreeUsage(t.proc.pid())
	if err != nil {
		return report.Run{}, err
	}
	upAfter, _ := procstat.Proc.TreeUsage(h.upstream.pid())
	busyAfter, _ := procstat.Proc.CPUBusySeconds("cpu1")
	r := report.Run{
		Target: t.name, Conns: conns, Body: body,
		Requests: res.Requests, Errors: res.Errors.Total(), Seconds: res.Duration.Seconds(), RPS: res.RPS,
		P50US: float64(res.P50.Microseconds()), P99US: float64(res.P99.Microseconds()),
		CPUSeconds:         after.CPUSeconds - before.CPUSeconds,
		UpstreamCPUSeconds: upAfter.CPUSeconds - upBefore.CPUSeconds,
		PeakRSSKiB:         after.HWMKiB,
	}
	if t.stats != "" && statsBefore.AllocObjects > 0 && r.Requests > 0 {
		if after, err := readStats(ctx, t.stats); err == nil {
			r.AllocsPerRequest = float64(after.AllocObjects-statsBefore.AllocObjects) / float64(r.Requests)
			r.AllocBytesPerRequest = float64(after.AllocBytes-statsBefore.AllocBytes) / float64(r.Requests)
		}
	}
	ours := r.CPUSeconds + r.UpstreamCPUSeconds
	if t.proc == h.upstream {
		ours = r.CPUSeconds
	}
	// CPU 1's busy time not spent in our processes: other processes, and
	// interrupts and softirqs (loopback networking) charged to no one.
	r.CPU1OtherShare = max(0, ((busyAfter-busyBefore)-ours)/wall)
	if r.CPU1OtherShare > 0.15 {
		h.warnf("%s %s c=%d: %.0f%% of CPU 1 went to other processes or interrupts during the run", t.name, body, conns, 100*r.CPU1OtherShare)
	}
	if r.Requests > 0 && float64(r.Errors)/float64(r.Requests) > 0.01 {
		h.warnf("%s %s c=%d: %d errors in %d requests", t.name, body, conns, r.Errors, r.Requests)
	}
	return r, nil
}

// fixedRate runs the open-loop generator pinned to CPU 0 against t.
func (h *harness) fixedRate(ctx context.Context, t *target, rate float64, body string, d time.Duration) (report.LatencyRun, error) {
	m := mixFor(routesOf(t.name), body)
	cmd := exec.CommandContext(ctx, h.tools.taskset, "-c", "0", h.loadgenBin, "-addr", t.addr,
		"-rate", fmt.Sprintf("%.0f", rate), "-d", d.String(), "-conns", "64",
		"-routes", fmt.Sprint(m.Routes), "-path", m.PathFormat, "-key-header", m.KeyHeader, "-keys", fmt.Sprint(m.Keys), "-key", m.KeyFormat)
	out, err := cmd.Output()
	if err != nil {
		return report.LatencyRun{}, fmt.Errorf("loadgen: %w", err)
	}
	var res openloop.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return report.LatencyRun{}, fmt.Errorf("loadgen output %q: %w", tail(string(out), 300), err)
	}
	return report.LatencyRun{
		Target: t.name, Rate: rate, OK: res.OK, Failed: res.Status + res.Errors + res.Missed,
		P50US: res.P50US, P99US: res.P99US,
	}, nil
}

func hostInfo(ctx context.Context, t tools, root string) map[string]string {
	m := map[string]string{"go": runtime.Version(), "cpus": fmt.Sprint(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.CommandContext(ctx, t.nginx, "-v").CombinedOutput(); err == nil {
		m["nginx"] = strings.TrimSpace(strings.TrimPrefix(string(out), "nginx version: "))
	}
	if out, _ := exec.CommandContext(ctx, t.wrk, "-v").CombinedOutput(); len(out) > 0 {
		m["wrk"] = strings.Fields(string(out))[min(1, len(strings.Fields(string(out)))-1)]
	}
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m["sluice commit"] = strings.TrimSpace(string(out))
	}
	return m
}

func settings(o options) map[string]string {
	return map[string]string{
		"run duration":   o.dur.String(),
		"rounds":         fmt.Sprint(o.rounds),
		"connections":    fmt.Sprint(o.conns),
		"bodies":         strings.Join(o.bodies, ","),
		"pinning":        "wrk and loadgen on CPU 0; proxy and upstream on CPU 1",
		"load generator": "wrk -t1 (closed loop); bench/proxy/loadgen (open loop, latency from intended send time)",
		"keepalive":      fmt.Sprintf("nginx keepalive %d, Go floor MaxIdleConnsPerHost %d", o.keepalive, o.keepalive),
	}
}

// stampLayout names result files by the run's start time in UTC.
const stampLayout = "20060102T150405Z"

func resultsDir(o options, root string) string {
	if o.out != "" {
		return o.out
	}
	return filepath.Join(root, "bench", "results")
}

// write prints the tables and saves JSON and markdown.
func (h *harness) write(o options, root string, rep report.Report) error {
	out := resultsDir(o, root)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	stamp := rep.Started.Format(stampLayout)
	md := report.Markdown(rep)
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	mdPath := filepath.Join(out, "proxy-"+stamp+".md")
	jsPath := filepath.Join(out, "proxy-"+stamp+".json")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(jsPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintln(&b, "\nThroughput: value (ratio to nginx / ratio to the Go floor), medians over rounds")
	b.WriteString(report.Table(rep.Rows, false))
	for _, t := range slices.Sorted(maps.Keys(rep.StartupPeakRSSMiB)) {
		fmt.Fprintf(&b, "start-up peak RSS %s: %.1fMiB\n", t, rep.StartupPeakRSSMiB[t])
	}
	if len(rep.LatRows) > 0 {
		fmt.Fprintln(&b, "\nAdded latency at a fixed rate (open loop; added = figure minus direct-to-upstream)")
		b.WriteString(report.LatencyTable(rep.LatRows, false))
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(&b, "warning:", w)
	}
	fmt.Fprintf(&b, "\nwrote %s and %s\n", mdPath, jsPath)
	_, err = os.Stdout.WriteString(b.String())
	return err
}
