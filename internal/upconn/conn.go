package upconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is one upstream connection, used by one request at a time: the
// caller writes the request head and body into W, calls ReadResponse, reads
// the body through Read (or Buffered), then Release.
type Conn struct {
	p    *Pool
	addr string
	nc   net.Conn
	dc   deadlineConn
	br   *bufio.Reader
	bw   *bufio.Writer

	rc      syscall.RawConn
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	peekN   int
	peekErr error

	// AbortFunc aborts the exchange in progress from another goroutine
	// (the client went away): pending and later reads and writes fail and
	// the connection is not reused. It is c.abort, bound once, so that
	// passing it to context.AfterFunc costs no allocation per request.
	AbortFunc func()
	aborted   atomic.Bool

	idleSince time.Time
	reused    bool
	requests  int
	broken    bool // an error or a framing that forbids reuse
	received  bool // a byte of the response arrived

	// Res is the response being read.
	Res Response

	head    []byte // the response head as read (scratch)
	spans   []span
	mode    bodyMode
	left    int64 // Content-Length: bytes left; chunked: bytes left in the chunk
	chunkSt chunkState
	done    bool // the body was read to its end
	// bodiless: the last response had no body though its framing may
	// announce one (HEAD, 204, 304); a faulty upstream may send one
	// anyway, late, so the connection is checked before its next use.
	bodiless bool
}

// Response is a parsed response head. Field names are in canonical form;
// names and values are substrings of one string per head.
type Response struct {
	ProtoMajor, ProtoMinor int
	Status                 int
	Reason                 string
	Fields                 []Field
	// ContentLength is the body length, -1 when unknown (chunked or
	// close-delimited).
	ContentLength int64
	// Chunked tells that the body is chunked (the Content-Length and
	// Transfer-Encoding fields must not be forwarded as they are).
	Chunked bool
	// Close tells that the upstream closes the connection after this
	// response (Connection: close, HTTP/1.0 without keep-alive, or a
	// close-delimited body).
	Close bool
	// Trailers are the chunked body's trailer fields, set once the body
	// was read to its end.
	Trailers []Field
}

// Field is one header or trailer field.
type Field struct{ Name, Value string }

type span struct{ k0, k1, v0, v1 int32 }

type bodyMode uint8

const (
	bodyNone bodyMode = iota
	bodyLength
	bodyChunked
	bodyClose
)

type chunkState uint8

const (
	chunkSize chunkState = iota // expecting a chunk-size line
	chunkData                   // inside a chunk's data (left bytes)
	chunkCRLF                   // expecting the CRLF after the data
)

// Addr returns the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Reused reports whether the connection served an earlier request.
func (c *Conn) Reused() bool { return c.reused }

// Received reports whether any byte of a response arrived on this request.
func (c *Conn) Received() bool { return c.received }

// W is the writer of the request head and body; Flush sends it.
func (c *Conn) W() *bufio.Writer { return c.bw }

// Flush sends what was written to W.
func (c *Conn) Flush() error {
	if err := c.bw.Flush(); err != nil {
		c.broken = true
		return err
	}
	return nil
}

// Watch makes the exchange fail with the context's error soon after ctx is
// done (the client went away): blocked reads and writes wake up every
// WatchInterval to check it, which costs no allocation per request (unlike
// context.AfterFunc). Release stops watching.
func (c *Conn) Watch(ctx context.Context) { c.dc.ctx = ctx }

// WatchInterval is the longest a done context goes unnoticed by Watch.
const WatchInterval = 500 * time.Millisecond

func (c *Conn) reuse() {
	c.reused = true
	c.received, c.done = false, false
	c.Res = Response{Fields: c.Res.Fields[:0], Trailers: c.Res.Trailers[:0]}
}

func (c *Conn) abort() {
	c.aborted.Store(true)
	_ = c.nc.SetDeadline(time.Unix(1, 0))
}

// Aborted reports whether AbortFunc was called.
func (c *Conn) Aborted() bool { return c.aborted.Load() }

// Release ends the request: the connection goes back to the pool when its
// response was read to the end and nothing forbids reuse, else it is
// closed. Bytes already read past the response (a body sent to a HEAD, a
// second response nobody asked for) forbid reuse: the next request would
// take them for its response.
func (c *Conn) Release() {
	c.dc.ctx = nil
	c.requests++
	if !c.done || c.broken || c.Res.Close || c.aborted.Load() ||
		(c.p.o.MaxRequests > 0 && c.requests >= c.p.o.MaxRequests) || c.bw.Buffered() > 0 || c.br.Buffered() > 0 {
		c.close()
		return
	}
	c.p.put(c)
}

// Close closes the connection without reuse.
func (c *Conn) Close() { c.close() }

func (c *Conn) close() {
	c.broken = true
	_ = c.nc.Close()
}

// Alive checks, without blocking, that a connection taken from the pool
// was not closed by the upstream meanwhile (Get checks only those idle for
// a while). One system call: for requests that cannot be sent again.
func (c *Conn) Alive() bool { return c.alive() }

// alive checks, without blocking, that an idle connection was not closed
// by the upstream (and sent nothing unexpected).
func (c *Conn) alive() bool {
	if c.rc == nil {
		return true
	}
	// An expired deadline would fail the raw read before the peek.
	_ = c.nc.SetReadDeadline(time.Time{})
	c.dc.rdl = time.Time{}
	if err := c.rc.Read(c.peekFn); err != nil {
		return false
	}
	if c.peekN > 0 || (c.peekN == 0 && c.peekErr == nil) {
		return false // stray bytes or EOF
	}
	return errors.Is(c.peekErr, syscall.EAGAIN) || errors.Is(c.peekErr, syscall.EWOULDBLOCK)
}

