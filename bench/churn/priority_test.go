package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestReniceSelf(t *testing.T) {
	if err := reniceSelf(-1); err != nil {
		t.Skipf("cannot raise priority here (needs root or CAP_SYS_NICE): %v", err)
	}
	defer func() { _ = reniceSelf(0) }()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		// getpriority returns 20 - nice for PRIO_PROCESS on Linux.
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
		if err != nil {
			continue // the thread ended
		}
		if nice := 20 - prio; nice != -1 {
			t.Errorf("thread %d: nice %d; want -1", tid, nice)
		}
	}
	if got := niceArgv(-5, []string{"/bin/x", "a"}); len(got) != 5 || !strings.HasSuffix(got[0], "nice") || got[2] != "-5" || got[3] != "/bin/x" {
		t.Errorf("niceArgv = %q", got)
	}
	if got := niceArgv(0, []string{"/bin/x"}); len(got) != 1 {
		t.Errorf("niceArgv(0) = %q", got)
	}
}
