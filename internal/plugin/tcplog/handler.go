package tcplog

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// QueueEntries and QueueBytes bound each destination's queue.
const (
	QueueEntries = 4096
	QueueBytes   = 16 << 20
)

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_tcp_log_dropped_total",
	Help: "tcp-log entries dropped because the destination's queue was full, the send failed or the sender had stopped.", MaxSeries: 100,
}, "destination")

// TCPLog is one plugin instance.
type TCPLog struct {
	s     *sender
	now   func() time.Time
	close sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	plugin.WarnCustomFieldsByLua(deps.Logger, Name, c.CustomFieldsByLua)
	return &TCPLog{s: acquire(c), now: time.Now}, nil
}

// Log queues the request's entry; it never blocks.
func (p *TCPLog) Log(c *plugin.Ctx) {
	b, err := json.Marshal(plugin.NewLogEntry(c, p.now()))
	if err != nil {
		p.s.drops.Inc()
		return
	}
	p.s.box.Put(append(b, '\n'))
}

// Close releases the destination's sender; the last instance of a
// destination stops it once its queue is sent.
func (p *TCPLog) Close() { p.close.Do(func() { release(p.s) }) }

// sender owns one destination: its outbox and its connection.
type sender struct {
	key   string
	conf  Config
	box   *plugin.Outbox
	drops metrics.Counter

	conn     net.Conn     // the outbox goroutine's alone
	closed   *atomic.Bool // conn's reader saw the server close it (or an error)
	lastUsed time.Time
}

var senders plugin.Shared[*sender]

// acquire returns the shared sender of a destination (address, TLS and
// timeouts), starting it on first use.
func acquire(c Config) *sender {
	sni := ""
	if c.TLSSNI != nil {
		sni = *c.TLSSNI
	}
	key := net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) + "|" + strconv.FormatBool(c.TLS) + "|" + sni +
		"|" + strconv.FormatFloat(c.Timeout, 'g', -1, 64) + "|" + strconv.FormatFloat(c.Keepalive, 'g', -1, 64)
	return senders.Acquire(key, func() *sender {
		s := &sender{key: key, conf: c, drops: dropped.With(net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))}
		s.box = plugin.NewOutbox(plugin.OutboxOptions{Entries: QueueEntries, Bytes: QueueBytes,
			Deliver: s.send, Finish: s.closeConn, OnDrop: s.drops.Inc})
		return s
	})
}

func release(s *sender) { senders.Release(s.key, func(s *sender) { s.box.Stop() }) }

func (s *sender) timeout() time.Duration {
	return time.Duration(s.conf.Timeout * float64(time.Millisecond))
}

// send writes one entry, on the open connection when it has been idle for
// less than keepalive (0: no limit, as nginx's setkeepalive) and the
// server has not closed it, else on a new one; a write that fails on a
// reused connection is tried once more on a new one.
func (s *sender) send(entry []byte) error {
	idle := time.Duration(s.conf.Keepalive * float64(time.Millisecond))
	reused := s.conn != nil && (idle <= 0 || time.Since(s.lastUsed) < idle) && !s.closed.Load()
	if !reused {
		s.closeConn()
	}
	err := s.write(entry)
	if err != nil && reused {
		s.closeConn()
		err = s.write(entry)
	}
	if err != nil {
		s.closeConn()
		return err
	}
	s.lastUsed = time.Now()
	return nil
}

func (s *sender) write(entry []byte) error {
	if s.conn == nil {
		c, err := s.dial()
		if err != nil {
			return err
		}
		// A reader per connection takes what the server sends (a TLS
		// server's session tickets, which would otherwise sit unread) and
		// notices when it closes the connection: a write into a closed
		// connection is often accepted by the kernel and lost.
		closed := new(atomic.Bool)
		go func() {
			_, _ = io.Copy(io.Discard, c)
			closed.Store(true)
		}()
		s.conn, s.closed = c, closed
	}
	if t := s.timeout(); t > 0 {
		_ = s.conn.SetWriteDeadline(time.Now().Add(t))
	}
	_, err := s.conn.Write(entry)
	return err
}

func (s *sender) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: s.timeout()}
	addr := net.JoinHostPort(s.conf.Host, strconv.Itoa(s.conf.Port))
	c, err := d.Dial("tcp", addr)
	if err != nil || !s.conf.TLS {
		return c, err
	}
	// Kong's sslhandshake(true, tls_sni, false): no verification.
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // Kong does not verify tcp-log's server
	if s.conf.TLSSNI != nil {
		cfg.ServerName = *s.conf.TLSSNI
	}
	tc := tls.Client(c, cfg)
	if t := s.timeout(); t > 0 {
		_ = tc.SetDeadline(time.Now().Add(t))
	}
	if err := tc.Handshake(); err != nil {
		_ = c.Close()
		return nil, errors.Join(errors.New("tls handshake with "+addr), err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

func (s *sender) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}
