package admin

import (
	"context"
	"errors"
	"time"

	"sluice/internal/model"
	"sluice/internal/store"
)

// sweepBatch bounds the deletions of one transaction of SweepExpired.
const sweepBatch = 500

// SweepExpired deletes the expired entities of every entity type with
// Kong's ttl (key-auth credentials) from st, and returns how many it
// deleted. Reads already hide them; deleting them keeps the store and the
// snapshots built from it from growing with credentials nobody can use,
// as Kong's ttl cleanup timer does. Several nodes may sweep one database:
// an entity another node deleted first is skipped.
func SweepExpired(ctx context.Context, st store.Store, now time.Time) (int, error) {
	deleted := 0
	for _, name := range model.Entities() {
		sc, ok := model.Lookup(name)
		if !ok || !sc.TTL {
			continue
		}
		var expired []string
		opts := store.ListOptions{Size: 1000}
		for {
			page, err := st.List(ctx, name, opts)
			if err != nil {
				return deleted, err
			}
			for _, r := range page.Records {
				if _, live := model.TTLLeft(r, now); !live {
					expired = append(expired, idOf(r))
				}
			}
			if page.Offset == "" {
				break
			}
			opts.Offset = page.Offset
		}
		for len(expired) > 0 {
			batch := expired[:min(sweepBatch, len(expired))]
			expired = expired[len(batch):]
			n := 0
			err := st.Update(ctx, func(tx store.Tx) error {
				n = 0
				for _, id := range batch {
					// Another node may have deleted it, or given it a new
					// ttl, since it was listed.
					rec, err := tx.Get(ctx, name, id)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					if _, live := model.TTLLeft(rec, now); live {
						continue
					}
					err = tx.Delete(ctx, name, id)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return deleted, err
			}
			deleted += n
		}
	}
	return deleted, nil
}
