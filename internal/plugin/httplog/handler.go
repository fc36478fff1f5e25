package httplog

import (
	"encoding/json"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// HTTPLog is one plugin instance.
type HTTPLog struct {
	q     *queue
	now   func() time.Time
	close sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	if deps.Logger != nil {
		plugin.WarnCustomFieldsByLua(deps.Logger, Name, c.CustomFieldsByLua)
		if c.RetryCount != nil || c.QueueSize != nil || c.FlushTimeout != nil {
			deps.Logger.Warn("http-log: retry_count, queue_size and flush_timeout are deprecated and ignored; use queue.*")
		}
	}
	return &HTTPLog{q: acquire(c), now: time.Now}, nil
}

// Log encodes the request's record and queues it; it never blocks.
func (p *HTTPLog) Log(c *plugin.Ctx) {
	b, err := json.Marshal(plugin.NewLogEntry(c, p.now()))
	if err != nil {
		p.q.drop(1, "encode")
		return
	}
	p.q.push(b)
}

// Close releases the queue; the last instance of a configuration stops its
// worker.
func (p *HTTPLog) Close() { p.close.Do(func() { release(p.q) }) }
