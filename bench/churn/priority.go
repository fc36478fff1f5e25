package main

import (
	"os"
	"os/exec"
	"strconv"
)

// The load generator and the upstream are the measuring instrument: on a
// machine that also runs the replicas and PostgreSQL, a generator starved
// of CPU sends late and reads late, and its own delay is counted as the
// replicas' latency (the control stream, which never touches sluice, shows
// how much). They run at a higher CPU priority than the replicas, as a
// generator on another machine would; the replicas, PostgreSQL and the
// harness itself, which writes the bulk changes through the Admin API,
// keep the default priority.

// canRaisePriority reports whether this process may run a child at a
// negative nice value (root; CAP_SYS_NICE alone is not looked for).
func canRaisePriority() bool { return os.Geteuid() == 0 }

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
