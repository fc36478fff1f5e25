// Package wrk drives the wrk HTTP load generator: it writes the Lua script
// that gives every request its path and headers and prints a JSON summary,
// and it parses wrk's output (the JSON line, or wrk's own text report when
// the line is missing).
package wrk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JSONMarker starts the line that the generated script's done() prints.
const JSONMarker = "WRKJSON "

// Errors counts wrk's failed requests by kind. Status counts responses
// whose status was not 2xx or 3xx.
type Errors struct {
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Status  int64 `json:"status"`
	Timeout int64 `json:"timeout"`
}

// Total is the sum of all kinds.
func (e Errors) Total() int64 { return e.Connect + e.Read + e.Write + e.Status + e.Timeout }

// Result is one wrk run.
type Result struct {
	Requests int64         // completed requests
	Duration time.Duration // wall time of the run as wrk measured it
	RPS      float64       // requests per second
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
	P999     time.Duration // zero when only wrk's text report was available
	Errors   Errors
}

// jsonLine is what the script's done() prints after JSONMarker. Times are
// microseconds.
type jsonLine struct {
	Requests   int64   `json:"requests"`
	DurationUS float64 `json:"duration_us"`
	Errors     Errors  `json:"errors"`
	Latency    struct {
		P50  float64 `json:"p50"`
		P90  float64 `json:"p90"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
	} `json:"latency_us"`
}

func us(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }

// Parse reads wrk's output. It prefers the JSON line printed by a script
// from Script, and falls back to wrk's text report (run with --latency).
func Parse(out string) (Result, error) {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(JSONMarker))
		if !ok {
			continue
		}
		var j jsonLine
		if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &j); err != nil {
			return Result{}, fmt.Errorf("wrk json line: %w", err)
		}
		if j.DurationUS <= 0 {
			return Result{}, errors.New("wrk json line: duration is not positive")
		}
		r := Result{
			Requests: j.Requests,
			Duration: us(j.DurationUS),
			RPS:      float64(j.Requests) / (j.DurationUS / 1e6),
			P50:      us(j.Latency.P50),
			P90:      us(j.Latency.P90),
			P99:      us(j.Latency.P99),
			P999:     us(j.Latency.P999),
			Errors:   j.Errors,
		}
		return r, nil
	}
	return parseText(out)
}

// parseText reads wrk's own report:
//
//	  Latency Distribution
//	     50%  685.00us
//	     ...
//	68815 requests in 5.10s, 16.21MB read
//	  Socket errors: connect 0, read 0, write 0, timeout 0
//	  Non-2xx or 3xx responses: 12
//	Requests/sec:  13492.64
func parseText(out string) (Result, error) {
	var r Result
	var haveRPS, haveP50, haveP99 bool
	for _, raw := range strings.Split(out, "\n") {
		line := strings.TrimSpace(raw)
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return Result{}, fmt.Errorf("wrk requests/sec %q: %w", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && strings.HasSuffix(f[0], "%"):
			d, err := ParseDuration(f[1])
			if err != nil {
				continue // a Thread Stats line or similar, not the distribution
			}
			switch f[0] {
			case "50%":
				r.P50, haveP50 = d, true
			case "90%":
				r.P90 = d
			case "99%":
				r.P99, haveP99 = d, true
			}
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("wrk request count %q: %w", f[0], err)
			}
			d, err := ParseDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return Result{}, fmt.Errorf("wrk run duration: %w", err)
			}
			r.Requests, r.Duration = n, d
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return Result{}, fmt.Errorf("wrk socket errors %q: %w", line, err)
				}
				switch f[i] {
				case "connect":
					r.Errors.Connect = n
				case "read":
					r.Errors.Read = n
				case "write":
					r.Errors.Write = n
				case "timeout":
					r.Errors.Timeout = n
				}
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return Result{}, fmt.Errorf("wrk non-2xx count %q: %w", f[4], err)
			}
			r.Errors.Status = n
		}
	}
	if !haveRPS {
		return Result{}, errors.New("wrk output has no Requests/sec line")
	}
	if !haveP50 || !haveP99 {
		return Result{}, errors.New("wrk output has no latency distribution (run wrk with --latency)")
	}
	return r, nil
}

// ParseDuration reads a duration as wrk prints it: a number followed by us,
// ms, s, m or h ("685.00us", "1.39ms", "5.10s", "1.00m").
func ParseDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || !(v >= 0 && v <= 1e6) {
			return 0, fmt.Errorf("wrk duration %q: not a number of %s", s, u.suffix)
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("wrk duration %q: unknown unit", s)
}
