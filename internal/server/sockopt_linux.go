//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || ppc64le || ppc64 || s390x || loong64)

package server

import (
	"syscall"

	"sluice/internal/settings"
)

// soReusePort is SO_REUSEPORT on these architectures (package syscall
// does not define it).
const soReusePort = 0xf

// control sets the socket options of a listen entry before bind.
func control(l settings.Listen) func(network, address string, c syscall.RawConn) error {
	if !l.ReusePort && !l.Deferred {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if l.ReusePort {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
			}
			if serr == nil && l.Deferred {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
