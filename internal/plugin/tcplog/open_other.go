//go:build !linux

package tcplog

import "net"

// open assumes an idle connection is open where it cannot peek at it; a
// failed write is retried once on a new connection.
func open(net.Conn) bool { return true }
