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

var (
	dropped = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_http_log_dropped_total",
		Help: "http-log entries dropped: queue full, send given up after max_retry_time, or queue stopped.",
	}, "reason")
	queuedEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_http_log_queue_entries", Help: "http-log entries waiting to be sent, by endpoint (scheme, host and path).",
		MaxSeries: 100,
	}, "endpoint")
	queuedBytes = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_http_log_queue_bytes", Help: "Bytes of encoded http-log entries waiting to be sent, by endpoint.",
		MaxSeries: 100,
	}, "endpoint")
)

// DefaultMaxBytes caps a queue's encoded entries when queue.max_bytes is
// null (Kong sets no byte limit then; request headers may be up to 1 MiB
// each here, so max_entries alone does not bound memory).
const DefaultMaxBytes = 32 << 20

// DrainTimeout is how long a stopped queue (its configuration was replaced
// or removed) keeps sending what it holds, one attempt per batch, before
// dropping the rest.
const DrainTimeout = 5 * time.Second

// queue holds encoded entries for one collector configuration, bounded by
// max_entries and max_bytes, drained by one worker goroutine.
type queue struct {
	conf Config

	mu       sync.Mutex
	items    [][]byte
	bytes    int
	maxBytes int

	gEntries, gBytes metrics.Gauge

	wake chan struct{} // cap 1: "there is something to send"
	stop chan struct{}
	done chan struct{}
	refs int // guarded by queuesMu

	closed   atomic.Bool // set under mu
	accepted atomic.Int64
	drops    atomic.Int64
	sent     atomic.Int64

	// send delivers one payload; replaced by tests.
	send func(ctx context.Context, body []byte) error
	// closeIdle closes the client's idle connections when the worker
	// stops.
	closeIdle func()
}

var (
	queuesMu sync.Mutex
	queues   = map[string]*queue{}
	running  sync.WaitGroup // queue workers
)

// Wait returns once every queue has sent (or, after DrainTimeout, dropped)
// what it held and stopped, or when ctx is done. It is for a graceful stop,
// after the instances were closed (snapshot.CloseAllPlugins).
func Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

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
		running.Add(1)
		go func() { defer running.Done(); q.run() }()
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
	q.mu.Lock()
	q.closed.Store(true)
	q.mu.Unlock()
	close(q.stop)
}

func newQueue(c Config) *queue {
	q := &queue{conf: c, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		maxBytes: DefaultMaxBytes}
	if c.Queue.MaxBytes != nil {
		q.maxBytes = *c.Queue.MaxBytes
	}
	tr := &http.Transport{
		Proxy:               nil,
		IdleConnTimeout:     time.Duration(c.Keepalive * float64(time.Millisecond)),
		MaxIdleConnsPerHost: 2,
	}
	client := &http.Client{Timeout: time.Duration(c.Timeout * float64(time.Millisecond)), Transport: tr}
	q.closeIdle = tr.CloseIdleConnections
	u, _ := url.Parse(c.HTTPEndpoint)
	var user, pass string
	if u != nil && u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	endpoint := c.HTTPEndpoint
	label := ""
	if u != nil {
		endpoint = u.String()
		label = u.Scheme + "://" + u.Host + u.Path // no credentials, no query
	}
	q.gEntries, q.gBytes = queuedEntries.With(label), queuedBytes.With(label)
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
	if q.closed.Load() {
		q.mu.Unlock()
		q.drop(1, "stopped")
		return false
	}
	full := len(q.items) >= q.conf.Queue.MaxEntries || q.bytes+len(b) > q.maxBytes
	if !full {
		q.items = append(q.items, b)
		q.bytes += len(b)
		q.gEntries.Add(1)
		q.gBytes.Add(float64(len(b)))
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
		q.gBytes.Add(-float64(len(b)))
	}
	q.gEntries.Add(-float64(n))
	if cap(q.items) > 1024 && len(q.items) < cap(q.items)/4 {
		q.items = append([][]byte(nil), q.items...) // give back a burst's memory
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// run sends batches until the queue is stopped, then drains it.
func (q *queue) run() {
	defer close(q.done)
	defer func() {
		if q.closeIdle != nil {
			q.closeIdle()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Once stopped, the drain gets DrainTimeout; then sends are
		// cancelled.
		select {
		case <-q.stop:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	batch := max(q.conf.Queue.MaxBatchSize, 1)
	for {
		select {
		case <-q.wake:
		case <-q.stop:
			q.drain(ctx, batch)
			return
		}
		for q.len() > 0 {
			if batch > 1 && q.len() < batch && !q.coalesce(batch) {
				q.drain(ctx, batch)
				return
			}
			q.deliver(ctx, q.take(batch))
			if q.closed.Load() {
				q.drain(ctx, batch)
				return
			}
		}
	}
}

// drain sends what a stopped queue holds, one attempt per batch (deliver
// does not retry once stopped), until DrainTimeout cancels ctx; the rest
// is dropped and counted.
func (q *queue) drain(ctx context.Context, batch int) {
	for q.len() > 0 && ctx.Err() == nil {
		q.deliver(ctx, q.take(batch))
	}
	if n := len(q.take(q.len())); n > 0 {
		q.drop(n, "stopped")
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
