// Package openloop is an open-loop HTTP/1.1 load generator: requests are
// scheduled at a fixed rate whatever the server does, and each latency is
// measured from the request's intended send time, so a stalled server shows
// up in the percentiles instead of slowing the generator down (no
// coordinated omission; the same idea as wrk2).
package openloop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run.
type Config struct {
	Addr     string        // host:port
	Rate     float64       // requests per second
	Duration time.Duration // sending time; replies are awaited up to Grace longer
	Conns    int           // keep-alive connections, each with one request in flight
	Grace    time.Duration // extra time to collect replies; default 5s
	// Requests are raw HTTP/1.1 requests sent in turn (request i is
	// Requests[i%len]); each must ask for a keep-alive response.
	Requests [][]byte
	// Observe, when set, is called for every request that got a reply or
	// an error, from the connection's goroutine (so concurrently): the
	// request's index, its intended send time, the latency from that time,
	// the status code (0 on an error) and the error (nil for a complete
	// response, also when the server closed the connection after it).
	Observe func(i int64, intended time.Time, latency time.Duration, status int, err error)
}

// Result is what a run measured. Latencies are from the intended send time
// to the end of the response body.
type Result struct {
	Rate      float64 `json:"rate"`      // the configured rate
	Scheduled int64   `json:"scheduled"` // requests due in Duration
	OK        int64   `json:"ok"`        // 2xx and 3xx responses
	Status    int64   `json:"status"`    // other responses
	Errors    int64   `json:"errors"`    // connection or protocol errors
	Missed    int64   `json:"missed"`    // due but not answered before the grace period ended
	P50US     float64 `json:"p50_us"`
	P90US     float64 `json:"p90_us"`
	P99US     float64 `json:"p99_us"`
	P999US    float64 `json:"p999_us"`
	MaxUS     float64 `json:"max_us"`
}

// Request formats a GET request for path with the given extra headers
// (name, value pairs).
func Request(host, path string, headers ...string) []byte {
	b := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	for i := 0; i+1 < len(headers); i += 2 {
		b = fmt.Appendf(b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	return append(b, "\r\n"...)
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// nearest rank, or 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Run sends cfg.Rate requests per second for cfg.Duration and waits for the
// replies. It returns an error only when it cannot run at all.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Conns <= 0 || len(cfg.Requests) == 0 {
		return Result{}, errors.New("openloop: rate, duration, conns and requests must be positive")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	total := int64(cfg.Rate * cfg.Duration.Seconds())
	if total < 1 {
		return Result{}, errors.New("openloop: rate times duration is less than one request")
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)

	// Connect first so that dialling is not part of the first latencies.
	conns := make([]net.Conn, cfg.Conns)
	var d net.Dialer
	for i := range conns {
		c, err := d.DialContext(ctx, "tcp", cfg.Addr)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, fmt.Errorf("openloop: dial %s: %w", cfg.Addr, err)
		}
		conns[i] = c
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+cfg.Grace)
	defer cancel()
	jobs := make(chan int64, min(total, 1<<22))
	start := time.Now().Add(10 * time.Millisecond)
	deadline, _ := ctx.Deadline()
	var res Result
	res.Rate, res.Scheduled = cfg.Rate, total
	var ok, status, errs atomic.Int64
	lat := make([][]time.Duration, cfg.Conns)
	var wg sync.WaitGroup
	for w := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conns[w]
			defer func() { c.Close() }()
			_ = c.SetDeadline(deadline) // fails only on a closed conn, which the first write reports
			br := bufio.NewReaderSize(c, 32<<10)
			mine := make([]time.Duration, 0, total/int64(cfg.Conns)+16)
			defer func() { lat[w] = mine }()
			for i := range jobs {
				if ctx.Err() != nil {
					return
				}
				intended := start.Add(time.Duration(i) * interval)
				code, err := roundTrip(c, br, cfg.Requests[i%int64(len(cfg.Requests))])
				if err == nil || errors.Is(err, errClosed) {
					lat := time.Since(intended)
					mine = append(mine, lat)
					if cfg.Observe != nil {
						cfg.Observe(i, intended, lat, code, nil)
					}
					if code < 400 {
						ok.Add(1)
					} else {
						status.Add(1)
					}
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if !errors.Is(err, errClosed) {
						errs.Add(1)
						if cfg.Observe != nil {
							cfg.Observe(i, intended, time.Since(intended), 0, err)
						}
					}
					c.Close()
					if c, err = d.DialContext(ctx, "tcp", cfg.Addr); err != nil {
						return
					}
					_ = c.SetDeadline(deadline)
					br.Reset(c)
				}
			}
		}()
	}
	// The dispatcher releases every request whose time has come, then
	// sleeps until the next one is due.
dispatch:
	for i := int64(0); i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				break dispatch
			}
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res.OK, res.Status, res.Errors = ok.Load(), status.Load(), errs.Load()
	res.Missed = total - res.OK - res.Status - res.Errors
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	res.P50US = us(Percentile(all, 50))
	res.P90US = us(Percentile(all, 90))
	res.P99US = us(Percentile(all, 99))
	res.P999US = us(Percentile(all, 99.9))
	if len(all) > 0 {
		res.MaxUS = us(all[len(all)-1])
	}
	return res, nil
}

// errClosed means the response was complete but the server closed the
// connection after it.
var errClosed = errors.New("openloop: server closed the connection")

// roundTrip writes one request and reads the whole response.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) (int, error) {
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.Close {
		return resp.StatusCode, errClosed
	}
	return resp.StatusCode, nil
}
