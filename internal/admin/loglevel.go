package admin

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// kongLogLevels maps Kong's log levels (kong.constants LOG_LEVELS) to
// slog's. Kong's notice has no slog twin: it logs as info, as
// settings.SlogLevel does.
var kongLogLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "notice": slog.LevelInfo, "warn": slog.LevelWarn,
	"error": slog.LevelError, "crit": slog.LevelError, "alert": slog.LevelError, "emerg": slog.LevelError,
}

// defaultLogLevelTimeout is how long a level set through the Admin API
// lasts without ?timeout= (kong/api/routes/debug.lua).
const defaultLogLevelTimeout = 60 * time.Second

// dynLevel is the node's log level as the debug endpoints change it: a
// level set for a while, then the configured one again.
type dynLevel struct {
	v        *slog.LevelVar
	mu       sync.Mutex
	base     string // the configured Kong level name
	baseLvl  slog.Level
	cur      string
	restore  *time.Timer
	restores uint64 // generation, so that a stale timer does nothing
}

func newDynLevel(v *slog.LevelVar, name string) *dynLevel {
	if _, ok := kongLogLevels[name]; !ok {
		name = "notice"
	}
	return &dynLevel{v: v, base: name, baseLvl: v.Level(), cur: name}
}

func (d *dynLevel) name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// set changes the level to name for timeout (0: until changed again).
// It reports false when name is already the level.
func (d *dynLevel) set(name string, timeout time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == name {
		return false
	}
	d.cur = name
	d.v.Set(kongLogLevels[name])
	if d.restore != nil {
		d.restore.Stop()
		d.restore = nil
	}
	d.restores++
	if timeout > 0 {
		gen := d.restores
		d.restore = time.AfterFunc(timeout, func() { d.expire(gen) })
	}
	return true
}

// expire puts the configured level back, unless the level set by
// generation gen was changed since.
func (d *dynLevel) expire(gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.restores == gen {
		d.cur = d.base
		d.v.Set(d.baseLvl)
		d.restore = nil
	}
}

// getLogLevel serves GET /debug/node/log-level.
func (s *server) getLogLevel(c *call) error {
	return s.reply(c, http.StatusOK, map[string]string{"message": "log level: " + s.logLevel.name()})
}

// putLogLevel serves PUT /debug/node/log-level/{log_level}[?timeout=s]
// as kong/api/routes/debug.lua does.
func (s *server) putLogLevel(c *call) error {
	if s.dbless {
		return message(http.StatusMethodNotAllowed, "cannot change log level when not using a database")
	}
	name := c.params["log_level"]
	if _, ok := kongLogLevels[name]; !ok {
		return message(http.StatusBadRequest, "unknown log level: "+name)
	}
	timeout := defaultLogLevelTimeout
	if t := c.r.URL.Query().Get("timeout"); t != "" {
		f, err := strconv.ParseFloat(t, 64)
		if err == nil {
			if f = math.Ceil(f); f < 0 {
				return message(http.StatusBadRequest, "timeout must be greater than or equal to 0")
			}
			timeout = time.Duration(f) * time.Second
		}
	}
	if !s.logLevel.set(name, timeout) {
		return s.reply(c, http.StatusOK, map[string]string{"message": "log level is already " + name})
	}
	return s.reply(c, http.StatusOK, map[string]string{"message": "log level changed"})
}
