package postgres

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/plugin/ratelimiting"
)

// benchPlugin builds a rate-limiting instance (minute and hour windows,
// limits never reached) on the given policy.
func benchPlugin(b *testing.B, policy string, deps plugin.Deps) plugin.Accessor {
	b.Helper()
	p := &model.Plugin{ID: "bench-" + policy, Name: ratelimiting.Name, Service: &model.ForeignKey{ID: "5ea1b6c2-0000-4000-8000-0000000000b1"}}
	deps.PluginID, deps.Plugin = p.ID, p
	rec, serr := ratelimiting.Schema.Process(map[string]any{"minute": 1e9, "hour": 1e10, "limit_by": "ip", "policy": policy}, nil)
	if serr != nil {
		b.Fatal(serr)
	}
	impl, err := ratelimiting.New(rec, deps)
	if err != nil {
		b.Fatal(err)
	}
	return impl.(plugin.Accessor)
}

func benchAccess(b *testing.B, a plugin.Accessor, parallel bool) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			c := plugin.Ctx{Request: r, ClientIP: "10.0.0.1"}
			a.Access(&c)
			if c.Exited() != nil {
				b.Fatal("refused")
			}
		}
		return
	}
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		ip := "10.0.1." + strconv.Itoa(int(n.Add(1)))
		for pb.Next() {
			c := plugin.Ctx{Request: r, ClientIP: ip}
			a.Access(&c)
			if c.Exited() != nil {
				b.Error("refused")
				return
			}
		}
	})
}

// The cluster policy's per-request cost (one round trip to PostgreSQL),
// next to the local policy's:
//
//	go test -run '^$' -bench 'PolicyAccess|RoundTripFloor' ./internal/store/postgres/
func BenchmarkClusterPolicyAccess(b *testing.B) {
	c := openCounters(b, bootstrapped(b), CountersOptions{})
	benchAccess(b, benchPlugin(b, "cluster", plugin.Deps{Cluster: c}), false)
}

func BenchmarkClusterPolicyAccessParallel(b *testing.B) {
	c := openCounters(b, bootstrapped(b), CountersOptions{})
	benchAccess(b, benchPlugin(b, "cluster", plugin.Deps{Cluster: c}), true)
}

func BenchmarkLocalPolicyAccess(b *testing.B) {
	benchAccess(b, benchPlugin(b, "local", plugin.Deps{State: plugin.NewStatePool()}), false)
}

// BenchmarkRoundTripFloor is one trivial query on the counters' pool: the
// floor the cluster policy's cost is compared with.
func BenchmarkRoundTripFloor(b *testing.B) {
	c := openCounters(b, bootstrapped(b), CountersOptions{})
	ctx := context.Background()
	var x int64
	b.ReportAllocs()
	for b.Loop() {
		if err := c.pool.QueryRow(ctx, "SELECT 1::bigint").Scan(&x); err != nil {
			b.Fatal(err)
		}
	}
}
