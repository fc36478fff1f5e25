package upstream

import (
	"fmt"
	"testing"

	"sluice/internal/model"
)

func benchPick(b *testing.B, algo string, n int) {
	p := NewPool()
	defer p.Close()
	u := newUpstream("u1", "svc", func(u *model.Upstream) {
		u.Algorithm = algo
		if algo == "consistent-hashing" {
			u.HashOn = "header"
			u.HashOnHeader = ptr("X-User")
		}
		u.Healthchecks.Passive.Unhealthy.HTTPFailures = 5
	})
	bal := p.Update([]*model.Upstream{u}, targets("u1", 100, ipTargets(n)...))["svc"]
	r := getReq("/")
	r.Header.Set("X-User", "user-1234")
	pc := &PickContext{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pe, err := bal.Pick(r, pc, nil)
		if err != nil {
			b.Fatal(err)
		}
		bal.Done(pe, Result{Status: 200})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, algo := range []string{"round-robin", "consistent-hashing", "least-connections", "latency"} {
		for _, n := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/%d", algo, n), func(b *testing.B) { benchPick(b, algo, n) })
		}
	}
}

func BenchmarkPickParallel(b *testing.B) {
	p := NewPool()
	defer p.Close()
	bal := p.Update([]*model.Upstream{newUpstream("u1", "svc")}, targets("u1", 100, ipTargets(10)...))["svc"]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := getReq("/")
		for pb.Next() {
			pe, err := bal.Pick(r, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			bal.Done(pe, Result{Status: 200})
		}
	})
}
