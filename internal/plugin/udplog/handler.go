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
	s     *plugin.LineSink // one datagram per entry (JSON has no newline)
	drops metrics.Counter
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
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	drops := dropped.With(addr)
	s := plugin.AcquireLineSink(plugin.LineSinkOptions{Kind: Name, Host: c.Host, Port: c.Port,
		Entries: QueueEntries, Bytes: QueueBytes, OnDrop: drops.Inc,
		Timeout: time.Duration(c.Timeout * float64(time.Millisecond))})
	return &UDPLog{s: s, drops: drops, now: time.Now}, nil
}

// Log queues the request's entry; it never blocks.
func (p *UDPLog) Log(c *plugin.Ctx) {
	b, err := json.Marshal(plugin.NewLogEntry(c, p.now()))
	if err != nil {
		p.drops.Inc()
		return
	}
	p.s.Put(b)
}

// Close releases the destination's sender; the last instance of a
// destination stops it once its queue is sent.
func (p *UDPLog) Close() { p.close.Do(p.s.Release) }
