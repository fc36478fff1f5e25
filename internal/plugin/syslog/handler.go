package syslog

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// The queue to the syslog daemon, shared by every instance.
const (
	QueueEntries = 4096
	QueueBytes   = 16 << 20
)

// tag is the name entries are logged under (Kong's sender name).
const tag = "kong"

// SocketPaths are where the local syslog daemon is looked for, in order
// (glibc's and Go's log/syslog's places).
var SocketPaths = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_syslog_dropped_total",
	Help: "syslog entries dropped because the queue was full, no syslog daemon answered or the sender had stopped.", MaxSeries: 1,
}).With()

// Syslog is one plugin instance.
type Syslog struct {
	sev      plugin.StatusSeverities
	facility int
	s        *sender
	now      func() time.Time
	close    sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	plugin.WarnCustomFieldsByLua(deps.Logger, Name, c.CustomFieldsByLua)
	return &Syslog{sev: plugin.NewStatusSeverities(c.LogLevel, c.SuccessfulSeverity, c.ClientErrorsSeverity, c.ServerErrorsSeverity),
		facility: Facilities[c.Facility], s: acquire(), now: time.Now}, nil
}

// Log queues the request's entry when its severity is at least log_level;
// it never blocks.
func (p *Syslog) Log(c *plugin.Ctx) {
	sev, send := p.sev.For(c.Status)
	if !send {
		return
	}
	now := p.now()
	msg, err := json.Marshal(plugin.NewLogEntry(c, now))
	if err != nil {
		dropped.Inc()
		return
	}
	p.s.box.Put(frame(p.facility*8+sev, now, msg))
}

// Close releases the sender; the last instance stops it once its queue is
// sent.
func (p *Syslog) Close() { p.close.Do(func() { release(p.s) }) }

// frame is what syslog(3) sends the local daemon:
// "<priority>Mmm dd hh:mm:ss kong[pid]: message".
func frame(pri int, t time.Time, msg []byte) []byte {
	b := make([]byte, 0, len(msg)+48)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, '>')
	b = t.AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, "]: "...)
	return append(b, msg...)
}

// sender owns the connection to the daemon and its queue.
type sender struct {
	box    *plugin.Outbox
	conn   net.Conn // the outbox goroutine's alone
	stream bool     // a stream socket: entries end in a newline
}

var senders plugin.Shared[*sender]

func acquire() *sender {
	return senders.Acquire("syslog", func() *sender {
		s := &sender{}
		s.box = plugin.NewOutbox(plugin.OutboxOptions{Entries: QueueEntries, Bytes: QueueBytes,
			Deliver: s.send, Finish: s.closeConn, OnDrop: dropped.Inc})
		return s
	})
}

func release(s *sender) { senders.Release("syslog", func(s *sender) { s.box.Stop() }) }

var errNoDaemon = errors.New("syslog: no syslog daemon socket found")

// send writes one entry, connecting to the daemon first when needed, and
// once more after a failed write (the daemon restarted).
func (s *sender) send(entry []byte) error {
	for attempt := 0; attempt < 2; attempt++ {
		if s.conn == nil {
			if err := s.dial(); err != nil {
				return err
			}
		}
		out := entry
		if s.stream {
			out = append(entry[:len(entry):len(entry)], '\n')
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := s.conn.Write(out); err == nil {
			return nil
		}
		s.closeConn()
	}
	return errNoDaemon
}

func (s *sender) dial() error {
	for _, path := range SocketPaths {
		for _, network := range []string{"unixgram", "unix"} {
			if c, err := net.DialTimeout(network, path, time.Second); err == nil {
				s.conn, s.stream = c, network == "unix"
				return nil
			}
		}
	}
	return errNoDaemon
}

func (s *sender) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}
