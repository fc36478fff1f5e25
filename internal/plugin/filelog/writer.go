package filelog

import (
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"

	"sluice/internal/metrics"
	"sluice/internal/plugin"
)

// QueueSize is the number of entries a file's queue holds; past it entries
// are dropped and counted.
const QueueSize = 4096

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_file_log_dropped_total",
	Help: "file-log entries dropped because the file's queue was full or the write failed.", MaxSeries: 100,
}, "path")

// writer owns one file: a bounded queue drained by one goroutine.
type writer struct {
	path   string
	reopen bool
	queue  chan *plugin.LogEntry
	stop   chan struct{} // closed by the last release
	done   chan struct{} // closed when run returns
	closed atomic.Bool
	refs   int // guarded by writersMu

	// write appends one line; replaced by tests.
	write func(line []byte) error
	f     *os.File

	accepted, drops atomic.Int64
}

var (
	writersMu sync.Mutex
	writers   = map[string]*writer{}
)

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
		w = newWriter(path, reopen, QueueSize)
		writers[key] = w
		go w.run()
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
	w.closed.Store(true)
	close(w.stop)
}

func newWriter(path string, reopen bool, size int) *writer {
	w := &writer{path: path, reopen: reopen, queue: make(chan *plugin.LogEntry, size),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.write = w.writeFile
	return w
}

// enqueue never blocks: a full queue drops the entry, and so does a
// stopped writer (a request still finishing on a dropped snapshot).
func (w *writer) enqueue(e *plugin.LogEntry) bool {
	if w.closed.Load() {
		w.drop()
		return false
	}
	select {
	case w.queue <- e:
		w.accepted.Add(1)
		return true
	default:
		w.drop()
		return false
	}
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
	var buf []byte
	put := func(e *plugin.LogEntry) {
		b, err := json.Marshal(e)
		if err != nil {
			w.drop()
			return
		}
		buf = append(append(buf[:0], b...), '\n')
		if err := w.write(buf); err != nil {
			w.drop()
		}
	}
	for {
		select {
		case e := <-w.queue:
			put(e)
		case <-w.stop:
			for {
				select {
				case e := <-w.queue:
					put(e)
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
