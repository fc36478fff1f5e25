// Package reload is the only writer of the current snapshot. It builds a new
// snapshot off the request path from a new config, swaps it in with one atomic
// store, and reports the outcome. A failed build leaves the old snapshot
// serving.
package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/model"
	"sluice/internal/snapshot"
)

// Reloader serialises builds and publishes snapshots.
type Reloader struct {
	cur *snapshot.Current
	env *snapshot.Env
	log *slog.Logger

	mu sync.Mutex // one build at a time

	sizes sizes // estimated bytes of the current and previous snapshots

	successes   atomic.Uint64
	failures    atomic.Uint64
	lastOK      atomic.Bool
	lastOKUnix  atomic.Int64
	lastBuildNs atomic.Int64

	// With a store (Follow): the newest version seen in the store and the
	// version being served.
	storeVersion   atomic.Uint64
	appliedVersion atomic.Uint64
}

// New returns a Reloader publishing into cur.
func New(cur *snapshot.Current, env *snapshot.Env, log *slog.Logger) *Reloader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reloader{cur: cur, env: env, log: log}
}

// ErrBuild wraps every build failure returned by Apply.
var ErrBuild = errors.New("config rejected")

// Apply builds a snapshot from cfg and publishes it. When hash is not empty
// and equals the serving snapshot's hash, nothing is rebuilt. On error the
// serving snapshot is left untouched, and the error is logged and returned.
func (r *Reloader) Apply(cfg *model.Config, hash string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.cur.Load()
	if prev != nil && hash != "" && prev.Hash == hash {
		r.log.Debug("config unchanged, not rebuilt", "hash", hash)
		return nil
	}
	start := time.Now()
	snap, err := snapshot.Build(prev, cfg, hash, r.env)
	took := time.Since(start)
	r.lastBuildNs.Store(int64(took))
	if err != nil {
		r.failures.Add(1)
		r.lastOK.Store(false)
		r.log.Error("config rejected, previous config keeps serving", "error", err, "build_seconds", took.Seconds())
		return fmt.Errorf("%w: %w", ErrBuild, err)
	}
	r.cur.Store(snap)
	r.sizes.published(prev, snap, snapshot.Size(snap))
	r.successes.Add(1)
	r.lastOK.Store(true)
	r.lastOKUnix.Store(time.Now().Unix())
	r.log.Info("config applied",
		"version", snap.Version, "hash", hash, "build_seconds", took.Seconds(),
		"services", len(cfg.Services), "routes", len(cfg.Routes), "upstreams", len(cfg.Upstreams),
		"targets", len(cfg.Targets), "certificates", len(cfg.Certificates))
	return nil
}

// Stats is a point-in-time view of reload health, for /status and metrics.
type Stats struct {
	Successes     uint64
	Failures      uint64
	LastOK        bool
	LastOKUnix    int64
	LastBuildTime time.Duration
	// StoreVersion and AppliedVersion are set when following a store: their
	// difference is how far this node is behind.
	StoreVersion   uint64
	AppliedVersion uint64
}

// Stats returns reload counters.
func (r *Reloader) Stats() Stats {
	return Stats{
		Successes:      r.successes.Load(),
		Failures:       r.failures.Load(),
		LastOK:         r.lastOK.Load(),
		LastOKUnix:     r.lastOKUnix.Load(),
		LastBuildTime:  time.Duration(r.lastBuildNs.Load()),
		StoreVersion:   r.storeVersion.Load(),
		AppliedVersion: r.appliedVersion.Load(),
	}
}

// WatchFile polls path every interval and calls onChange once the file's
// content has changed and then stayed the same for a short debounce (so a
// file written in several steps triggers one reload). It returns when ctx is
// done. A file that cannot be read is treated as unchanged.
func WatchFile(ctx context.Context, path string, every time.Duration, onChange func()) {
	if every <= 0 {
		every = time.Second
	}
	debounce := every / 5
	if debounce < 50*time.Millisecond {
		debounce = 50 * time.Millisecond
	}
	last, _ := fileDigest(path)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := fileDigest(path)
		if err != nil || d == last {
			continue
		}
		// Wait for the writer to finish: the digest must hold still.
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(debounce):
			}
			d2, err := fileDigest(path)
			if err != nil {
				break
			}
			if d2 == d {
				break
			}
			d = d2
		}
		last = d
		onChange()
	}
}

// fileDigest is a cheap content identity: size, mtime and a SHA-256 of the
// bytes (mtime alone misses fast rewrites within one timestamp tick).
func fileDigest(path string) ([sha256.Size + 16]byte, error) {
	var out [sha256.Size + 16]byte
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return out, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return out, err
	}
	copy(out[:], h.Sum(nil))
	size, mt := st.Size(), st.ModTime().UnixNano()
	for i := range 8 {
		out[sha256.Size+i] = byte(size >> (8 * i))
		out[sha256.Size+8+i] = byte(mt >> (8 * i))
	}
	return out, nil
}
