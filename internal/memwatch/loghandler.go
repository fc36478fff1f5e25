package memwatch

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Messages of package reload that LogHandler turns into reload events.
const (
	msgConfigApplied  = "config applied"
	msgConfigRejected = "config rejected"
)

// entityKeys are the attributes of reload's "config applied" record that
// count entities.
var entityKeys = map[string]bool{
	"services": true, "routes": true, "upstreams": true, "targets": true, "certificates": true,
	"consumers": true, "plugins": true, "snis": true, "credentials": true, "ca_certificates": true,
	"vaults": true, "entities": true,
}

// LogHandler wraps next so that the reload package's log records become
// events on the timeline without reload knowing about memwatch: each
// "config applied" record becomes a reload event with the sum of its entity
// counts (services, routes, upstreams, targets, certificates...) and its
// build_seconds; each "config rejected…" record becomes a reload event too
// (a rejected build allocates as well), with rejected=true. Every record is
// passed on to next as before. Give the result to slog.New for the logger
// handed to reload.New.
func (w *Watcher) LogHandler(next slog.Handler) slog.Handler {
	return &logHandler{next: next, w: w}
}

type logHandler struct {
	next slog.Handler
	w    *Watcher
}

// Enabled is true for Info and above even when next is quieter, so that
// reload records are seen; Handle drops what next does not want.
func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Message == msgConfigApplied:
		n, build := 0, 0.0
		r.Attrs(func(a slog.Attr) bool {
			switch {
			case entityKeys[a.Key]:
				if v, ok := intValue(a.Value); ok {
					n += v
				}
			case a.Key == "build_seconds":
				if a.Value.Kind() == slog.KindFloat64 {
					build = a.Value.Float64()
				}
			}
			return true
		})
		h.w.Reload(n, time.Duration(build*float64(time.Second)))
	case strings.HasPrefix(r.Message, msgConfigRejected):
		var errText string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				errText = a.Value.String()
			}
			return true
		})
		h.w.Event(KindReload, "rejected config reload", "rejected", true, "error", errText)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func intValue(v slog.Value) (int, bool) {
	switch v.Kind() {
	case slog.KindInt64:
		return int(v.Int64()), true
	case slog.KindUint64:
		return int(v.Uint64()), true
	}
	return 0, false
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(as), w: h.w}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), w: h.w}
}
