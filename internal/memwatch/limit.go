// The cgroup memory limit and GOMEMLIMIT.

package memwatch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// noLimitV1 is the value cgroup v1 reports for "no limit" (rounded to pages);
// anything at or above it means unlimited.
const noLimitV1 = int64(1) << 62

// CgroupLimit returns the memory limit in bytes of the cgroup the process is
// in, found under root (normally "/"), trying cgroup v2 then v1. ok is false
// when there is no limit.
func CgroupLimit(root string) (limit int64, ok bool, err error) {
	rel := selfCgroupPaths(root)
	// cgroup v2: memory.max in the unified hierarchy.
	for _, dir := range candidates(filepath.Join(root, "sys/fs/cgroup"), rel.unified) {
		b, err := os.ReadFile(filepath.Join(dir, "memory.max"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("parsing %s/memory.max %q: %w", dir, s, err)
		}
		return v, true, nil
	}
	// cgroup v1: memory.limit_in_bytes in the memory controller.
	for _, dir := range candidates(filepath.Join(root, "sys/fs/cgroup/memory"), rel.memory) {
		b, err := os.ReadFile(filepath.Join(dir, "memory.limit_in_bytes"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		s := strings.TrimSpace(string(b))
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("parsing %s/memory.limit_in_bytes %q: %w", dir, s, err)
		}
		if v <= 0 || v >= noLimitV1 {
			return 0, false, nil
		}
		return v, true, nil
	}
	return 0, false, nil
}

type cgroupPaths struct{ unified, memory string }

// selfCgroupPaths reads /proc/self/cgroup for the process's own cgroup paths
// (inside a container they are usually "/").
func selfCgroupPaths(root string) cgroupPaths {
	var p cgroupPaths
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return p
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			p.unified = parts[2]
		case strings.Contains(","+parts[1]+",", ",memory,"):
			p.memory = parts[2]
		}
	}
	return p
}

// candidates lists the directories to look in: the process's own cgroup
// below the mount point first, then the mount point itself.
func candidates(mount, rel string) []string {
	if rel == "" || rel == "/" {
		return []string{mount}
	}
	return []string{filepath.Join(mount, rel), mount}
}

// Decision says what ApplyLimit did and why, for the start-up log.
type Decision struct {
	CgroupLimit int64 // bytes, 0 when none was found
	GoMemLimit  int64 // the limit in force after the call (math.MaxInt64 = none)
	Source      string
	GoMaxProcs  int
}

// ApplyLimit sets the Go runtime's soft memory limit to ratio times the
// container limit, unless the user set GOMEMLIMIT (which wins) or there is no
// limit. GOMAXPROCS already follows the CPU quota in Go 1.25 and later.
func ApplyLimit(root string, ratio float64) (Decision, error) {
	d := Decision{GoMaxProcs: runtime.GOMAXPROCS(0)}
	limit, ok, err := CgroupLimit(root)
	if ok {
		d.CgroupLimit = limit
	}
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		d.GoMemLimit = debug.SetMemoryLimit(-1)
		d.Source = "GOMEMLIMIT set by the user (" + v + "), left as is"
		return d, err
	}
	if !ok {
		d.GoMemLimit = debug.SetMemoryLimit(-1)
		d.Source = "no container memory limit found; no soft limit set"
		return d, err
	}
	if ratio <= 0 || ratio > 1 {
		return d, fmt.Errorf("mem_limit_ratio %v: must be in (0, 1]", ratio)
	}
	target := int64(float64(limit) * ratio)
	debug.SetMemoryLimit(target)
	d.GoMemLimit = target
	d.Source = fmt.Sprintf("%.0f%% of the cgroup limit of %d bytes", ratio*100, limit)
	return d, nil
}
