package sched

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPointParksAboutEverySlice checks the rate of yields: over a busy
// loop of 100 ms calling Point with every processor busy (GOMAXPROCS 1),
// about one yield per Slice, each at least Pause long.
func TestPointParksAboutEverySlice(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var gaps int
	end := time.Now().Add(100 * time.Millisecond)
	last := time.Now()
	for time.Now().Before(end) {
		Point()
		now := time.Now()
		if now.Sub(last) >= Pause {
			gaps++
		}
		last = now
	}
	// a yield lasts up to about 1 ms (the runtime's poll), so 100 ms hold
	// between 100/(Slice+1ms) and 100/Slice of them
	hi := int(100 * time.Millisecond / Slice)
	if gaps < hi/4 || gaps > hi*2 {
		t.Fatalf("%d pauses of at least %v in 100ms of work; want about %d", gaps, Pause, hi)
	}
}

// BenchmarkPoint is the cost of a call in a tight loop, the yields (one
// Pause per Slice) included.
func BenchmarkPoint(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Point()
	}
}

// BenchmarkBusyLoopNetLatency measures what Point is for: with one
// processor busy with background work, how long a request that has
// arrived on a connection waits before its goroutine reads it. "p99-µs"
// is the 99th percentile of that wait over b.N round trips, with the work
// calling Point each iteration ("point") or not ("none"; the request
// waits for sysmon's network poll and a preemption, about 10 ms).
//
//	go test ./internal/sched -run XXX -bench BusyLoop -benchtime 200x
func BenchmarkBusyLoopNetLatency(b *testing.B) {
	for _, name := range []string{"none", "point"} {
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 1)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			var stop atomic.Bool
			done := make(chan struct{})
			go func() { // the background work
				defer close(done)
				x := 0
				for !stop.Load() {
					for i := range 1000 {
						x += i * i
					}
					if name == "point" {
						Point()
					}
				}
				_ = x
			}()
			waits := make([]time.Duration, 0, b.N)
			buf := make([]byte, 1)
			for b.Loop() {
				start := time.Now()
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := client.Read(buf); err != nil {
					b.Fatal(err)
				}
				waits = append(waits, time.Since(start))
			}
			stop.Store(true)
			<-done
			slices.Sort(waits)
			b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func TestLoweredRunsOnALowerPriorityThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := threadNice()
	if !ok {
		t.Skip("thread priorities are not read on " + runtime.GOOS)
	}
	var inside int
	ran := false
	Lowered(func() {
		ran = true
		inside, _ = threadNice()
	})
	if !ran {
		t.Fatal("fn did not run")
	}
	if want := min(before+LowerBy, 19); inside != want {
		t.Errorf("nice inside Lowered = %d, want %d (caller's %d + %d)", inside, want, before, LowerBy)
	}
	if after, _ := threadNice(); after != before {
		t.Errorf("caller's thread nice changed from %d to %d", before, after)
	}
	// The lowered thread is not reused: goroutines started afterwards run
	// at the process's priority.
	for range 20 {
		ch := make(chan int)
		go func() {
			n, _ := threadNice()
			ch <- n
		}()
		if n := <-ch; n != before {
			t.Fatalf("a later goroutine ran at nice %d, want %d", n, before)
		}
	}
}

func TestLoweredPanicReachesCaller(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
			t.Fatalf("recovered %v, want the panic of fn", r)
		}
	}()
	Lowered(func() { panic("boom") })
	t.Fatal("Lowered returned after fn panicked")
}
