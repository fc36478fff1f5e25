package reload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"sluice/internal/model"
	"sluice/internal/store"
)

// FollowOptions tune Follow.
type FollowOptions struct {
	// Poll is how often the store's version is read when no notification
	// arrives (Kong's db_update_frequency; default 5 s). A lost notification
	// delays a change by at most Poll.
	Poll time.Duration
	// Debounce gathers a burst of changes into one build: a build starts
	// once no notification has come for Debounce (default 50 ms), or
	// MaxDelay (default 500 ms) after the first one, whichever is first. A
	// bulk change of thousands of writes then costs a few builds, not one
	// per write, and no change waits more than MaxDelay to be applied.
	Debounce time.Duration
	MaxDelay time.Duration
}

// Follow keeps the served snapshot in step with st until ctx is done: it
// loads the whole config once, then, on each notification or poll, reads the
// changes since the version it serves, patches its copy of the config with
// them (unchanged entities keep their pointers, so the snapshot build reuses
// their compiled forms), and applies it. When the store cannot be reached
// the current snapshot keeps serving and Follow retries; when it has fallen
// too far behind the change feed it loads the whole config again.
func (r *Reloader) Follow(ctx context.Context, st store.Store, opts FollowOptions) {
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 50 * time.Millisecond
	}
	if opts.MaxDelay < opts.Debounce {
		opts.MaxDelay = max(opts.Debounce, 500*time.Millisecond)
	}
	var (
		cfg     *model.Config
		version uint64
	)
	sync := func() {
		if cfg == nil {
			c, v, err := st.Load(ctx)
			if err != nil {
				r.log.Warn("loading the config from the store failed; will retry", "error", err)
				return
			}
			if r.apply(c, v) == nil {
				cfg, version = c, v
			}
			return
		}
		latest, err := st.Version(ctx)
		if err != nil {
			r.log.Warn("reading the store's config version failed; will retry", "error", err)
			return
		}
		r.storeVersion.Store(latest)
		if latest == version {
			return
		}
		changes, latest, err := st.ChangesSince(ctx, version)
		if errors.Is(err, store.ErrTooOld) {
			cfg = nil // reload everything next round
			r.log.Info("behind the change feed; reloading the whole config", "version", version)
			return
		}
		if err != nil {
			r.log.Warn("reading changes from the store failed; will retry", "error", err)
			return
		}
		next, err := patch(ctx, cfg, changes, st)
		if err != nil {
			r.log.Warn("reading changed entities failed; will retry", "error", err)
			return
		}
		if err := r.apply(next, latest); err != nil {
			// The store holds a config that does not build: keep serving the
			// old one, and do not retry the same version in a loop.
			version = latest
			return
		}
		cfg, version = next, latest
	}

	notify := st.Notify()
	// Jitter the polls so that replicas do not read the store in lockstep.
	jitter := func() time.Duration {
		return opts.Poll + time.Duration(rand.Int64N(int64(opts.Poll)/5+1))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notify:
			// Let the burst finish: more commits usually follow.
			if !settle(ctx, notify, opts.Debounce, opts.MaxDelay) {
				return
			}
		case <-timer.C:
		}
		sync()
		timer.Reset(jitter())
	}
}

// settle waits until notify has been quiet for quiet, or until maxDelay has
// passed; it returns false when ctx is done.
func settle(ctx context.Context, notify <-chan struct{}, quiet, maxDelay time.Duration) bool {
	deadline := time.NewTimer(maxDelay)
	defer deadline.Stop()
	q := time.NewTimer(quiet)
	defer q.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-q.C:
			return true
		case <-notify:
			q.Reset(quiet)
		}
	}
}

// apply builds and publishes a config read from the store at version v.
func (r *Reloader) apply(cfg *model.Config, v uint64) error {
	r.storeVersion.Store(max(r.storeVersion.Load(), v))
	if err := r.Apply(cfg, VersionHash(v)); err != nil {
		return err
	}
	r.appliedVersion.Store(v)
	return nil
}

