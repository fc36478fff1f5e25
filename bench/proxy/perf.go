package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sluice/bench/benchstats"
	"sluice/bench/internal/procstat"
)

// perfRecord starts `perf record` (pinned to CPU 0) on the target's process
// tree for d, with call graphs. The returned function waits for it and
// writes the flat `perf report` (symbols above 0.3%) to txt; the call
// graphs stay in data for `perf report -i data`.
func (h *harness) perfRecord(ctx context.Context, t *target, d time.Duration, data, txt string) (func() error, error) {
	pids, err := procstat.Proc.Tree(t.proc.pid())
	if err != nil {
		return nil, err
	}
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	rec := exec.CommandContext(ctx, h.tools.taskset, "-c", "0", h.perf, "record", "-F", "997", "-g",
		"-p", strings.Join(ps, ","), "-o", data, "--", "sleep", strconv.Itoa(max(int(d/time.Second), 1)))
	var out strings.Builder
	rec.Stdout, rec.Stderr = &out, &out
	if err := rec.Start(); err != nil {
		return nil, err
	}
	return func() error {
		if err := rec.Wait(); err != nil {
			return fmt.Errorf("perf record: %w\n%s", err, tail(out.String(), 500))
		}
		rep, err := exec.CommandContext(ctx, h.perf, "report", "-i", data, "--stdio", "--no-children",
			"--percent-limit", "0.3", "-g", "none", "--sort", "dso,symbol").Output()
		if err != nil {
			return fmt.Errorf("perf report: %w", err)
		}
		return os.WriteFile(txt, rep, 0o644)
	}, nil
}

// perfPaths names a target's profile files next to the results.
func perfPaths(out, stamp, target string) (data, txt string) {
	base := filepath.Join(out, "proxy-"+stamp+"-perf-"+target)
	return base + ".data", base + ".txt"
}

// readStats fetches a Go proxy's allocation counters.
func readStats(ctx context.Context, addr string) (benchstats.Stats, error) {
	code, _, body, err := get(ctx, "http://"+addr+"/stats")
	if err != nil {
		return benchstats.Stats{}, err
	}
	if code != http.StatusOK {
		return benchstats.Stats{}, fmt.Errorf("stats: status %d", code)
	}
	var s benchstats.Stats
	return s, json.Unmarshal(body, &s)
}

// pprofCPU starts fetching a CPU profile of the run's length; the returned
// function waits for it, then saves it and an allocation profile next to
// the results (go tool pprof <binary> <file>).
func (h *harness) pprofCPU(ctx context.Context, t *target, d time.Duration) func() error {
	secs := max(int(d/time.Second), 1)
	type result struct {
		body []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		c := &http.Client{Timeout: d + 30*time.Second}
		resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.stats, secs))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("cpu profile: status %d", resp.StatusCode)
		}
		ch <- result{b, err}
	}()
	return func() error {
		r := <-ch
		if r.err != nil {
			return r.err
		}
		base := filepath.Join(h.perfDir, "proxy-"+h.perfStamp+"-pprof-"+t.name)
		if err := os.WriteFile(base+"-cpu.pprof", r.body, 0o644); err != nil {
			return err
		}
		code, _, allocs, err := get(ctx, "http://"+t.stats+"/debug/pprof/allocs")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("allocs profile: status %d", code)
		}
		if err := os.WriteFile(base+"-allocs.pprof", allocs, 0o644); err != nil {
			return err
		}
		h.logf("%s: Go profiles in %s-{cpu,allocs}.pprof", t.name, base)
		return nil
	}
}
