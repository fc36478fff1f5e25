package main

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	adminapi "sluice/internal/admin"
	"sluice/internal/memwatch"
	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/keyauth"
	_ "sluice/internal/plugin/ratelimiting"
	"sluice/internal/reload"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// BenchmarkPostConfig is one replica's side of a bulk change of the off
// mode, in process: the default scenario's config (5 000 routes, 5 000
// consumers, key-auth and rate-limiting) POSTed to the Admin API over the
// previous one and applied by package reload, with 2 MiB/s of small-object
// garbage in the background standing in for the proxy. It reports the
// peak, during the request, of the heap objects and of the memory the Go
// runtime holds (mapped and not returned: what RSS follows), and the CPU
// and GC cycles per request. "paced" runs the request under
// Watcher.BeginLoad, as cmd/sluice does; "unpaced" without.
//
//	go test ./bench/churn -run XXX -bench PostConfig -benchtime 5x
func BenchmarkPostConfig(b *testing.B) {
	for _, paced := range []bool{true, false} {
		name := "unpaced"
		if paced {
			name = "paced"
		}
		b.Run(name, func(b *testing.B) { benchPostConfig(b, paced) })
	}
}

func benchPostConfig(b *testing.B, paced bool) {
	mw := memwatch.New(memwatch.Options{Interval: 200 * time.Millisecond, NoTrace: true})
	mw.Start(b.Context())
	defer mw.Stop()
	var cur snapshot.Current
	env := &snapshot.Env{Pool: upstream.NewPool(), State: plugin.NewStatePool()}
	defer env.Pool.Close()
	rl := reload.New(&cur, env, nil)
	h := adminapi.New(adminapi.Options{Database: "off", Apply: rl.Apply,
		Current: func() (*model.Config, string) {
			if s := cur.Load(); s != nil {
				return s.Config, s.Hash
			}
			return nil, ""
		}})
	st := newState("http://127.0.0.1:9", 5000, 5000, true)
	rng := rand.New(rand.NewPCG(1, 2))
	post := func() {
		body, err := st.declarative()
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/config?check_hash=1", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := &discard{h: http.Header{}}
		if paced {
			defer mw.BeginLoad()()
		}
		h.ServeHTTP(w, req)
		if w.code != http.StatusCreated {
			b.Fatalf("POST /config: status %d", w.code)
		}
	}
	change := func() { st.apply(st.plan(rng, 0.20, 0.10, 50)) }
	post()
	change()
	post()

	stop := make(chan struct{})
	defer close(stop)
	go garbage(stop)
	time.Sleep(3 * time.Second) // a baseline for the watcher

	var peakHeap, peakHeld, cpu, gcs float64
	for b.Loop() {
		change()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		cpu0 := cpuTime()
		heap, held := peakDuring(post)
		cpu += (cpuTime() - cpu0).Seconds() * 1000
		runtime.ReadMemStats(&ms1)
		gcs += float64(ms1.NumGC - ms0.NumGC)
		peakHeap, peakHeld = max(peakHeap, heap), max(peakHeld, held)
		time.Sleep(time.Second)
	}
	n := float64(b.N)
	b.ReportMetric(peakHeap/(1<<20), "peak-heap-MiB")
	b.ReportMetric(peakHeld/(1<<20), "peak-held-MiB")
	b.ReportMetric(cpu/n, "cpu-ms/op")
	b.ReportMetric(gcs/n, "gcs/op")
}

// garbage allocates 2 MiB/s in 1 KiB objects, about 2 000 of them alive.
func garbage(stop <-chan struct{}) {
	var keep [][]byte
	for {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		for range 20 {
			keep = append(keep, make([]byte, 1024))
		}
		if len(keep) > 2000 {
			keep = keep[:0]
		}
	}
}

// peakDuring runs f and returns the peak, sampled every 200µs, of the heap
// objects and of the memory the runtime holds (total minus released).
func peakDuring(f func()) (heap, held float64) {
	var pHeap, pHeld atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"},
			{Name: "/memory/classes/heap/released:bytes"}}
		for {
			metrics.Read(s)
			pHeap.Store(max(pHeap.Load(), s[0].Value.Uint64()))
			pHeld.Store(max(pHeld.Load(), s[1].Value.Uint64()-s[2].Value.Uint64()))
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return float64(pHeap.Load()), float64(pHeld.Load())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discard is a ResponseWriter that keeps the status only.
type discard struct {
	h    http.Header
	code int
}

func (w *discard) Header() http.Header { return w.h }
func (w *discard) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
