package upstream

import "math/bits"

// xxHash32 constants (public algorithm by Yann Collet).
const (
	xxP1 uint32 = 2654435761
	xxP2 uint32 = 2246822519
	xxP3 uint32 = 3266489917
	xxP4 uint32 = 668265263
	xxP5 uint32 = 374761393
)

// xxhash32 returns the 32-bit xxHash of s with seed 0. Kong's
// consistent-hashing balancer hashes with the same function, so ring
// positions match Kong's for the same addresses and keys. It does not
// allocate.
func xxhash32(s string) uint32 {
	n := len(s)
	var h uint32
	i := 0
	if n >= 16 {
		p1, p2 := xxP1, xxP2 // variables: the sums wrap around
		v1 := p1 + p2
		v2 := p2
		v3 := uint32(0)
		v4 := 0 - p1
		for ; i+16 <= n; i += 16 {
			v1 = xxRound(v1, le32(s, i))
			v2 = xxRound(v2, le32(s, i+4))
			v3 = xxRound(v3, le32(s, i+8))
			v4 = xxRound(v4, le32(s, i+12))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) +
			bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = xxP5
	}
	h += uint32(n)
	for ; i+4 <= n; i += 4 {
		h += le32(s, i) * xxP3
		h = bits.RotateLeft32(h, 17) * xxP4
	}
	for ; i < n; i++ {
		h += uint32(s[i]) * xxP5
		h = bits.RotateLeft32(h, 11) * xxP1
	}
	h ^= h >> 15
	h *= xxP2
	h ^= h >> 13
	h *= xxP3
	h ^= h >> 16
	return h
}

func xxRound(acc, in uint32) uint32 {
	acc += in * xxP2
	acc = bits.RotateLeft32(acc, 13)
	return acc * xxP1
}

func le32(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}
