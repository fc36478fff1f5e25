package plugin

import (
	"context"
	"sync"
	"sync/atomic"
)

// Outbox is a bounded queue of encoded log entries drained by one
// goroutine, for log plugins that send entries somewhere slow (a socket, a
// file): the log phase puts and never blocks; what does not fit is
// dropped. Entries are delivered in order.
type Outbox struct {
	maxBytes int64
	queue    chan []byte
	deliver  func([]byte) error
	finish   func()
	onDrop   func()

	mu      sync.RWMutex // Put sends under the read lock, Stop closes under the write lock
	stopped atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	bytes              atomic.Int64
	delivered, dropped atomic.Int64
}

// OutboxOptions configures NewOutbox.
type OutboxOptions struct {
	// Entries and Bytes bound the queue (entries waiting, and their
	// bytes); past either, Put drops.
	Entries int
	Bytes   int64
	// Deliver sends one entry; an error counts the entry as dropped.
	Deliver func(entry []byte) error
	// Finish, when set, runs on the outbox's goroutine after the last
	// delivery (to close a connection).
	Finish func()
	// OnDrop, when set, is called for every dropped entry (a metric).
	OnDrop func()
}

// outboxes counts the running outbox goroutines. Not a WaitGroup: an
// outbox may start (a build still running at shutdown) while
// WaitOutboxes waits, which a WaitGroup forbids.
var outboxes struct {
	sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil when nobody waits
}

func outboxStarted() {
	outboxes.Lock()
	outboxes.n++
	outboxes.Unlock()
}

func outboxEnded() {
	outboxes.Lock()
	defer outboxes.Unlock()
	outboxes.n--
	if outboxes.n == 0 && outboxes.idle != nil {
		close(outboxes.idle)
		outboxes.idle = nil
	}
}

// WaitOutboxes returns once every stopped outbox has delivered its queue,
// or when ctx is done: for a graceful stop, after the plugin instances
// were closed.
func WaitOutboxes(ctx context.Context) error {
	outboxes.Lock()
	if outboxes.n == 0 {
		outboxes.Unlock()
		return nil
	}
	if outboxes.idle == nil {
		outboxes.idle = make(chan struct{})
	}
	idle := outboxes.idle
	outboxes.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MaxOutboxEntries caps OutboxOptions.Entries: the queue's slots are
// allocated up front (a configured max_entries of 10^6 would hold 24 MB
// per destination before anything is logged); Bytes still bounds it.
const MaxOutboxEntries = 65536

// NewOutbox starts an outbox.
func NewOutbox(o OutboxOptions) *Outbox {
	b := &Outbox{maxBytes: o.Bytes, queue: make(chan []byte, min(max(o.Entries, 1), MaxOutboxEntries)), deliver: o.Deliver,
		finish: o.Finish, onDrop: o.OnDrop, stop: make(chan struct{}), done: make(chan struct{})}
	outboxStarted()
	go func() {
		defer outboxEnded()
		b.run()
	}()
	return b
}

// Put queues an entry; it reports whether the entry was accepted.
func (b *Outbox) Put(entry []byte) bool {
	n := int64(len(entry))
	if b.stopped.Load() {
		b.drop()
		return false
	}
	if b.bytes.Add(n) > b.maxBytes {
		b.bytes.Add(-n)
		b.drop()
		return false
	}
	b.mu.RLock()
	sent := false
	if !b.stopped.Load() {
		select {
		case b.queue <- entry:
			sent = true
		default:
		}
	}
	b.mu.RUnlock()
	if !sent {
		b.bytes.Add(-n)
		b.drop()
	}
	return sent
}

// Stop makes the outbox deliver what is queued, then end; later Puts
// drop. Once stopped, the first failed delivery drops the rest of the
// queue (counted), so that an unreachable destination does not keep a
// removed plugin's queue, and its dials, for hours. It does not wait (see
// Done).
func (b *Outbox) Stop() {
	b.once.Do(func() {
		b.mu.Lock()
		b.stopped.Store(true)
		b.mu.Unlock()
		close(b.stop)
	})
}

// Done is closed when the outbox has ended.
func (b *Outbox) Done() <-chan struct{} { return b.done }

// Queued is the number of entries waiting and their bytes.
func (b *Outbox) Queued() (entries int, bytes int64) { return len(b.queue), b.bytes.Load() }

// Counts are the entries delivered and dropped so far.
func (b *Outbox) Counts() (delivered, dropped int64) { return b.delivered.Load(), b.dropped.Load() }

func (b *Outbox) drop() {
	b.dropped.Add(1)
	if b.onDrop != nil {
		b.onDrop()
	}
}

func (b *Outbox) run() {
	defer close(b.done)
	if b.finish != nil {
		defer b.finish()
	}
	failed := false // a delivery failed after Stop: drop the rest
	put := func(e []byte) {
		defer b.bytes.Add(-int64(len(e)))
		if failed {
			b.drop()
			return
		}
		if err := b.deliver(e); err != nil {
			b.drop()
			failed = b.stopped.Load()
			return
		}
		b.delivered.Add(1)
	}
	for {
		select {
		case e := <-b.queue:
			put(e)
		case <-b.stop:
			for {
				select {
				case e := <-b.queue:
					put(e)
				default:
					return
				}
			}
		}
	}
}
