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
	Src, Dst netip.AddrPort // the client's address and the listener's
	SNI      string         // the TLS server name, "" when none was sent
}

// StreamRouter matches stream connections to the routes of protocols tcp,
// tls and tls_passthrough as Kong 3.x does (its ATC router in
// traditional_compatible mode): a route matches when each of its sources
// and destinations (those set) holds an entry matching the connection, and
// its snis hold the connection's server name (a connection without one
// passes). The route's protocols do not filter; the proxy decides what to
// do with the route found. Routes are tried by Kong's priority: first
// those with snis or with both sources and destinations, then by the kinds
// of entries they have (a source ip, port, cidr before a destination ip,
// port, cidr); ties go to the larger id.
type StreamRouter struct {
	routes []*streamRoute
}

type streamRoute struct {
	route    *model.Route
	service  *model.Service // nil when the route has none
	src, dst []cidrPort
	snis     []string
	priority uint64
}

// cidrPort is a compiled sources or destinations entry: an unset prefix
// or port matches any.
type cidrPort struct {
	prefix  netip.Prefix
	hasIP   bool
	cidr    bool // written as a CIDR
	port    int
	hasPort bool
}

func (c cidrPort) match(a netip.AddrPort) bool {
	if c.hasIP && !c.prefix.Contains(a.Addr().Unmap()) {
		return false
	}
	return !c.hasPort || int(a.Port()) == c.port
}

// streamPriority is Kong's: bit 61 for snis or sources and destinations
// together, then one bit per kind of entry.
func streamPriority(src, dst []cidrPort, snis []string) uint64 {
	var p uint64
	if len(snis) > 0 || (len(src) > 0 && len(dst) > 0) {
		p |= 1 << 61
	}
	for i, list := range [][]cidrPort{src, dst} {
		ip, port, cidr := uint64(128), uint64(64), uint64(16) // sources
		if i == 1 {
			ip, port, cidr = 8, 4, 1 // destinations
		}
		for _, e := range list {
			switch {
			case e.hasIP && e.cidr:
				p |= cidr
			case e.hasIP:
				p |= ip
			}
			if e.hasPort {
				p |= port
			}
		}
	}
	return p
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
// services maps service id to service. A route whose service is disabled
// is left out; one without a service is kept (a connection it takes is
// closed, as Kong's balancer fails it).
func BuildStream(routes []*model.Route, services map[string]*model.Service) (*StreamRouter, error) {
	sr := &StreamRouter{}
	for _, r := range routes {
		if !IsStream(r) {
			continue
		}
		var svc *model.Service
		if r.Service != nil {
			svc = services[r.Service.ID]
			if svc != nil && !svc.Enabled {
				continue
			}
		}
		c := &streamRoute{route: r, service: svc}
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
			c.snis = append(c.snis, strings.TrimSuffix(s, "."))
		}
		c.priority = streamPriority(c.src, c.dst, c.snis)
		sr.routes = append(sr.routes, c)
	}
	slices.SortStableFunc(sr.routes, func(a, b *streamRoute) int {
		if a.priority != b.priority {
			if a.priority > b.priority {
				return -1
			}
			return 1
		}
		return strings.Compare(b.route.ID, a.route.ID)
	})
	return sr, nil
}

func compileCIDRPort(e model.CIDRPort) (cidrPort, error) {
	var c cidrPort
	if e.IP != nil && *e.IP != "" {
		s := *e.IP
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return c, fmt.Errorf("ip %q: %w", s, err)
			}
			c.prefix, c.cidr = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), true
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return c, fmt.Errorf("ip %q: %w", s, err)
			}
			c.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.hasIP = true
	}
	if e.Port != nil {
		c.port, c.hasPort = *e.Port, true
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

// Match returns the route and its service (nil when it has none) for a
// connection; nil when no route matches.
func (sr *StreamRouter) Match(in StreamInput) (*model.Route, *model.Service) {
	if sr == nil {
		return nil, nil
	}
	for _, c := range sr.routes {
		if len(c.src) > 0 && !slices.ContainsFunc(c.src, func(e cidrPort) bool { return e.match(in.Src) }) {
			continue
		}
		if len(c.dst) > 0 && !slices.ContainsFunc(c.dst, func(e cidrPort) bool { return e.match(in.Dst) }) {
			continue
		}
		if in.SNI != "" && len(c.snis) > 0 && !slices.Contains(c.snis, in.SNI) {
			continue
		}
		return c.route, c.service
	}
	return nil, nil
}
