package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// readProxyHeader reads a PROXY protocol v1 or v2 header (HAProxy's
// specification) and returns the client address it carries; nil (and no
// error) for the UNKNOWN / LOCAL forms, where the connection's own address
// stands.
func readProxyHeader(r *bufio.Reader) (net.Addr, error) {
	head, err := r.Peek(12)
	if err != nil {
		// Every valid header is longer than 12 bytes.
		return nil, fmt.Errorf("reading PROXY header: %w", err)
	}
	if bytes.Equal(head, proxyV2Sig) {
		return readProxyV2(r)
	}
	if len(head) >= 6 && string(head[:6]) == "PROXY " {
		return readProxyV1(r)
	}
	return nil, errors.New("missing PROXY protocol header")
}

func readProxyV1(r *bufio.Reader) (net.Addr, error) {
	// The longest v1 line is 107 bytes.
	var line []byte
	for len(line) < 108 {
		b, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("reading PROXY v1 header: %w", err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s := string(line)
	if !strings.HasSuffix(s, "\r\n") {
		return nil, errors.New("PROXY v1 header too long or not ended by CRLF")
	}
	f := strings.Split(strings.TrimSuffix(s, "\r\n"), " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return nil, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, fmt.Errorf("malformed PROXY v1 header %q", strings.TrimSpace(s))
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || (f[1] == "TCP4") != ip.Is4() {
		return nil, fmt.Errorf("PROXY v1 header: bad source address %q", f[2])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil {
		return nil, fmt.Errorf("PROXY v1 header: bad source port %q", f[4])
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
}

func readProxyV2(r *bufio.Reader) (net.Addr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading PROXY v2 header: %w", err)
	}
	verCmd, fam := hdr[12], hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 {
		return nil, fmt.Errorf("PROXY v2 header: version %d", verCmd>>4)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading PROXY v2 addresses: %w", err)
	}
	switch verCmd & 0xf {
	case 0: // LOCAL: health check from the proxy itself.
		return nil, nil
	case 1: // PROXY
	default:
		return nil, fmt.Errorf("PROXY v2 header: command %d", verCmd&0xf)
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return nil, errors.New("PROXY v2 header: short IPv4 address block")
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10]))), nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return nil, errors.New("PROXY v2 header: short IPv6 address block")
		}
		ip := netip.AddrFrom16([16]byte(body[0:16]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34]))), nil
	}
	return nil, nil // UNSPEC or non-TCP: keep the connection's address
}
