package reload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"sluice/internal/model"
	"sluice/internal/sched"
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
	// MaxDelay after the first one, whichever is first. MaxDelay defaults
	// to Poll: as in Kong, where workers read the changes every
	// db_update_frequency, no change waits longer than that, and a bulk
	// change of thousands of writes (a decK sync) costs a build or two
	// when it ends instead of one every few hundred milliseconds while it
	// runs: each of those intermediate builds cost every replica CPU next
	// to its traffic (bench/churn's p99 during a bulk change; figures in
	// issue 5's note).
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
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = opts.Poll
	}
	opts.MaxDelay = max(opts.MaxDelay, opts.Debounce)
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
		changes, recs, latest, err := st.ChangedRecords(ctx, version)
		if errors.Is(err, store.ErrTooOld) {
			cfg = nil // reload everything next round
			r.log.Info("behind the change feed; reloading the whole config", "version", version)
			return
		}
		if err != nil {
			r.log.Warn("reading changes from the store failed; will retry", "error", err)
			return
		}
		next, err := patch(cfg, changes, recs)
		if err != nil {
			r.log.Warn("decoding changed entities failed; will retry", "error", err)
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

// patch returns a copy of cfg with the changes applied: an entity in recs
// is added or replaced, one missing from it is removed (it no longer
// exists in the snapshot the changes were read from). Entities that did not change are shared with cfg,
// and so is every slice of an entity kind without changes.
func patch(cfg *model.Config, changes []store.Change, recs map[store.EntityRef]store.Record) (*model.Config, error) {
	next := *cfg
	kinds := map[string]patcher{}
	done := map[store.EntityRef]bool{}
	for _, c := range changes {
		sched.Point()
		ref := store.EntityRef{Entity: c.Entity, ID: c.ID}
		if done[ref] {
			continue // the record read is the entity's latest state
		}
		done[ref] = true
		p, ok := kinds[c.Entity]
		if !ok {
			p = newPatcher(&next, c.Entity)
			kinds[c.Entity] = p
		}
		if p == nil {
			continue // an entity the snapshot does not use
		}
		if err := p.set(c.ID, recs[ref]); err != nil {
			return nil, err
		}
	}
	for _, p := range kinds {
		if p != nil {
			p.finish()
		}
	}
	return &next, nil
}

// patcher edits one entity kind's slice of a config copy.
type patcher interface {
	// set replaces or adds (rec != nil) or removes (rec == nil) an entity.
	set(id string, rec store.Record) error
	// finish drops the removed entities' slots.
	finish()
}

// newPatcher returns the patcher of an entity kind of next, or nil for a
// kind the snapshot does not use.
func newPatcher(next *model.Config, entity string) patcher {
	switch entity {
	case "services":
		return newSlicePatch(&next.Services, func(s *model.Service) string { return s.ID })
	case "routes":
		return newSlicePatch(&next.Routes, func(s *model.Route) string { return s.ID })
	case "consumers":
		return newSlicePatch(&next.Consumers, func(s *model.Consumer) string { return s.ID })
	case "plugins":
		return newSlicePatch(&next.Plugins, func(s *model.Plugin) string { return s.ID })
	case "upstreams":
		return newSlicePatch(&next.Upstreams, func(s *model.Upstream) string { return s.ID })
	case "targets":
		return newSlicePatch(&next.Targets, func(s *model.Target) string { return s.ID })
	case "certificates":
		return newSlicePatch(&next.Certificates, func(s *model.Certificate) string { return s.ID })
	case "snis":
		return newSlicePatch(&next.SNIs, func(s *model.SNI) string { return s.ID })
	case "ca_certificates":
		return newSlicePatch(&next.CACertificates, func(s *model.CACertificate) string { return s.ID })
	case "keyauth_credentials":
		return newSlicePatch(&next.KeyAuthCredentials, func(s *model.KeyAuthCredential) string { return s.ID })
	case "basicauth_credentials":
		return newSlicePatch(&next.BasicAuthCredentials, func(s *model.BasicAuthCredential) string { return s.ID })
	case "hmacauth_credentials":
		return newSlicePatch(&next.HMACAuthCredentials, func(s *model.HMACAuthCredential) string { return s.ID })
	case "jwt_secrets":
		return newSlicePatch(&next.JWTSecrets, func(s *model.JWTSecret) string { return s.ID })
	case "acls":
		return newSlicePatch(&next.ACLs, func(s *model.ACL) string { return s.ID })
	case "oauth2_credentials":
		return newSlicePatch(&next.OAuth2Credentials, func(s *model.OAuth2Credential) string { return s.ID })
	case "vaults":
		return newSlicePatch(&next.Vaults, func(s *model.Vault) string { return s.ID })
	case "key_sets":
		return newSlicePatch(&next.KeySets, func(s *model.KeySet) string { return s.ID })
	case "keys":
		return newSlicePatch(&next.Keys, func(s *model.Key) string { return s.ID })
	}
	return nil
}

// slicePatch edits a copy of one slice (the config it came from, which a
// live snapshot may hold, is never modified). Positions are found through
// an index built once, so a burst of n changes over m entities costs
// O(n + m), not O(n·m). Removed entities leave a nil slot until finish, so
// that positions stay valid; entities keep their creation order.
type slicePatch[T any] struct {
	dst     *[]*T
	pos     map[string]int
	removed bool
}

func newSlicePatch[T any](dst *[]*T, idOf func(*T) string) *slicePatch[T] {
	*dst = slices.Clone(*dst)
	pos := make(map[string]int, len(*dst))
	for i, e := range *dst {
		sched.Point()
		pos[idOf(e)] = i
	}
	return &slicePatch[T]{dst: dst, pos: pos}
}

func (p *slicePatch[T]) set(id string, rec store.Record) error {
	i, ok := p.pos[id]
	if rec == nil {
		if ok {
			(*p.dst)[i] = nil
			delete(p.pos, id)
			p.removed = true
		}
		return nil
	}
	e := new(T)
	if err := model.Decode(rec, e); err != nil {
		return fmt.Errorf("decoding %s: %w", id, err)
	}
	if ok {
		(*p.dst)[i] = e
		return nil
	}
	p.pos[id] = len(*p.dst)
	*p.dst = append(*p.dst, e)
	return nil
}

func (p *slicePatch[T]) finish() {
	if p.removed {
		*p.dst = slices.DeleteFunc(*p.dst, func(e *T) bool { return e == nil })
	}
}
