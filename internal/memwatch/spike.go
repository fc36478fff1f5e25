package memwatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Spike is one detected rise of heap or RSS over its rolling baseline. Its
// heap figures are the live heap (marked by the last GC).
type Spike struct {
	Time         time.Time `json:"time"`
	End          time.Time `json:"end,omitzero"`      // when memory fell back under the threshold
	Settled      bool      `json:"settled,omitempty"` // memory stayed up: a new level, not a transient
	Metric       string    `json:"metric"`            // "heap", "rss" or "heap+rss"
	RSS          int64     `json:"rss"`
	RSSBaseline  int64     `json:"rss_baseline"`
	Heap         int64     `json:"heap"`
	HeapBaseline int64     `json:"heap_baseline"`
	PeakRSS      int64     `json:"peak_rss"`
	PeakHeap     int64     `json:"peak_heap"`
	Grew         string    `json:"grew"`   // the component most responsible
	Growth       []Growth  `json:"growth"` // everything that grew, largest first
	Before       []Prior   `json:"before"` // events just before, newest first
	Profiles     []string  `json:"profiles,omitempty"`
	Skipped      string    `json:"capture_skipped,omitempty"` // why no profile was saved
}

// Prior is an event seen shortly before a spike.
type Prior struct {
	Event      JSONEvent `json:"event"`
	AgoSeconds float64   `json:"ago_seconds"`
}

// Summary is a one-line account of the spike for logs and the doctor.
func (s *Spike) Summary() string {
	var b strings.Builder
	switch s.Metric {
	case "rss":
		fmt.Fprintf(&b, "rss %s over its baseline of %s", FormatBytes(s.RSS-s.RSSBaseline), FormatBytes(s.RSSBaseline))
	default:
		fmt.Fprintf(&b, "heap %s over its baseline of %s", FormatBytes(s.Heap-s.HeapBaseline), FormatBytes(s.HeapBaseline))
	}
	if len(s.Growth) > 0 {
		g := s.Growth[0]
		fmt.Fprintf(&b, "; grew most: %s %s", g.Component, g.deltaString())
	}
	if len(s.Before) > 0 {
		p := s.Before[0]
		fmt.Fprintf(&b, "; %s %s before", p.Event.describe(), fmtAgo(p.AgoSeconds))
	}
	return b.String()
}

func (g Growth) deltaString() string {
	if g.Unit == "bytes" {
		return "+" + FormatBytes(g.Delta)
	}
	return fmt.Sprintf("+%d %s", g.Delta, g.Unit)
}

// describe names an event for a sentence: "config reload of 9000 entities".
func (e JSONEvent) describe() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Kind
}

// onSpike logs the spike, records it as an event and captures profiles
// (outside the lock; only the sampling goroutine gets here).
func (w *Watcher) onSpike(sp Spike) {
	now := w.opts.now()
	var files []string
	var skipped string
	w.mu.Lock()
	switch {
	case w.opts.Dir == "":
		skipped = "no diagnostics directory"
	case !w.lastCap.IsZero() && now.Sub(w.lastCap) < w.opts.Cooldown:
		skipped = fmt.Sprintf("cooldown: last capture %.0f s ago", now.Sub(w.lastCap).Seconds())
	default:
		w.lastCap = now
	}
	w.mu.Unlock()
	if skipped == "" {
		var err error
		files, err = w.capture(sp.Time)
		if err != nil {
			w.opts.Log.Warn("memwatch: saving diagnostics failed", "error", err)
			if len(files) == 0 {
				skipped = "capture failed: " + err.Error()
			}
		}
	}

	w.mu.Lock()
	if i := len(w.spikes) - 1; i >= 0 && w.spikes[i].Time.Equal(sp.Time) {
		w.spikes[i].Profiles = files
		w.spikes[i].Skipped = skipped
	}
	w.mu.Unlock()
	sp.Profiles, sp.Skipped = files, skipped

	attrs := []any{
		"metric", sp.Metric,
		"heap", sp.Heap, "heap_baseline", sp.HeapBaseline,
		"rss", sp.RSS, "rss_baseline", sp.RSSBaseline,
		"grew", sp.Grew,
	}
	if len(sp.Growth) > 0 {
		attrs = append(attrs, "grew_by", sp.Growth[0].Delta)
	}
	if len(sp.Before) > 0 {
		b := sp.Before[0]
		attrs = append(attrs, "before", fmt.Sprintf("%s %s before", b.Event.describe(), fmtAgo(b.AgoSeconds)))
	}
	if len(files) > 0 {
		attrs = append(attrs, "profiles", strings.Join(files, ","))
	}
	if skipped != "" {
		attrs = append(attrs, "capture_skipped", skipped)
	}
	w.opts.Log.Warn("memory spike: "+sp.Summary(), attrs...)
	w.Event(KindSpike, sp.Summary(), "grew", sp.Grew, "metric", sp.Metric)
}

// capture writes a heap profile and, when the flight recorder runs, the
// recent execution trace into Dir, then deletes the oldest files beyond
// MaxFiles.
func (w *Watcher) capture(t time.Time) ([]string, error) {
	dir := w.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stamp := t.UTC().Format("20060102T150405.000Z")
	var files []string
	var errs []error
	heap := filepath.Join(dir, "heap-"+stamp+".pprof")
	if err := writeFileFunc(heap, func(f *os.File) error { return pprof.Lookup("heap").WriteTo(f, 0) }); err != nil {
		errs = append(errs, err)
	} else {
		files = append(files, heap)
	}
	if w.fr != nil && w.fr.Enabled() {
		tr := filepath.Join(dir, "trace-"+stamp+".out")
		if err := writeFileFunc(tr, func(f *os.File) error { _, err := w.fr.WriteTo(f); return err }); err != nil {
			errs = append(errs, err)
		} else {
			files = append(files, tr)
		}
	}
	if err := pruneDir(dir, w.opts.MaxFiles); err != nil {
		errs = append(errs, err)
	}
	return files, errors.Join(errs...)
}

func writeFileFunc(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The capture failed and err says why; a partial file left behind
		// is only clutter, so a failed removal is not worth reporting.
		_ = os.Remove(path)
	}
	return err
}

// isCapture reports whether name is a file capture wrote.
func isCapture(name string) bool {
	return (strings.HasPrefix(name, "heap-") && strings.HasSuffix(name, ".pprof")) ||
		(strings.HasPrefix(name, "trace-") && strings.HasSuffix(name, ".out"))
}

// pruneDir deletes the oldest capture files in dir beyond keep. Names carry
// a UTC timestamp after the prefix, so they sort by time.
func pruneDir(dir string, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && isCapture(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if len(names) <= keep {
		return nil
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(captureStamp(a), captureStamp(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var errs []error
	for _, n := range names[:len(names)-keep] {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ListCaptures returns the capture files in dir, oldest first.
func ListCaptures(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && isCapture(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := strings.Compare(captureStamp(a), captureStamp(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

// captureStamp is the timestamp in a capture file's name.
func captureStamp(path string) string {
	b := filepath.Base(path)
	b = b[strings.IndexByte(b, '-')+1:]
	return strings.TrimSuffix(strings.TrimSuffix(b, ".pprof"), ".out")
}
