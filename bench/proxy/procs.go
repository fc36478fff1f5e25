package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process the harness started and must stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // file with its stdout and stderr
	done chan struct{}
	err  error // exit status, set when done is closed
}

// procs tracks every child so that all are stopped on exit.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// start runs argv (pinned to cpu with taskset when cpu >= 0) in its own
// process group, its output to dir/name.log.
func (ps *procs) start(t tools, dir, name string, cpu int, env []string, argv ...string) (*proc, error) {
	if cpu >= 0 {
		argv = append([]string{t.taskset, "-c", strconv.Itoa(cpu)}, argv...)
	}
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// exitErr is why the process ended; never nil once done is closed.
func (p *proc) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// pid is the process's id; taskset execs the program, so it is the
// program's own.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the process's output, for error messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	return tail(strings.TrimSpace(string(b)), 1500)
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pg := -p.cmd.Process.Pid
	_ = syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(pg, syscall.SIGKILL)
		<-p.done
	}
}

// stopAll stops every child, newest first.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i := len(ps.list) - 1; i >= 0; i-- {
		ps.list[i].stop(5 * time.Second)
	}
	ps.list = nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var client = &http.Client{Timeout: 5 * time.Second}

// get does one GET with optional header pairs and returns status, headers
// and body.
func get(ctx context.Context, url string, headers ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// waitFor polls url until it answers want, the process exits, or timeout.
func waitFor(ctx context.Context, p *proc, url string, want int, timeout time.Duration, headers ...string) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited (%w) before %s answered %d:\n%s", p.name, p.exitErr(), url, want, p.logTail())
		}
		code, _, _, err := get(ctx, url, headers...)
		if err == nil && code == want {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "status " + strconv.Itoa(code)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	msg := fmt.Sprintf("%s did not answer %d within %v (last: %s)", url, want, timeout, last)
	if p != nil {
		msg += "\n" + p.logTail()
	}
	return errors.New(msg)
}
