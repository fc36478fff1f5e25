package filelog

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"

	"sluice/internal/metrics"
	"sluice/internal/plugin"
)

// QueueSize is the number of entries a file's queue holds and QueueBytes
// the bytes of encoded lines; past either, entries are dropped and counted.
const (
	QueueSize  = 4096
	QueueBytes = 16 << 20
)

var (
	dropped = metrics.Default().NewCounterVec(metrics.Opts{
		Name: "sluice_file_log_dropped_total",
		Help: "file-log entries dropped because the file's queue was full, the write failed or the writer had stopped.", MaxSeries: 100,
	}, "path")
	queuedEntries = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_file_log_queue_entries", Help: "file-log entries waiting to be written, by file.", MaxSeries: 100,
	}, "path")
	queuedBytes = metrics.Default().NewGaugeVec(metrics.Opts{
		Name: "sluice_file_log_queue_bytes", Help: "Bytes of file-log lines waiting to be written, by file.", MaxSeries: 100,
	}, "path")
)

// writer owns one file: a bounded queue of encoded lines drained by one
// goroutine.
type writer struct {
	path     string
	reopen   bool
	maxBytes int64
	queue    chan []byte
	stop     chan struct{} // closed by the last release
	done     chan struct{} // closed when run returns
	closed   atomic.Bool   // set under mu's write lock
	mu       sync.RWMutex  // enqueue sends under the read lock
	refs     int           // guarded by writersMu

	// write appends one line; replaced by tests.
	write func(line []byte) error
	f     *os.File

	bytes                  atomic.Int64 // encoded bytes queued
	gEntries, gBytes       metrics.Gauge
	accepted, drops, wrote atomic.Int64
}

var (
	writersMu sync.Mutex
	writers   = map[string]*writer{}
	running   sync.WaitGroup // writer goroutines
)

// Wait returns once every writer has written its queue, closed its file
// and stopped, or when ctx is done. It is for a graceful stop, after the
// instances were closed (snapshot.CloseAllPlugins).
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

// acquire returns the shared writer of path (one per file and reopen
// mode), starting it on first use.
func acquire(path string, reopen bool) *writer {
	key := path
	if reopen {
		key += "\x00reopen"
	}
	writersMu.Lock()
	defer writersMu.Unlock()
	w := writers[key]
	if w == nil {
		w = newWriter(path, reopen, QueueSize, QueueBytes)
		writers[key] = w
		running.Add(1)
		go func() { defer running.Done(); w.run() }()
	}
	w.refs++
	return w
}

// release drops one reference; the last one stops the writer after it has
// written what is queued.
func release(w *writer) {
	writersMu.Lock()
	defer writersMu.Unlock()
	w.refs--
	if w.refs > 0 {
		return
	}
	for k, x := range writers {
		if x == w {
			delete(writers, k)
		}
	}
	w.mu.Lock()
	w.closed.Store(true)
	w.mu.Unlock()
	close(w.stop)
}

func newWriter(path string, reopen bool, size int, maxBytes int64) *writer {
	w := &writer{path: path, reopen: reopen, maxBytes: maxBytes, queue: make(chan []byte, size),
		stop: make(chan struct{}), done: make(chan struct{}),
		gEntries: queuedEntries.With(path), gBytes: queuedBytes.With(path)}
	w.write = w.writeFile
	return w
}

// enqueue encodes the entry and queues the line; it never blocks. A full
// queue (entries or bytes) drops the entry, and so does a stopped writer
// (a request still finishing on a retired snapshot).
func (w *writer) enqueue(e *plugin.LogEntry) bool {
	if w.closed.Load() {
		w.drop()
		return false
	}
	b, err := json.Marshal(e)
	if err != nil {
		w.drop()
		return false
	}
	line := append(b, '\n')
	n := int64(len(line))
	if w.bytes.Add(n) > w.maxBytes {
		w.bytes.Add(-n)
		w.drop()
		return false
	}
	// The read lock orders the send before release's close: once the
	// writer is told to stop, nothing more lands in its queue.
	w.gEntries.Add(1)
	w.gBytes.Add(float64(n))
	w.mu.RLock()
	sent := false
	if !w.closed.Load() {
		select {
		case w.queue <- line:
			sent = true
		default:
		}
	}
	w.mu.RUnlock()
	if !sent {
		w.bytes.Add(-n)
		w.gEntries.Add(-1)
		w.gBytes.Add(-float64(n))
		w.drop()
		return false
	}
	w.accepted.Add(1)
	return true
}

func (w *writer) drop() {
	w.drops.Add(1)
	dropped.With(w.path).Inc()
}

func (w *writer) run() {
	defer close(w.done)
	defer func() {
		if w.f != nil {
			_ = w.f.Close()
		}
	}()
	put := func(line []byte) {
		n := int64(len(line))
		if err := w.write(line); err != nil {
			w.drop()
		} else {
			w.wrote.Add(1)
		}
		w.bytes.Add(-n)
		w.gEntries.Add(-1)
		w.gBytes.Add(-float64(n))
	}
	for {
		select {
		case line := <-w.queue:
			put(line)
		case <-w.stop:
			for {
				select {
				case line := <-w.queue:
					put(line)
				default:
					return
				}
			}
		}
	}
}

// writeFile appends a line, opening the file when needed (every time with
// reopen, as Kong closes it after each request then).
func (w *writer) writeFile(line []byte) error {
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		w.f = f
	}
	_, err := w.f.Write(line)
	if w.reopen || err != nil {
		_ = w.f.Close()
		w.f = nil
	}
	return err
}
