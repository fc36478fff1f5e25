package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"sluice/internal/store"
)

// BenchInsertRoutes inserts b.N batches of batch routes (each batch in one
// transaction, all on one service) and reports entities/s.
func BenchInsertRoutes(b *testing.B, s store.Store, batch int) {
	ctx := context.Background()
	svc := Record(b, "services", map[string]any{"name": "bench", "host": "example.com"})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, "services", svc) }); err != nil {
		b.Fatal(err)
	}
	tmpl := Record(b, "routes", map[string]any{"paths": []any{"/bench"}, "service": ref(svc), "tags": []any{"bench"}})
	recs := make([]store.Record, batch)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range recs {
			r := make(store.Record, len(tmpl))
			for k, v := range tmpl {
				r[k] = v
			}
			r["id"] = uuid.NewString()
			r["paths"] = []any{fmt.Sprintf("/bench/%d/%d", i, j)}
			recs[j] = r
		}
		b.StartTimer()
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, r := range recs {
				if err := tx.Insert(ctx, "routes", r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entities/s")
}

// BenchPage fills s with n routes and pages through them 1000 at a time
// with tags off (what decK and go-kong do to dump a node).
func BenchPage(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	fill(b, s, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		opts := store.ListOptions{Size: 1000}
		got := 0
		for {
			p, err := s.List(ctx, "routes", opts)
			if err != nil {
				b.Fatal(err)
			}
			got += len(p.Records)
			if p.Offset == "" {
				break
			}
			opts.Offset = p.Offset
		}
		if got != n {
			b.Fatalf("%d routes paged; want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entities/s")
}

// fill inserts a service and n routes of it.
func fill(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	svc := Record(b, "services", map[string]any{"name": "bench", "host": "example.com"})
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r := Record(b, "routes", map[string]any{"paths": []any{fmt.Sprintf("/r%d", i)}, "service": ref(svc)})
			if err := tx.Insert(ctx, "routes", r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchLoad fills s with n routes and measures Load (what a node does at
// start and after falling behind the feed).
func BenchLoad(b *testing.B, s store.Store, n int) {
	ctx := context.Background()
	svc := Record(b, "services", map[string]any{"name": "bench", "host": "example.com"})
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r := Record(b, "routes", map[string]any{"paths": []any{fmt.Sprintf("/r%d", i)}, "service": ref(svc)})
			if err := tx.Insert(ctx, "routes", r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, _, err := s.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Routes) != n {
			b.Fatalf("%d routes loaded; want %d", len(cfg.Routes), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entities/s")
}

// BenchAdminWrites measures the transactions of the Admin API's common
// writes, one per transaction as the Admin API makes them: a PATCH of a
// route's paths (read by name, replaced), and a key-auth credential
// rotation (its consumer read, a credential deleted, one created). It
// reports the writes per second; on PostgreSQL each costs its round trips.
func BenchAdminWrites(b *testing.B, s store.Store) {
	ctx := context.Background()
	const n = 200
	svc := Record(b, "services", map[string]any{"name": "bench", "host": "example.com"})
	var consumers, creds []store.Record
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, "services", svc); err != nil {
			return err
		}
		for i := range n {
			r := Record(b, "routes", map[string]any{"name": fmt.Sprintf("r%d", i), "paths": []any{fmt.Sprintf("/r%d", i)}, "service": ref(svc)})
			if err := tx.Insert(ctx, "routes", r); err != nil {
				return err
			}
			c := Record(b, "consumers", map[string]any{"username": fmt.Sprintf("c%d", i)})
			if err := tx.Insert(ctx, "consumers", c); err != nil {
				return err
			}
			k := Record(b, "keyauth_credentials", map[string]any{"key": fmt.Sprintf("k%d", i), "consumer": ref(c)})
			if err := tx.Insert(ctx, "keyauth_credentials", k); err != nil {
				return err
			}
			consumers, creds = append(consumers, c), append(creds, k)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % n
		err := s.Update(ctx, func(tx store.Tx) error {
			r, err := tx.GetByKey(ctx, "routes", "name", fmt.Sprintf("r%d", j))
			if err != nil {
				return err
			}
			r["paths"] = []any{fmt.Sprintf("/r%d-%d", j, i)}
			return tx.Replace(ctx, "routes", r)
		})
		if err != nil {
			b.Fatal(err)
		}
		var next store.Record
		err = s.Update(ctx, func(tx store.Tx) error {
			c, err := tx.GetByKey(ctx, "consumers", "username", fmt.Sprintf("c%d", j))
			if err != nil {
				return err
			}
			if err := tx.Delete(ctx, "keyauth_credentials", creds[j]["id"].(string)); err != nil {
				return err
			}
			next = Record(b, "keyauth_credentials", map[string]any{"key": fmt.Sprintf("k%d-%d", j, i), "consumer": ref(c)})
			return tx.Insert(ctx, "keyauth_credentials", next)
		})
		if err != nil {
			b.Fatal(err)
		}
		creds[j] = next
	}
	b.StopTimer()
	_ = consumers
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "tx/s")
}
