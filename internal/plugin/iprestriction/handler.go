package iprestriction

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// IPRestriction is one configured instance.
type IPRestriction struct {
	allow, deny []netip.Prefix
	status      int
	// message is nil when unset: Kong then names the client address.
	message *string
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	p := &IPRestriction{status: 403}
	var err error
	if p.allow, err = prefixes(cfg["allow"]); err != nil {
		return nil, err
	}
	if p.deny, err = prefixes(cfg["deny"]); err != nil {
		return nil, err
	}
	if s, ok := model.Number(cfg["status"]); ok {
		p.status = int(s)
	}
	if m, ok := cfg["message"].(string); ok {
		p.message = &m
	}
	return p, nil
}

func prefixes(v any) ([]netip.Prefix, error) {
	list, _ := v.([]any)
	out := make([]netip.Prefix, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix accepts an address or a CIDR; the host bits of a CIDR are
// ignored, as Kong's ipmatcher does.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ip-restriction: invalid cidr %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip-restriction: invalid ip %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Access checks the client address: the deny list first, then the allow list.
func (p *IPRestriction) Access(c *plugin.Ctx) {
	addr, ok := clientAddr(c)
	if !ok {
		c.Error(403, "Cannot identify the client IP address, unix domain sockets are not supported.", nil)
		return
	}
	if len(p.deny) > 0 && contains(p.deny, addr) {
		c.Error(p.status, p.text(addr), nil)
		return
	}
	if len(p.allow) > 0 && !contains(p.allow, addr) {
		c.Error(p.status, p.text(addr), nil)
	}
}

func (p *IPRestriction) text(addr netip.Addr) string {
	if p.message != nil {
		return *p.message
	}
	return "IP address not allowed: " + addr.String()
}

// clientAddr is the client address resolved by the proxy
// (real_ip_header/trusted_ips), else the connection's peer.
func clientAddr(c *plugin.Ctx) (netip.Addr, bool) {
	host := c.ClientIP
	if host == "" {
		host = c.Request.RemoteAddr
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Preread checks a stream connection's client address as Access does.
func (p *IPRestriction) Preread(c *plugin.StreamCtx) *plugin.Exit {
	a, err := netip.ParseAddr(c.ClientIP)
	if err != nil {
		return &plugin.Exit{Status: 403, Message: "Cannot identify the client IP address, unix domain sockets are not supported."}
	}
	a = a.Unmap().WithZone("")
	if (len(p.deny) > 0 && contains(p.deny, a)) || (len(p.allow) > 0 && !contains(p.allow, a)) {
		return &plugin.Exit{Status: p.status, Message: p.text(a)}
	}
	return nil
}

var (
	_ plugin.Accessor  = (*IPRestriction)(nil)
	_ plugin.Prereader = (*IPRestriction)(nil)
)
