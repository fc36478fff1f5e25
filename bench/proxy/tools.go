package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// tools are the external programs the harness runs.
type tools struct {
	nginx, wrk, taskset string
}

// findNginx looks in PATH and then in /usr/sbin, where Debian puts it
// (outside a non-root PATH).
func findNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

func find(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

// missingPackages lists the Debian packages to install for the tools that
// are not found: nginx-light (nginx where that is gone), wrk, and util-linux
// for taskset.
func missingPackages(t tools) []string {
	var pkgs []string
	if t.nginx == "" {
		pkgs = append(pkgs, "nginx-light")
	}
	if t.wrk == "" {
		pkgs = append(pkgs, "wrk")
	}
	if t.taskset == "" {
		pkgs = append(pkgs, "util-linux")
	}
	return pkgs
}

// ensureTools finds nginx, wrk and taskset, installing the missing ones
// with apt-get (one apt-get update first) unless install is false.
func ensureTools(ctx context.Context, install bool, logf func(string, ...any)) (tools, error) {
	look := func() tools { return tools{nginx: findNginx(), wrk: find("wrk"), taskset: find("taskset")} }
	t := look()
	pkgs := missingPackages(t)
	if len(pkgs) == 0 {
		return t, nil
	}
	if !install {
		return t, fmt.Errorf("missing %s; install them (apt-get install -y %s) or drop -no-install", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	if os.Geteuid() != 0 {
		return t, fmt.Errorf("missing %s and not root: run apt-get install -y %s", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	apt := func(args ...string) error {
		logf("running apt-get %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(string(out), 2000))
		}
		return nil
	}
	if err := apt("update"); err != nil {
		return t, err
	}
	err := apt(append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
	if err != nil && t.nginx == "" {
		// Debian 13 has no nginx-light; its nginx package is the small one.
		for i, p := range pkgs {
			if p == "nginx-light" {
				pkgs[i] = "nginx"
			}
		}
		err = apt(append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
	}
	if err != nil {
		return t, err
	}
	t = look()
	if still := missingPackages(t); len(still) > 0 {
		return t, fmt.Errorf("still missing after apt-get install: %s", strings.Join(still, ", "))
	}
	return t, nil
}

// moduleRoot is the directory of sluice's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the sluice module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// build compiles pkg (relative to root) into dir/name.
func build(ctx context.Context, root, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, tail(string(b), 4000))
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
