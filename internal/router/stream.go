package router

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"sluice/internal/model"
)

// StreamInput is what a stream (TCP or TLS) connection is matched on.
type StreamInput struct {
	// Protocol is "tcp" for a plain connection, "tls" for one whose TLS
	// sluice terminates, "tls_passthrough" for one it forwards as is.
	Protocol string
	Src, Dst netip.AddrPort // the client's address and the listener's
	SNI      string         // the TLS server name, "" for tcp
}

// StreamRouter matches stream connections to the routes of protocols tcp,
// tls and tls_passthrough, as Kong's stream router does: a route matches
// when its protocols hold the connection's, and each of its sources,
// destinations and snis (those set) holds an entry matching the
// connection. Routes that set more of the three are tried first; then
// older ones (created_at, then id).
type StreamRouter struct {
	routes []*streamRoute
}

type streamRoute struct {
	route     *model.Route
	service   *model.Service
	protocols []string
	src, dst  []cidrPort
	snis      []string
	kinds     int // how many of sources, destinations, snis are set
}

// cidrPort is a compiled sources or destinations entry: an unset prefix
// or port matches any.
type cidrPort struct {
	prefix netip.Prefix
	hasIP  bool
	port   int // 0: any
}

func (c cidrPort) match(a netip.AddrPort) bool {
	if c.hasIP && !c.prefix.Contains(a.Addr().Unmap()) {
		return false
	}
	return c.port == 0 || int(a.Port()) == c.port
}

// IsStream reports whether a route is served by the stream router.
func IsStream(r *model.Route) bool {
	for _, p := range r.Protocols {
		switch p {
		case "tcp", "tls", "tls_passthrough", "udp":
			return true
		}
	}
	return false
}

// BuildStream compiles the stream routes of routes (others are skipped);
// services maps service id to service. A route whose service is missing
// or disabled is left out, as for HTTP.
func BuildStream(routes []*model.Route, services map[string]*model.Service) (*StreamRouter, error) {
	sr := &StreamRouter{}
	for _, r := range routes {
		if !IsStream(r) {
			continue
		}
		var svc *model.Service
		if r.Service != nil {
			svc = services[r.Service.ID]
		}
		if svc == nil || !svc.Enabled {
			continue
		}
		c := &streamRoute{route: r, service: svc, protocols: r.Protocols}
		for _, list := range []struct {
			in  []model.CIDRPort
			out *[]cidrPort
		}{{r.Sources, &c.src}, {r.Destinations, &c.dst}} {
			for _, e := range list.in {
				cp, err := compileCIDRPort(e)
				if err != nil {
					return nil, fmt.Errorf("route %s: %w", r.ID, err)
				}
				*list.out = append(*list.out, cp)
			}
		}
		for _, s := range r.SNIs {
			c.snis = append(c.snis, strings.ToLower(s))
		}
		for _, set := range []bool{len(c.src) > 0, len(c.dst) > 0, len(c.snis) > 0} {
			if set {
				c.kinds++
			}
		}
		sr.routes = append(sr.routes, c)
	}
	slices.SortStableFunc(sr.routes, func(a, b *streamRoute) int {
		if a.kinds != b.kinds {
			return b.kinds - a.kinds
		}
		if a.route.CreatedAt != b.route.CreatedAt {
			if a.route.CreatedAt < b.route.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.route.ID, b.route.ID)
	})
	return sr, nil
}

func compileCIDRPort(e model.CIDRPort) (cidrPort, error) {
	var c cidrPort
	if e.IP != nil && *e.IP != "" {
		s := *e.IP
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return c, fmt.Errorf("ip %q: %w", s, err)
			}
			s = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return c, fmt.Errorf("ip %q: %w", s, err)
		}
		c.prefix, c.hasIP = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), true
	}
	if e.Port != nil {
		c.port = *e.Port
	}
	return c, nil
}

// Len is the number of stream routes.
func (sr *StreamRouter) Len() int {
	if sr == nil {
		return 0
	}
	return len(sr.routes)
}

// Match returns the route and service for a connection; nil when none
// matches.
func (sr *StreamRouter) Match(in StreamInput) (*model.Route, *model.Service) {
	if sr == nil {
		return nil, nil
	}
	sni := strings.ToLower(in.SNI)
	for _, c := range sr.routes {
		if !slices.Contains(c.protocols, in.Protocol) {
			continue
		}
		if len(c.src) > 0 && !slices.ContainsFunc(c.src, func(e cidrPort) bool { return e.match(in.Src) }) {
			continue
		}
		if len(c.dst) > 0 && !slices.ContainsFunc(c.dst, func(e cidrPort) bool { return e.match(in.Dst) }) {
			continue
		}
		if len(c.snis) > 0 && !slices.Contains(c.snis, sni) {
			continue
		}
		return c.route, c.service
	}
	return nil, nil
}
