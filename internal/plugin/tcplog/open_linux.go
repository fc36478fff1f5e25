package tcplog

import (
	"crypto/tls"
	"net"
	"syscall"
)

// open reports whether the server has not closed an idle connection. A
// write to a connection the server closed is often accepted by the kernel
// and then lost, so the connection is checked before it is reused: a
// non-blocking peek that finds the end of the stream, or an error, means
// closed.
func open(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	_ = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil || n == 0:
			alive = false
		}
		return true // never wait for data
	})
	return alive
}
