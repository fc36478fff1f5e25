package sched

import "syscall"

// lowerThread raises the calling thread's nice value by n over the
// process's. On Linux a thread id given to setpriority(PRIO_PROCESS) names
// that thread alone. Raising a nice value needs no privilege.
func lowerThread(n int) {
	tid := syscall.Gettid()
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	nice := 20 - raw // the system call answers 20 - nice (1..40)
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(nice+n, 19))
}

// threadNice reports the calling thread's nice value (tests).
func threadNice() (int, bool) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	return 20 - raw, err == nil
}
