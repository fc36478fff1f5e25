package loggly

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/metrics"
	"sluice/internal/model"
	"sluice/internal/plugin"
)

// The queue to each destination.
const (
	QueueEntries = 4096
	QueueBytes   = 16 << 20
)

var dropped = metrics.Default().NewCounterVec(metrics.Opts{
	Name: "sluice_loggly_dropped_total",
	Help: "loggly entries dropped because the destination's queue was full, the send failed or the sender had stopped.", MaxSeries: 100,
}, "destination")

// hostname is the node's host name (Kong runs /bin/hostname).
var hostname = func() string {
	h, _ := os.Hostname()
	return h
}()

// Loggly is one plugin instance.
type Loggly struct {
	sev plugin.StatusSeverities
	// sd is the structured data: [<key>@41058 tag="a" tag="b"].
	sd    string
	s     *plugin.LineSink
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
	oneLine := strings.NewReplacer("\n", " ", "\r", " ")
	tags := make([]string, len(c.Tags))
	for i, t := range c.Tags {
		tags[i] = `tag="` + oneLine.Replace(t) + `"`
	}
	p := &Loggly{sev: plugin.NewStatusSeverities(c.LogLevel, c.SuccessfulSeverity, c.ClientErrorsSeverity, c.ServerErrorsSeverity),
		sd: "[" + oneLine.Replace(c.Key) + "@41058 " + strings.Join(tags, " ") + "]", now: time.Now}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	p.s = plugin.AcquireLineSink(plugin.LineSinkOptions{Kind: Name, Host: c.Host, Port: c.Port,
		Entries: QueueEntries, Bytes: QueueBytes, OnDrop: dropped.With(addr).Inc,
		Timeout: time.Duration(c.Timeout * float64(time.Millisecond))})
	return p, nil
}

// Log queues the request's message when its severity is at least
// log_level; it never blocks.
func (p *Loggly) Log(c *plugin.Ctx) {
	sev, send := p.sev.For(c.Status)
	if !send {
		return
	}
	now := p.now()
	msg, err := json.Marshal(plugin.NewLogEntry(c, now))
	if err != nil {
		return
	}
	p.s.Put(p.frame(8+sev, now, msg))
}

// frame is Kong's message: RFC 5424 with facility user, the node's host
// name, app name kong, no process or message id, the token and tags as
// structured data, then the JSON entry.
func (p *Loggly) frame(pri int, t time.Time, msg []byte) []byte {
	b := make([]byte, 0, len(msg)+len(p.sd)+len(hostname)+48)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, ">1 "...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, ' ')
	b = append(b, hostname...)
	b = append(b, " kong - - "...)
	b = append(b, p.sd...)
	b = append(b, ' ')
	b = append(b, msg...)
	return append(b, '\n')
}

// Close releases the destination's sender.
func (p *Loggly) Close() { p.close.Do(p.s.Release) }
