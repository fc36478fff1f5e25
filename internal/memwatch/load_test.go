package memwatch

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func gogc(t *testing.T) int64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func TestBeginLoad(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	end1 := BeginLoad()
	if g := gogc(t); g != LoadGCPercent {
		t.Fatalf("GOGC during a load = %d; want %d", g, LoadGCPercent)
	}
	end2 := BeginLoad() // overlapping
	end1()
	end1() // a second call does nothing
	if g := gogc(t); g != LoadGCPercent {
		t.Fatalf("GOGC while a second load runs = %d; want %d", g, LoadGCPercent)
	}
	end2()
	if g := gogc(t); g != 100 {
		t.Fatalf("GOGC after the loads = %d; want 100 restored", g)
	}

	// a tighter GOGC is kept
	debug.SetGCPercent(10)
	end := BeginLoad()
	if g := gogc(t); g != 10 {
		t.Fatalf("GOGC during a load with GOGC=10: %d; want 10 kept", g)
	}
	end()
	if g := gogc(t); g != 10 {
		t.Fatalf("GOGC after: %d; want 10", g)
	}
}
