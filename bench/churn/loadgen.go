package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"sluice/bench/internal/openloop"
)

// The load generator runs in a child process of its own (this binary with
// -loadgen), so that it can run at a higher CPU priority than the replicas
// without lifting the harness's Admin API writer with it: a starved
// generator sends and reads late and counts its own delay as replica
// latency, while a writer with priority over the replicas takes their CPU
// during every bulk change.

// stream is one open-loop load of the generator.
type stream struct {
	Addr     string   `json:"addr"`
	Rate     float64  `json:"rate"`
	Conns    int      `json:"conns"`
	Requests [][]byte `json:"requests"`
}

// loadSpec is what the child runs: every stream for Duration (plus
// Grace), latencies reported against Epoch (Unix nanoseconds).
type loadSpec struct {
	Streams  []stream      `json:"streams"`
	Duration time.Duration `json:"duration"`
	Grace    time.Duration `json:"grace"`
	Epoch    int64         `json:"epoch"`
}

// loadReport is the child's answer, one per stream in order.
type loadReport struct {
	Results []openloop.Result `json:"results"`
	Errors  []string          `json:"errors"`
	Samples [][]reqSample     `json:"samples"`
}

// runLoadgen is the child: it reads a loadSpec from r and writes a
// loadReport to w.
func runLoadgen(ctx context.Context, r io.Reader, w io.Writer) error {
	var spec loadSpec
	if err := json.NewDecoder(r).Decode(&spec); err != nil {
		return fmt.Errorf("reading the load spec: %w", err)
	}
	epoch := time.Unix(0, spec.Epoch)
	rep := loadReport{
		Results: make([]openloop.Result, len(spec.Streams)),
		Errors:  make([]string, len(spec.Streams)),
		Samples: make([][]reqSample, len(spec.Streams)),
	}
	var mu = make([]sync.Mutex, len(spec.Streams))
	var wg sync.WaitGroup
	for i, s := range spec.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := openloop.Run(ctx, openloop.Config{Addr: s.Addr, Rate: s.Rate, Duration: spec.Duration, Conns: s.Conns,
				Grace: spec.Grace, Requests: s.Requests,
				Observe: func(_ int64, intended time.Time, lat time.Duration, code int, err error) {
					mu[i].Lock()
					rep.Samples[i] = append(rep.Samples[i], reqSample{T: intended.Sub(epoch).Seconds(), Lat: lat, Failed: err != nil || code >= 400})
					mu[i].Unlock()
				}})
			rep.Results[i] = res
			if err != nil {
				rep.Errors[i] = err.Error()
			}
		}()
	}
	wg.Wait()
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(rep); err != nil {
		return err
	}
	return bw.Flush()
}

// runLoad runs spec in a child process at the given nice value (nice(1)
// relative to this process) and returns its report.
func runLoad(ctx context.Context, spec loadSpec, nice int) (loadReport, error) {
	self, err := os.Executable()
	if err != nil {
		return loadReport{}, err
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return loadReport{}, err
	}
	argv := niceArgv(nice, []string{self, "-loadgen"})
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer // Run waits for the copies into them
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return loadReport{}, fmt.Errorf("load generator: %w: %s", err, stderr.String())
	}
	var rep loadReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return loadReport{}, fmt.Errorf("load generator's report: %w", err)
	}
	if len(rep.Results) != len(spec.Streams) || len(rep.Samples) != len(spec.Streams) {
		return loadReport{}, errors.New("load generator's report does not match its streams")
	}
	return rep, nil
}
