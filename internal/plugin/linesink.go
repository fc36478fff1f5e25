package plugin

import (
	"bytes"
	"net"
	"strconv"
	"time"
)

// LineSink sends lines (StatsD metrics, syslog messages) to one
// destination, over UDP (a datagram per line, or lines packed into
// datagrams) or TCP, through a bounded Outbox drained by one goroutine.
// Plugins (statsd, datadog, loggly, udp-log) share one sink per destination and
// settings: AcquireLineSink makes it on first use, Release stops it after
// the last user.
type LineSink struct {
	key        string
	addr       string
	tcp        bool
	packetSize int
	timeout    time.Duration
	box        *Outbox
	conn       net.Conn // the outbox goroutine's alone
	dialed     time.Time
}

// LineSinkOptions names a destination and its queue.
type LineSinkOptions struct {
	// Kind separates the sinks of different plugins (their OnDrop).
	Kind string
	Host string
	Port int
	TCP  bool
	// PacketSize, over UDP, packs an entry's lines into datagrams of at
	// most this many bytes (Kong's udp_packet_size); 0 sends one datagram
	// per line.
	PacketSize int
	// Entries and Bytes bound the queue.
	Entries int
	Bytes   int64
	// OnDrop counts an entry dropped (queue full, send failed, stopped).
	OnDrop func()
	// Timeout bounds each connect and write (lineTimeout when 0).
	Timeout time.Duration
}

// lineTimeout bounds a connect and a write unless the options set
// Timeout (Kong's 1 s for statsd).
const lineTimeout = time.Second

// lineRedial is how long a UDP socket is used before it is opened
// again, so that a change of the host's address is followed.
const lineRedial = 30 * time.Second

var lineSinks Shared[*LineSink]

// AcquireLineSink returns the sink for o, shared with every user of the
// same options.
func AcquireLineSink(o LineSinkOptions) *LineSink {
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	if o.Timeout <= 0 {
		o.Timeout = lineTimeout
	}
	key := o.Kind + "|" + addr + "|" + strconv.FormatBool(o.TCP) + "|" + strconv.Itoa(o.PacketSize) +
		"|" + strconv.Itoa(o.Entries) + "|" + strconv.FormatInt(o.Bytes, 10) + "|" + o.Timeout.String()
	return lineSinks.Acquire(key, func() *LineSink {
		s := &LineSink{key: key, addr: addr, tcp: o.TCP, packetSize: o.PacketSize, timeout: o.Timeout}
		s.box = NewOutbox(OutboxOptions{Entries: max(o.Entries, 1), Bytes: o.Bytes,
			Deliver: s.send, Finish: s.closeConn, OnDrop: o.OnDrop})
		return s
	})
}

// Put queues one entry: lines each ending in a newline. It never blocks.
func (s *LineSink) Put(entry []byte) { s.box.Put(entry) }

// Release gives the sink back; the last release stops it (what is queued
// is still sent).
func (s *LineSink) Release() { lineSinks.Release(s.key, func(s *LineSink) { s.box.Stop() }) }

// send writes one entry: over TCP as it is; over UDP one datagram per
// line, or with a packet size as few datagrams as fit, lines joined by
// newlines.
func (s *LineSink) send(entry []byte) error {
	if s.conn != nil && !s.tcp && time.Since(s.dialed) > lineRedial {
		s.closeConn()
	}
	if s.conn == nil {
		network := "udp"
		if s.tcp {
			network = "tcp"
		}
		c, err := net.DialTimeout(network, s.addr, s.timeout)
		if err != nil {
			return err
		}
		s.conn, s.dialed = c, time.Now()
	}
	err := s.write(entry)
	if err != nil {
		s.closeConn()
	}
	return err
}

func (s *LineSink) write(entry []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	if s.tcp {
		_, err := s.conn.Write(entry)
		return err
	}
	lines := bytes.Split(bytes.TrimSuffix(entry, []byte{'\n'}), []byte{'\n'})
	if s.packetSize <= 0 {
		for _, l := range lines {
			if _, err := s.conn.Write(l); err != nil {
				return err
			}
		}
		return nil
	}
	var packet [][]byte
	size := 0
	flush := func() error {
		if size == 0 {
			return nil
		}
		_, err := s.conn.Write(bytes.Join(packet, []byte{'\n'}))
		packet, size = packet[:0], 0
		return err
	}
	// Kong's packing: a line that does not fit sends what is gathered and
	// starts the next datagram (alone, if it is larger than a datagram);
	// each gathered line counts its length and a newline.
	for _, l := range lines {
		if size+len(l) > s.packetSize {
			if err := flush(); err != nil {
				return err
			}
			packet, size = append(packet, l), len(l)
			continue
		}
		packet = append(packet, l)
		size += len(l) + 1
	}
	return flush()
}

func (s *LineSink) closeConn() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}
