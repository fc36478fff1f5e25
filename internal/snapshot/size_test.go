package snapshot

import (
	"runtime"
	"testing"

	"sluice/internal/upstream"
)

// TestSizeEstimate compares Size with the heap a snapshot really holds:
// the config and everything Build made from it, measured from the live
// heap before and after.
func TestSizeEstimate(t *testing.T) {
	env := &Env{Pool: upstream.NewPool()}
	defer env.Pool.Close()
	for _, n := range []int{100, 5000} {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		snap, err := Build(nil, configN(n), "h", env)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		held := int64(ms.HeapAlloc) - int64(base)
		est := Size(snap)
		t.Logf("%d routes: estimate %d bytes, heap held %d bytes (%.2f)", n, est, held, float64(est)/float64(held))
		if est < held/2 || est > held*2 {
			t.Errorf("%d routes: estimate %d bytes; want within a factor 2 of the %d bytes held", n, est, held)
		}
		runtime.KeepAlive(snap)
	}
	if Size(nil) != 0 {
		t.Errorf("Size(nil) = %d; want 0", Size(nil))
	}
}

// BenchmarkSize10k is the cost of estimating a 10 000-route snapshot,
// paid once per build.
func BenchmarkSize10k(b *testing.B) {
	env := &Env{Pool: upstream.NewPool()}
	defer env.Pool.Close()
	snap, err := Build(nil, configN(10000), "h", env)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if Size(snap) <= 0 {
			b.Fatal("Size <= 0")
		}
	}
}
