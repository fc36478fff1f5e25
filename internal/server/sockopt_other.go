//go:build !linux || !(amd64 || arm64 || 386 || arm || riscv64 || ppc64le || ppc64 || s390x || loong64)

package server

import (
	"syscall"

	"sluice/internal/settings"
)

// control: reuseport and deferred are applied on Linux only (on the
// common architectures).
func control(settings.Listen) func(network, address string, c syscall.RawConn) error { return nil }
