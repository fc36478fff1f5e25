package upstream

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultTargetPort is the port Kong appends to a target given without one.
const DefaultTargetPort = 8000

// hostPort is a parsed target address.
type hostPort struct {
	host string // host name or IP, IPv6 without brackets
	port int
	ip   bool // host is an IP literal
}

// hostHeader returns host as it appears in a Host header or URL authority
// (IPv6 in brackets).
func (h hostPort) hostHeader() string {
	if h.ip && strings.IndexByte(h.host, ':') >= 0 {
		return "[" + h.host + "]"
	}
	return h.host
}

// String formats the target the way Kong stores it: host:port with IPv6 in
// brackets.
func (h hostPort) String() string {
	return net.JoinHostPort(h.host, strconv.Itoa(h.port))
}

var errBadTarget = errors.New("not a valid hostname or ip address")

// ParseTarget splits a Kong target ("host", "host:port", "1.2.3.4:80",
// "[::1]:80", "::1") into host and port. A missing port becomes
// DefaultTargetPort. The host of an IPv6 literal is returned without
// brackets.
func ParseTarget(s string) (host string, port int, err error) {
	hp, err := parseTarget(s)
	if err != nil {
		return "", 0, err
	}
	return hp.host, hp.port, nil
}

func parseTarget(s string) (hostPort, error) {
	if s == "" {
		return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
	}
	host, portStr := s, ""
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
			}
			portStr = rest[1:]
			if portStr == "" {
				return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
			}
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil && !strings.Contains(host, ":") {
			return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
		}
	case strings.Count(s, ":") > 1:
		// bare IPv6 literal, no port
		if net.ParseIP(s) == nil {
			return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
		}
	default:
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, portStr = s[:i], s[i+1:]
			if portStr == "" {
				return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
			}
		}
	}
	port := DefaultTargetPort
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 0 || p > 65535 || portStr[0] == '+' || portStr[0] == '-' {
			return hostPort{}, fmt.Errorf("invalid target %q: invalid port", s)
		}
		port = p
	}
	if host == "" {
		return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
	}
	if ip := net.ParseIP(host); ip != nil {
		return hostPort{host: ip.String(), port: port, ip: true}, nil
	}
	if !validHostname(host) {
		return hostPort{}, fmt.Errorf("invalid target %q: %w", s, errBadTarget)
	}
	return hostPort{host: strings.ToLower(host), port: port}, nil
}

// validHostname accepts DNS names made of letters, digits, '-', '_' and dots,
// with labels of at most 63 bytes.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return false
			}
		}
	}
	return true
}
