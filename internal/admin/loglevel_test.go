package admin

import (
	"log/slog"
	"testing"
)

// kong/api/routes/debug.lua (22-debug_spec.lua): the node's dynamic log
// level.
func TestDebugLogLevel(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelInfo)
	c := newServer(t, func(o *Options) { o.LogLevel, o.LogLevelName = lv, "notice" })
	wantBody(t, c.do("GET", "/debug/node/log-level", nil), 200, `{"message":"log level: notice"}`)
	wantBody(t, c.do("PUT", "/debug/node/log-level/debug?timeout=0", nil), 200, `{"message":"log level changed"}`)
	if lv.Level() != slog.LevelDebug {
		t.Errorf("level %v after PUT debug", lv.Level())
	}
	wantBody(t, c.do("GET", "/debug/node/log-level", nil), 200, `{"message":"log level: debug"}`)
	wantBody(t, c.do("PUT", "/debug/node/log-level/debug", nil), 200, `{"message":"log level is already debug"}`)
	wantBody(t, c.do("PUT", "/debug/node/log-level/bogus", nil), 400, `{"message":"unknown log level: bogus"}`)
	wantBody(t, c.do("PUT", "/debug/node/log-level/warn?timeout=-1", nil), 400, `{"message":"timeout must be greater than or equal to 0"}`)
	wantBody(t, c.do("GET", "/debug/node/log-level/warn", nil), 405, `{"message":"Method not allowed"}`)

	// A level set for a while goes back to the configured one when it
	// expires; an expiry of a level since replaced does nothing.
	lv.Set(slog.LevelInfo)
	d := newDynLevel(lv, "notice")
	d.set("error", 0)
	gen := d.restores
	d.set("warn", 0)
	d.expire(gen)
	if d.name() != "warn" || lv.Level() != slog.LevelWarn {
		t.Errorf("stale expiry changed the level: %s %v", d.name(), lv.Level())
	}
	d.expire(d.restores)
	if d.name() != "notice" || lv.Level() != slog.LevelInfo {
		t.Errorf("after expiry: %s %v", d.name(), lv.Level())
	}

	// Without a level to change the endpoints are not served; DB-less
	// nodes refuse the change.
	plain := newServer(t, nil)
	plain.must(404, "GET", "/debug/node/log-level", nil)
	off := newServer(t, func(o *Options) { o.LogLevel, o.Database, o.Store = new(slog.LevelVar), "off", nil })
	wantBody(t, off.do("PUT", "/debug/node/log-level/debug", nil), 405, `{"message":"cannot change log level when not using a database"}`)
}
