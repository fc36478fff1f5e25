package correlationid

import (
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"sluice/internal/plugin"
)

// SharedKey is the Ctx shared-map key holding the request's correlation id
// (Kong's serialized "correlation_id" log field).
const SharedKey = "correlation_id"

// processID and counter back the uuid#counter generator: one uuid per
// process (Kong: per worker) and a request counter.
var (
	processID = uuid.NewString()
	counter   atomic.Uint64
	pid       = strconv.Itoa(os.Getpid())
)

// CorrelationID is one configured instance.
type CorrelationID struct {
	header   string
	generate func(r *http.Request) string
	echo     bool
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	p := &CorrelationID{header: "Kong-Request-ID"}
	if h, ok := cfg["header_name"].(string); ok {
		p.header = h
	}
	p.echo, _ = cfg["echo_downstream"].(bool)
	switch cfg["generator"] {
	case "uuid":
		p.generate = func(*http.Request) string { return uuid.NewString() }
	case "tracker":
		p.generate = tracker
	default:
		p.generate = uuidCounter
	}
	return p, nil
}

func uuidCounter(*http.Request) string {
	return processID + "#" + strconv.FormatUint(counter.Add(1), 10)
}

// tracker is Kong's "tracker" id: server address, server port, process id,
// a request serial number and the time in seconds with milliseconds.
// (Kong uses the nginx connection serial and requests-per-connection count;
// sluice has one process-wide request serial instead.)
func tracker(r *http.Request) string {
	addr, port := "", ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		addr, port, _ = net.SplitHostPort(a.String())
	}
	now := float64(time.Now().UnixMilli()) / 1000
	return addr + "-" + port + "-" + pid + "-" + strconv.FormatUint(counter.Add(1), 10) +
		"-1-" + strconv.FormatFloat(now, 'f', 3, 64)
}

// Access keeps the client's id or generates one, for the upstream request.
func (p *CorrelationID) Access(c *plugin.Ctx) {
	id := c.Request.Header.Get(p.header)
	if id == "" {
		id = p.generate(c.Request)
		c.Request.Header.Set(p.header, id)
	}
	c.Set(SharedKey, id)
}

// HeaderFilter echoes the id to the client when echo_downstream is set.
func (p *CorrelationID) HeaderFilter(c *plugin.Ctx) {
	if !p.echo || c.Header == nil {
		return
	}
	id, _ := c.Get(SharedKey)
	s, _ := id.(string)
	if s == "" {
		s = c.Request.Header.Get(p.header)
	}
	if s == "" {
		s = p.generate(c.Request)
	}
	c.Header.Set(p.header, s)
}

var (
	_ plugin.Accessor       = (*CorrelationID)(nil)
	_ plugin.HeaderFilterer = (*CorrelationID)(nil)
)
