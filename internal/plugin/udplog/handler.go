package udplog

import (
	"encoding/json"
	"net"
	"strconv"
	"sync"
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
	Name: "sluice_udp_log_dropped_total",
	Help: "udp-log entries dropped because the destination's queue was full, the send failed or the sender had stopped.", MaxSeries: 100,
}, "destination")

// UDPLog is one plugin instance.
type UDPLog struct {
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
	return &UDPLog{s: acquire(c), now: time.Now}, nil
}

// Log queues the request's entry; it never blocks.
func (p *UDPLog) Log(c *plugin.Ctx) {
	b, err := json.Marshal(plugin.NewLogEntry(c, p.now()))
	if err != nil {
		p.s.drops.Inc()
		return
	}
	p.s.box.Put(b)
}

// Close releases the destination's sender; the last instance of a
// destination stops it once its queue is sent.
func (p *UDPLog) Close() { p.close.Do(func() { release(p.s) }) }

// sender owns one destination: its outbox and its socket.
type sender struct {
	key   string
	conf  Config
	box   *plugin.Outbox
	drops metrics.Counter

	conn   net.Conn // the outbox goroutine's alone
	dialed time.Time
}

// Redial is how long a UDP socket is used before it is opened again, so
// that a change of the host's address is followed (a UDP write does not
// fail when nobody listens).
const Redial = 30 * time.Second

var senders plugin.Shared[*sender]

func acquire(c Config) *sender {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	key := addr + "|" + strconv.FormatFloat(c.Timeout, 'g', -1, 64)
	return senders.Acquire(key, func() *sender {
		s := &sender{key: key, conf: c, drops: dropped.With(addr)}
		s.box = plugin.NewOutbox(plugin.OutboxOptions{Entries: QueueEntries, Bytes: QueueBytes,
			Deliver: s.send, Finish: s.closeConn, OnDrop: s.drops.Inc})
		return s
	})
}

func release(s *sender) { senders.Release(s.key, func(s *sender) { s.box.Stop() }) }

// send writes one datagram on the destination's connected socket, opened
// (and the name resolved) on first use and again after an error.
func (s *sender) send(entry []byte) error {
	timeout := time.Duration(s.conf.Timeout * float64(time.Millisecond))
	if s.conn != nil && time.Since(s.dialed) > Redial {
		s.closeConn()
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: timeout}
		c, err := d.Dial("udp", net.JoinHostPort(s.conf.Host, strconv.Itoa(s.conf.Port)))
		if err != nil {
			return err
		}
		s.conn, s.dialed = c, time.Now()
	}
	if timeout > 0 {
		_ = s.conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := s.conn.Write(entry); err != nil {
		s.closeConn()
		return err
	}
	return nil
}

func (s *sender) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}
