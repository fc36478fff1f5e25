package sched

import "runtime"

// LowerBy is how much Lowered raises the nice value of the thread that
// runs background work over the process's: at 10 the kernel's scheduler
// weighs it at about a tenth of a default thread, so a thread that wakes
// for a request takes the processor from it at once, while the work still
// gets its share when nothing else runs. (Not 19: a thread that holds one
// of the Go runtime's processors must still run soon enough to stop for a
// garbage collector's stop-the-world, which waits for every processor.)
const LowerBy = 10

// Lowered runs fn on an operating-system thread of its own whose CPU
// priority is lowered by LowerBy, and returns when fn does (a panic in fn
// is raised again in the caller). Use it for long CPU-bound work off the
// request path (a config load, the store follower) so that the kernel,
// not only Go's scheduler (see Point), puts requests first when the
// machine's processors are all busy: with several processes on few
// processors, or a CPU quota, Point's yields do not help a request whose
// thread waits for the processor another process's reload holds.
//
// The thread is not returned to the runtime (the goroutine exits locked to
// it, which ends the thread): a lowered thread never runs request
// goroutines. Where the priority cannot be lowered (not Linux, or refused)
// fn runs at the default priority.
func Lowered(fn func()) {
	var (
		panicked any
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		defer func() { panicked = recover() }()
		runtime.LockOSThread() // never unlocked: see above
		lowerThread(LowerBy)
		fn()
	}()
	<-done
	if panicked != nil {
		panic(panicked) // the value itself (net/http's ErrAbortHandler must stay one)
	}
}
