package snapshot

import (
	"fmt"
	"testing"

	"sluice/internal/model"
	"sluice/internal/upstream"
)

// configN is a config of n services, each with one route on its own path
// prefix and host, the shape of a large Kong installation.
func configN(n int) *model.Config {
	cfg := &model.Config{}
	for i := range n {
		sid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		rid := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		name := fmt.Sprintf("svc%d", i)
		cfg.Services = append(cfg.Services, &model.Service{ID: sid, Name: &name, Protocol: "http", Host: "127.0.0.1", Port: 8080,
			Retries: 5, ConnectTimeout: 60000, ReadTimeout: 60000, WriteTimeout: 60000, Enabled: true, CreatedAt: 1, UpdatedAt: 1})
		cfg.Routes = append(cfg.Routes, &model.Route{ID: rid, Protocols: []string{"http", "https"},
			Paths: []string{fmt.Sprintf("/api/v1/resource-%d", i)}, StripPath: true, PathHandling: "v0",
			HTTPSRedirectStatusCode: 426, RequestBuffering: true, ResponseBuffering: true,
			Service: &model.ForeignKey{ID: sid}, CreatedAt: 1, UpdatedAt: 1})
	}
	return cfg
}

// BenchmarkBuild10k is a snapshot build from nothing at 10 000 routes
// (target: under 200 ms).
func BenchmarkBuild10k(b *testing.B) {
	cfg := configN(10000)
	env := &Env{Pool: upstream.NewPool()}
	defer env.Pool.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(nil, cfg, "h", env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuildOneRoute10k applies a one-route change to a 10 000-route
// snapshot (target: under 5 ms).
func BenchmarkRebuildOneRoute10k(b *testing.B) {
	cfg := configN(10000)
	env := &Env{Pool: upstream.NewPool()}
	defer env.Pool.Close()
	prev, err := Build(nil, cfg, "h0", env)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		next := *cfg
		next.Routes = append([]*model.Route(nil), cfg.Routes...)
		r := *next.Routes[i%len(next.Routes)]
		r.Paths = []string{fmt.Sprintf("/changed-%d", i)}
		r.UpdatedAt = int64(1 + i)
		next.Routes[i%len(next.Routes)] = &r
		if _, err := Build(prev, &next, fmt.Sprint(i), env); err != nil {
			b.Fatal(err)
		}
	}
}
