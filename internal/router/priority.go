package router

import (
	"strings"

	"sluice/internal/model"
)

// Options tune a Build.
type Options struct {
	// DocumentedPriority orders routes by the 64-bit layout that Kong's
	// source and documentation describe (match weight in bits 61-63, plain
	// hosts bit 60, header count bits 52-59, regex bit 51, regex_priority
	// bits 19-50, prefix length bits 0-18). By default the router instead
	// reproduces the priorities Kong 3.x really computes: see luaPriority.
	DocumentedPriority bool
	// PathHandlingV1 honours routes' path_handling "v1", as Kong's
	// "traditional" router flavor does. Kong's default flavor,
	// traditional_compatible, treats v1 as v0, and so does the router
	// without this option.
	PathHandlingV1 bool
}

const (
	plainHostOnlyBit = uint64(1) << 60
	regexURLBit      = uint64(1) << 51
	maxLengthMask    = 0x7FFFF
	maxHeaderCount   = 255
)

// priorityInputs are the route facts Kong's get_priority looks at.
type priorityInputs struct {
	weight    uint64 // non-empty attributes among sources, destinations, methods, hosts, headers, snis, paths
	headers   uint64 // header names, capped at 255
	plainHost bool   // hosts is set and has no wildcard
	regex     bool   // the sub-route's paths are regexes
	regexPrio int
	length    int // length of the sub-route's plain prefixes
}

func priority(r *model.Route, m *matcher, opts Options) uint64 {
	in := priorityInputs{regex: len(m.regexes) > 0, regexPrio: r.RegexPriority, length: m.plainLen}
	for _, set := range []bool{len(r.Sources) > 0, len(r.Destinations) > 0, len(r.Methods) > 0,
		len(r.Hosts) > 0, len(r.SNIs) > 0, len(m.plain) > 0 || in.regex} {
		if set {
			in.weight++
		}
	}
	if n := len(r.Headers); n > 0 {
		in.weight++
		in.headers = uint64(min(n, maxHeaderCount))
	}
	if r.Hosts != nil { // Kong: type(hosts) == "table"
		in.plainHost = true
		for _, h := range r.Hosts {
			if strings.Contains(h, "*") {
				in.plainHost = false
				break
			}
		}
	}
	if opts.DocumentedPriority {
		return documentedPriority(in)
	}
	return luaPriority(in)
}

// documentedPriority is the layout as written in kong/router/transform.lua.
// regex_priority is biased by 2^31 so that negative values keep their order
// in the 32 bits the layout gives it.
func documentedPriority(in priorityInputs) uint64 {
	p := in.weight<<61 | in.headers<<52
	if in.plainHost {
		p |= plainHostOnlyBit
	}
	if in.regex {
		p |= regexURLBit
		p |= (uint64(int64(in.regexPrio)+1<<31) & (1<<32 - 1)) << 19
	} else {
		p |= uint64(in.length) & maxLengthMask
	}
	return p
}

// luaPriority is what Kong 3.x's get_priority yields when LuaJIT runs it,
// checked against LuaJIT 2.1 on x86-64. Its helper lshift_uint64 assigns the
// value to a local instead of converting it to uint64_t, so the shifts of
// the match weight, the header count and regex_priority are 32-bit BitOp
// shifts of Lua numbers: the count is taken modulo 32 (weight<<29,
// headers<<20, regex_priority<<19) and the result is a signed 32-bit value.
// bit.bor then works in 64 bits only when one argument is a uint64_t cdata
// (the plain-host and regex bits); in that case each negative 32-bit
// argument converts to 2^63. Otherwise the result is a 32-bit number, and a
// negative one reaches the ATC router's usize priority as 2^63 as well.
// Consequences: plain hosts, then regex paths, outrank any match weight;
// weights 4 to 7 and negative regex_priority values collapse to 2^63; and
// the header count shares bits with regex_priority.
func luaPriority(in priorityInputs) uint64 {
	w := int32(uint32(in.weight) << (61 % 32))
	h := int32(uint32(in.headers) << (52 % 32))
	var rp int32
	if in.regex {
		rp = int32(uint32(int32(in.regexPrio)) << 19)
	}
	l := int32(in.length & maxLengthMask)
	if in.plainHost || in.regex {
		p := luaToU64(w) | luaToU64(h) | luaToU64(rp) | luaToU64(l)
		if in.plainHost {
			p |= plainHostOnlyBit
		}
		if in.regex {
			p |= regexURLBit
		}
		return p
	}
	return luaToU64(w | h | rp | l)
}

// luaToU64 converts a Lua number holding a 32-bit BitOp result to uint64_t
// as LuaJIT does on x86-64: negative values become 2^63.
func luaToU64(v int32) uint64 {
	if v < 0 {
		return 1 << 63
	}
	return uint64(v)
}
