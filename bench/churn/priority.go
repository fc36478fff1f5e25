package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// The load generator and the upstream are the measuring instrument: on a
// machine that also runs the replicas and PostgreSQL, a generator starved
// of CPU sends late and reads late, and its own delay is counted as the
// replicas' latency (the control stream, which never touches sluice, shows
// how much). Running them at a higher CPU priority than the replicas, as
// a generator on another machine would be, keeps the figures about sluice.
// The replicas and PostgreSQL keep the default priority.

// reniceSelf sets the nice value of every thread of this process (Linux
// keeps it per thread; threads created later inherit their creator's).
func reniceSelf(nice int) error {
	for range 2 { // threads started during the first pass
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
				return fmt.Errorf("setpriority %d: %w", nice, err)
			}
		}
	}
	return nil
}

// niceArgv prefixes argv with nice(1) to run it at the given nice value
// (relative to this process's, which is 0 when this is called), or returns
// argv unchanged when nice is 0 or nice(1) is missing.
func niceArgv(nice int, argv []string) []string {
	if nice == 0 {
		return argv
	}
	path, err := exec.LookPath("nice")
	if err != nil {
		return argv
	}
	return append([]string{path, "-n", strconv.Itoa(nice)}, argv...)
}
