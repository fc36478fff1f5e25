// Package procstat reads a process's CPU time and memory from /proc: user
// plus system CPU seconds from /proc/<pid>/stat and the resident set high
// water mark from /proc/<pid>/status, for one process or a process and its
// descendants (nginx's master and workers).
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TicksPerSecond is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// The kernel reports it as 100 on every Linux architecture Go supports.
const TicksPerSecond = 100

// Stat is the part of /proc/<pid>/stat the harness uses.
type Stat struct {
	PPID  int
	UTime uint64 // ticks in user mode
	STime uint64 // ticks in kernel mode
}

// CPUSeconds is user plus system time in seconds.
func (s Stat) CPUSeconds() float64 { return float64(s.UTime+s.STime) / TicksPerSecond }

// ParseStat reads the contents of /proc/<pid>/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func ParseStat(data []byte) (Stat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, errors.New("proc stat: no ')' after the command name")
	}
	// After ")": state(3) ppid(4) pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime(14) stime(15).
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("proc stat: %d fields after the command name; want at least 13", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("proc stat ppid %q: %w", f[1], err)
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("proc stat utime %q: %w", f[11], err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("proc stat stime %q: %w", f[12], err)
	}
	return Stat{PPID: ppid, UTime: ut, STime: st}, nil
}

// Memory is the part of /proc/<pid>/status the harness uses, in KiB.
type Memory struct {
	HWMKiB int64 // VmHWM: peak resident set size
	RSSKiB int64 // VmRSS: current resident set size
}

// ParseStatus reads VmHWM and VmRSS from the contents of /proc/<pid>/status.
func ParseStatus(data []byte) (Memory, error) {
	var m Memory
	var haveHWM, haveRSS bool
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("proc status %s %q: want \"<n> kB\"", name, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return Memory{}, fmt.Errorf("proc status %s %q: not a size", name, f[0])
		}
		if name == "VmHWM" {
			m.HWMKiB, haveHWM = n, true
		} else {
			m.RSSKiB, haveRSS = n, true
		}
	}
	if !haveHWM || !haveRSS {
		return Memory{}, errors.New("proc status: no VmHWM or VmRSS line (a kernel thread or a zombie?)")
	}
	return m, nil
}

// FS reads process files under a root directory, "/proc" on a live system.
type FS struct{ Root string }

// Proc is the live /proc.
var Proc = FS{Root: "/proc"}

// Stat reads one process's stat file.
func (fs FS) Stat(pid int) (Stat, error) {
	data, err := os.ReadFile(filepath.Join(fs.Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(data)
}

// Memory reads one process's status file.
func (fs FS) Memory(pid int) (Memory, error) {
	data, err := os.ReadFile(filepath.Join(fs.Root, strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, err
	}
	return ParseStatus(data)
}

// Tree returns pid and its live descendants.
func (fs FS) Tree(pid int) ([]int, error) {
	entries, err := os.ReadDir(fs.Root)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := fs.Stat(p)
		if err != nil {
			continue // exited while we looked
		}
		children[st.PPID] = append(children[st.PPID], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// Usage is the CPU time and memory of a process tree at one moment.
type Usage struct {
	CPUSeconds float64
	HWMKiB     int64 // sum of each process's peak RSS
	RSSKiB     int64
}

// TreeUsage sums CPU time and memory over pid and its descendants. The root
// must be readable; descendants that exit meanwhile are skipped.
func (fs FS) TreeUsage(pid int) (Usage, error) {
	pids, err := fs.Tree(pid)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for i, p := range pids {
		st, err := fs.Stat(p)
		if err == nil {
			var m Memory
			m, err = fs.Memory(p)
			if err == nil {
				u.CPUSeconds += st.CPUSeconds()
				u.HWMKiB += m.HWMKiB
				u.RSSKiB += m.RSSKiB
				continue
			}
		}
		if i == 0 {
			return Usage{}, fmt.Errorf("process %d: %w", pid, err)
		}
	}
	return u, nil
}

// ParseCPUBusy reads /proc/stat and returns, for each "cpuN" line, the
// busy ticks: every column except idle and iowait (guest time is already
// counted in user).
func ParseCPUBusy(data []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var busy uint64
		// user nice system idle iowait irq softirq steal [guest guest_nice]
		for i, s := range f[1:min(len(f), 9)] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("proc stat %s column %d %q: %w", f[0], i+1, s, err)
			}
			if i != 3 && i != 4 {
				busy += v
			}
		}
		out[f[0]] = busy
	}
	if len(out) == 0 {
		return nil, errors.New("proc stat: no cpuN lines")
	}
	return out, nil
}

// CPUBusySeconds returns the busy seconds of one CPU ("cpu1") so far.
func (fs FS) CPUBusySeconds(cpu string) (float64, error) {
	data, err := os.ReadFile(filepath.Join(fs.Root, "stat"))
	if err != nil {
		return 0, err
	}
	m, err := ParseCPUBusy(data)
	if err != nil {
		return 0, err
	}
	v, ok := m[cpu]
	if !ok {
		return 0, fmt.Errorf("proc stat: no %s line", cpu)
	}
	return float64(v) / TicksPerSecond, nil
}

// ResetPeak sets the peak RSS (VmHWM) of pid and its descendants back to
// their current RSS by writing "5" to /proc/<pid>/clear_refs (Linux 4.0 and
// later; needs the right to write the process's files, e.g. root or the
// same user). After it, VmHWM is the peak since the reset, such as under
// load rather than while loading a config.
func (fs FS) ResetPeak(pid int) error {
	pids, err := fs.Tree(pid)
	if err != nil {
		return err
	}
	for _, p := range pids {
		if err := os.WriteFile(filepath.Join(fs.Root, strconv.Itoa(p), "clear_refs"), []byte("5"), 0); err != nil {
			return fmt.Errorf("reset peak RSS of %d: %w", p, err)
		}
	}
	return nil
}