// VersionHash renders a store version as a 32-hex configuration hash.
func VersionHash(v uint64) string { return fmt.Sprintf("%032x", v) }

// patch returns a copy of cfg with the changes applied. Entities that did
// not change are shared with cfg.
func patch(ctx context.Context, cfg *model.Config, changes []store.Change, st store.Reader) (*model.Config, error) {
	// The last change of each entity decides.
	type key struct{ entity, id string }
	last := map[key]store.Op{}
	var order []key
	for _, c := range changes {
		k := key{c.Entity, c.ID}
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = c.Op
	}
	next := *cfg
	cloned := map[string]bool{}
	for _, k := range order {
		var rec store.Record
		if last[k] != store.OpDelete {
			var err error
			rec, err = st.Get(ctx, k.entity, k.id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				rec = nil // deleted after the change was read
			case err != nil:
				return nil, err
			}
		}
		if err := setEntity(&next, k.entity, k.id, rec, cloned); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// setEntity replaces, adds (rec != nil) or removes (rec == nil) one entity
// in next. A slice is copied the first time it changes (cloned records
// which), so that the config it came from, which a live snapshot may hold,
// is never modified.
func setEntity(next *model.Config, entity, id string, rec store.Record, cloned map[string]bool) error {
	c := !cloned[entity]
	cloned[entity] = true
	switch entity {
	case "services":
		return upsert(&next.Services, c, id, rec, func(s *model.Service) string { return s.ID })
	case "routes":
		return upsert(&next.Routes, c, id, rec, func(s *model.Route) string { return s.ID })
	case "consumers":
		return upsert(&next.Consumers, c, id, rec, func(s *model.Consumer) string { return s.ID })
	case "plugins":
		return upsert(&next.Plugins, c, id, rec, func(s *model.Plugin) string { return s.ID })
	case "upstreams":
		return upsert(&next.Upstreams, c, id, rec, func(s *model.Upstream) string { return s.ID })
	case "targets":
		return upsert(&next.Targets, c, id, rec, func(s *model.Target) string { return s.ID })
	case "certificates":
		return upsert(&next.Certificates, c, id, rec, func(s *model.Certificate) string { return s.ID })
	case "snis":
		return upsert(&next.SNIs, c, id, rec, func(s *model.SNI) string { return s.ID })
	case "ca_certificates":
		return upsert(&next.CACertificates, c, id, rec, func(s *model.CACertificate) string { return s.ID })
	case "keyauth_credentials":
		return upsert(&next.KeyAuthCredentials, c, id, rec, func(s *model.KeyAuthCredential) string { return s.ID })
	case "basicauth_credentials":
		return upsert(&next.BasicAuthCredentials, c, id, rec, func(s *model.BasicAuthCredential) string { return s.ID })
	case "jwt_secrets":
		return upsert(&next.JWTSecrets, c, id, rec, func(s *model.JWTSecret) string { return s.ID })
	case "acls":
		return upsert(&next.ACLs, c, id, rec, func(s *model.ACL) string { return s.ID })
	}
	return nil // an entity the snapshot does not use
}

func upsert[T any](dst *[]*T, clone bool, id string, rec store.Record, idOf func(*T) string) error {
	if clone {
		*dst = slices.Clone(*dst)
	}
	i := slices.IndexFunc(*dst, func(e *T) bool { return idOf(e) == id })
	if rec == nil {
		if i >= 0 {
			*dst = slices.Delete(*dst, i, i+1)
		}
		return nil
	}
	e := new(T)
	if err := model.Decode(rec, e); err != nil {
		return fmt.Errorf("decoding %s: %w", id, err)
	}
	if i >= 0 {
		(*dst)[i] = e
	} else {
		*dst = append(*dst, e)
	}
	return nil
}
