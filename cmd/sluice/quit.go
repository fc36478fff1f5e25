package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"sluice/internal/settings"
)

// cmdQuit implements `sluice quit` (graceful: SIGQUIT, then SIGINT after
// the timeout, as Kong's quit falls back to a fast stop) and `sluice stop`
// (SIGINT).
func cmdQuit(args []string, stdout, stderr io.Writer, graceful bool) int {
	name := "stop"
	if graceful {
		name = "quit"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var prefix string
	var timeout, wait int
	fs.StringVar(&prefix, "p", "", "prefix the gateway runs at")
	fs.StringVar(&prefix, "prefix", "", "prefix the gateway runs at")
	if graceful {
		fs.IntVar(&timeout, "t", 10, "seconds to wait for a graceful stop before forcing it")
		fs.IntVar(&timeout, "timeout", 10, "seconds to wait for a graceful stop before forcing it")
		fs.IntVar(&wait, "w", 0, "seconds to wait before starting the shutdown")
		fs.IntVar(&wait, "wait", 0, "seconds to wait before starting the shutdown")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if prefix == "" {
		prefix = envPrefix()
	}
	if abs, err := filepath.Abs(prefix); err == nil {
		prefix = abs
	}
	pidFile := settings.PIDFile(prefix)
	pid, err := readPID(pidFile)
	if err != nil || !processAlive(pid) {
		say(stderr, "Error: sluice is not running at %s\n", prefix)
		return 1
	}
	if wait > 0 {
		time.Sleep(time.Duration(wait) * time.Second)
	}
	sig := syscall.SIGINT
	if graceful {
		sig = syscall.SIGQUIT
	}
	if err := syscall.Kill(pid, sig); err != nil {
		say(stderr, "Error: signalling pid %d: %v\n", pid, err)
		return 1
	}
	limit := 10 * time.Second
	if graceful {
		limit = time.Duration(max(timeout, 1)) * time.Second
	}
	if waitExit(pid, limit) {
		if graceful {
			say(stdout, "sluice stopped (gracefully)\n")
		} else {
			say(stdout, "sluice stopped\n")
		}
		return 0
	}
	if graceful {
		say(stderr, "sluice is still running after %v, forcing shutdown\n", limit)
		_ = syscall.Kill(pid, syscall.SIGINT)
		if waitExit(pid, 5*time.Second) {
			say(stdout, "sluice stopped (forced)\n")
			return 0
		}
	}
	say(stderr, "Error: sluice (pid %d) did not stop\n", pid)
	return 1
}

func waitExit(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// envPrefix is the prefix from SLUICE_PREFIX, KONG_PREFIX or Kong's default.
func envPrefix() string {
	for _, k := range []string{"SLUICE_PREFIX", "KONG_PREFIX"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "/usr/local/kong/"
}
