//go:build linux

package proxy

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/internal/model"
)

// TestUpconnConnectTimeout: an upstream whose accept queue is full drops
// the SYN; connect_timeout ends the dial with Kong's 504.
func TestUpconnConnectTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip("no raw socket:", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (never accepted).
	for i := 0; i < 2; i++ {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
		c.Close()
		t.Skip("the kernel accepted past a full queue; cannot provoke a connect timeout here")
	}
	s := svcTo(t, "http://"+addr)
	s.Retries, s.ConnectTimeout = 0, 100
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	res, body := e.do(t, "GET", "/", map[string]string{"Accept": "application/json"}, nil)
	if res.StatusCode != 504 || !strings.Contains(body, `"message":"The upstream server is timing out"`) {
		t.Errorf("connect timeout: %d %q; want Kong's 504", res.StatusCode, body)
	}
}