// deadlineConn applies the read and write timeouts to each read and write,
// and wakes blocked calls every WatchInterval to check the watched context.
// The connection's deadline is moved only when it would move by more than
// a sixteenth of the step, which saves the timer update on most calls under
// load; a wait is then bounded by between 15/16 of the timeout and the
// timeout.
type deadlineConn struct {
	c           *Conn
	read, write time.Duration
	rdl, wdl    time.Time
	ctx         context.Context // watched; nil when none
}

var errAborted = errors.New("upconn: exchange aborted")

// step is the deadline distance for one wait: the timeout, shortened to
// WatchInterval while a context is watched.
func (d *deadlineConn) step(timeout time.Duration) time.Duration {
	if d.ctx != nil && (timeout <= 0 || timeout > WatchInterval) {
		return WatchInterval
	}
	return timeout
}

// expired tells a deadline error that ends the call: the timeout passed
// since start, or the watched context is done (then its error is
// returned).
func (d *deadlineConn) expired(err error, start time.Time, timeout time.Duration) (bool, error) {
	if !errors.Is(err, os.ErrDeadlineExceeded) || d.c.aborted.Load() {
		return true, err
	}
	if d.ctx != nil {
		if cerr := d.ctx.Err(); cerr != nil {
			return true, cerr
		}
	}
	if timeout > 0 && time.Since(start) >= timeout {
		return true, err
	}
	return false, nil
}

func (d *deadlineConn) Read(b []byte) (int, error) {
	var start time.Time
	for {
		if step := d.step(d.read); step > 0 {
			now := time.Now()
			if start.IsZero() {
				start = now
			}
			want := now.Add(step)
			if want.Sub(d.rdl) > step>>4 || want.Before(d.rdl) {
				d.rdl = want
				if err := d.c.nc.SetReadDeadline(want); err != nil {
					return 0, err
				}
			}
		} else if !d.rdl.IsZero() {
			d.rdl = time.Time{}
			if err := d.c.nc.SetReadDeadline(time.Time{}); err != nil {
				return 0, err
			}
		}
		if d.c.aborted.Load() {
			return 0, errAborted
		}
		n, err := d.c.nc.Read(b)
		if n > 0 {
			d.c.received = true
		}
		if err == nil || n > 0 {
			return n, err
		}
		if done, err := d.expired(err, start, d.read); done {
			return 0, err
		}
		d.rdl = time.Unix(1, 0) // expired: forces a new (or no) deadline
	}
}

func (d *deadlineConn) Write(b []byte) (int, error) {
	var start time.Time
	written := 0
	for {
		if step := d.step(d.write); step > 0 {
			now := time.Now()
			if start.IsZero() {
				start = now
			}
			want := now.Add(step)
			if want.Sub(d.wdl) > step>>4 || want.Before(d.wdl) {
				d.wdl = want
				if err := d.c.nc.SetWriteDeadline(want); err != nil {
					return written, err
				}
			}
		} else if !d.wdl.IsZero() {
			d.wdl = time.Time{}
			if err := d.c.nc.SetWriteDeadline(time.Time{}); err != nil {
				return written, err
			}
		}
		if d.c.aborted.Load() {
			return written, errAborted
		}
		n, err := d.c.nc.Write(b[written:])
		written += n
		if err == nil {
			return written, nil
		}
		if n > 0 {
			start = time.Time{} // progress: the timeout counts from here
		}
		if done, err := d.expired(err, start, d.write); done {
			return written, err
		}
		d.wdl = time.Unix(1, 0)
	}
}

// Read reads the response body; it returns io.EOF at its end.
func (c *Conn) Read(p []byte) (int, error) {
	switch c.mode {
	case bodyLength:
		if c.left == 0 {
			c.done = true
			return 0, io.EOF
		}
		if int64(len(p)) > c.left {
			p = p[:c.left]
		}
		n, err := c.br.Read(p)
		c.left -= int64(n)
		if err != nil {
			c.broken = true
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if c.left == 0 {
			c.done = true
			return n, io.EOF
		}
		return n, nil
	case bodyChunked:
		return c.readChunked(p)
	case bodyClose:
		n, err := c.br.Read(p)
		if errors.Is(err, io.EOF) {
			c.done = true
		} else if err != nil {
			c.broken = true
		}
		return n, err
	}
	c.done = true
	return 0, io.EOF
}

// Buffered returns body bytes already in the read buffer, without
// blocking, and consumes them; nil when a read is needed. The slice is
// valid until the next call on c.
func (c *Conn) Buffered() []byte {
	n := int64(c.br.Buffered())
	if n == 0 {
		return nil
	}
	switch c.mode {
	case bodyLength:
		n = min(n, c.left)
	case bodyChunked:
		if c.chunkSt != chunkData {
			return nil
		}
		n = min(n, c.left)
	case bodyClose:
	default:
		return nil
	}
	b, _ := c.br.Peek(int(n))
	_, _ = c.br.Discard(int(n))
	switch c.mode {
	case bodyLength:
		c.left -= n
		if c.left == 0 {
			c.done = true
		}
	case bodyChunked:
		c.left -= n
		if c.left == 0 {
			c.chunkSt = chunkCRLF
		}
	}
	return b
}

// Done reports whether the body was read to its end.
func (c *Conn) Done() bool { return c.done }
