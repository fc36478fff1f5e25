package filelog

import (
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// FileLog is one plugin instance.
type FileLog struct {
	conf  Config
	w     *writer
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
	return &FileLog{conf: c, w: acquire(c.Path, c.Reopen), now: time.Now}, nil
}

// Log queues the request's entry; it never blocks.
func (p *FileLog) Log(c *plugin.Ctx) { p.w.enqueue(plugin.NewLogEntry(c, p.now())) }

// Close releases the file's writer; the last instance of a file stops it
// once its queue is written.
func (p *FileLog) Close() { p.close.Do(func() { release(p.w) }) }
