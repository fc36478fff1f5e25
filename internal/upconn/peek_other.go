//go:build !unix

package upconn

import "syscall"

// peek is not available: report the connection as open.
func peek(uintptr, []byte) (int, error) { return 0, syscall.EAGAIN }
