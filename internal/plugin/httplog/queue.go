package httplog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/metrics"
)

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_http_log_dropped_total",
	Help: "http-log entries dropped: queue full, send given up after max_retry_time, or queue stopped.",
}, "reason")

// queue holds encoded entries for one collector configuration, bounded by
// max_entries and max_bytes, drained by one worker goroutine.
type queue struct {
	conf Config

	mu    sync.Mutex
	items [][]byte
	bytes int

	wake chan struct{} // cap 1: "there is something to send"
	stop chan struct{}
	done chan struct{}
	refs int // guarded by queuesMu

	closed   atomic.Bool
	accepted atomic.Int64
	drops    atomic.Int64
	sent     atomic.Int64

	// send delivers one payload; replaced by tests.
	send func(ctx context.Context, body []byte) error
}

var (
	queuesMu sync.Mutex
	queues   = map[string]*queue{}
)

// queueKey identifies a queue: instances with the same configuration share
// one, as Kong's get_queue_id does.
func queueKey(c Config) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func acquire(c Config) *queue {
	k := queueKey(c)
	queuesMu.Lock()
	defer queuesMu.Unlock()
	q := queues[k]
	if q == nil {
		q = newQueue(c)
		queues[k] = q
		go q.run()
	}
	q.refs++
	return q
}

func release(q *queue) {
	queuesMu.Lock()
	defer queuesMu.Unlock()
	q.refs--
	if q.refs > 0 {
		return
	}
	for k, x := range queues {
		if x == q {
			delete(queues, k)
		}
	}
	q.closed.Store(true)
	close(q.stop)
}

func newQueue(c Config) *queue {
	q := &queue{conf: c, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{
		Timeout: time.Duration(c.Timeout * float64(time.Millisecond)),
		Transport: &http.Transport{
			Proxy:               nil,
			IdleConnTimeout:     time.Duration(c.Keepalive * float64(time.Millisecond)),
			MaxIdleConnsPerHost: 2,
		},
	}
	u, _ := url.Parse(c.HTTPEndpoint)
	var user, pass string
	if u != nil && u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	endpoint := c.HTTPEndpoint
	if u != nil {
		endpoint = u.String()
	}
	q.send = func(ctx context.Context, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, c.Method, endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", c.ContentType)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		for k, v := range c.Headers {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		if res.StatusCode >= 300 {
			return fmt.Errorf("request to %s returned status code %d", u.Redacted(), res.StatusCode)
		}
		return nil
	}
	return q
}

// push adds an encoded entry unless that would pass max_entries or
// max_bytes; it never blocks.
func (q *queue) push(b []byte) bool {
	if q.closed.Load() {
		q.drop(1, "stopped")
		return false
	}
	q.mu.Lock()
	full := len(q.items) >= q.conf.Queue.MaxEntries ||
		q.conf.Queue.MaxBytes != nil && q.bytes+len(b) > *q.conf.Queue.MaxBytes
	if !full {
		q.items = append(q.items, b)
		q.bytes += len(b)
	}
	q.mu.Unlock()
	if full {
		q.drop(1, "queue_full")
		return false
	}
	q.accepted.Add(1)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *queue) drop(n int, reason string) {
	q.drops.Add(int64(n))
	dropped.With(reason).Add(float64(n))
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// take removes up to n entries from the front.
func (q *queue) take(n int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.items))
	out := make([][]byte, n)
	copy(out, q.items)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	for _, b := range out {
		q.bytes -= len(b)
	}
	if cap(q.items) > 1024 && len(q.items) < cap(q.items)/4 {
		q.items = append([][]byte(nil), q.items...) // give back a burst's memory
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// run sends batches until the queue is stopped.
func (q *queue) run() {
	defer close(q.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-q.stop
		cancel()
	}()
	batch := max(q.conf.Queue.MaxBatchSize, 1)
	for {
		select {
		case <-q.wake:
		case <-q.stop:
			q.drop(q.len(), "stopped")
			return
		}
		for q.len() > 0 {
			if batch > 1 && q.len() < batch && !q.coalesce(batch) {
				q.drop(q.len(), "stopped")
				return
			}
			q.deliver(ctx, q.take(batch))
			if q.closed.Load() {
				q.drop(q.len(), "stopped")
				return
			}
		}
	}
}

// coalesce waits up to max_coalescing_delay for a full batch; false when
// the queue was stopped.
func (q *queue) coalesce(batch int) bool {
	t := time.NewTimer(seconds(q.conf.Queue.MaxCoalescingDelay))
	defer t.Stop()
	for q.len() < batch {
		select {
		case <-t.C:
			return true
		case <-q.wake:
		case <-q.stop:
			return false
		}
	}
	return true
}

// deliver sends one batch, retrying with exponential backoff from
// initial_retry_delay up to max_retry_delay until max_retry_time is spent.
func (q *queue) deliver(ctx context.Context, entries [][]byte) {
	var body []byte
	if q.conf.Queue.MaxBatchSize == 1 && len(entries) == 1 {
		body = entries[0]
	} else {
		body = append(body, '[')
		for i, e := range entries {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, e...)
		}
		body = append(body, ']')
	}
	deadline := time.Now().Add(seconds(q.conf.Queue.MaxRetryTime))
	delay := seconds(q.conf.Queue.InitialRetryDelay)
	for {
		if err := q.send(ctx, body); err == nil {
			q.sent.Add(int64(len(entries)))
			return
		}
		if q.conf.Queue.MaxRetryTime < 0 || time.Now().Add(delay).After(deadline) {
			q.drop(len(entries), "send_failed")
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-q.stop:
			t.Stop()
			q.drop(len(entries), "stopped")
			return
		}
		delay = min(2*delay, seconds(q.conf.Queue.MaxRetryDelay))
	}
}
