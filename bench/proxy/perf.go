package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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
