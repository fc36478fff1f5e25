package upstream

import (
	"math"
	"sort"
	"strconv"
)

// maxWheel caps the round-robin wheel; larger weight sums are scaled down
// proportionally (every node keeps at least one slot).
const maxWheel = 1 << 14

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// buildWheel lays out one round of smooth weighted round-robin (the nginx
// algorithm): each node appears weight/gcd times, interleaved so that heavy
// nodes do not get bursts. Pick walks the wheel with an atomic counter.
func buildWheel(nodes []node) []int32 {
	if len(nodes) == 0 {
		return nil
	}
	w := make([]int, len(nodes))
	g, sum := 0, 0
	for i, n := range nodes {
		w[i] = n.weight
		g = gcd(g, n.weight)
		sum += n.weight
	}
	if g == 0 {
		return nil
	}
	sum = 0
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum > maxWheel {
		scaled := 0
		for i := range w {
			w[i] = max(1, w[i]*maxWheel/sum)
			scaled += w[i]
		}
		sum = scaled
	}
	wheel := make([]int32, sum)
	cur := make([]int, len(w))
	for step := range wheel {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		wheel[step] = int32(best)
	}
	return wheel
}

// serverPoints is Kong's number of continuum points per target when all
// targets have the same weight.
const serverPoints = 160

// buildRing builds Kong's consistent-hashing continuum: targets sorted by
// name and port, addresses by "ip:port"; each address gets
// floor(weight/total * targetCount * 160) points (at least 1) at
// xxhash32("<ip>::<port> <i>") % points + 1, colliding points pushing the
// address to its next index. targetCount counts every configured target.
func buildRing(nodes []node, targetCount, points int) ([]int32, uint32) {
	ring := make([]int32, points+1)
	for i := range ring {
		ring[i] = -1
	}
	if len(nodes) == 0 {
		return ring, uint32(points)
	}
	order := make([]int, len(nodes))
	total := 0
	for i := range nodes {
		order[i] = i
		total += nodes[i].weight
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := &nodes[order[x]], &nodes[order[y]]
		if a.host != b.host {
			return a.host < b.host
		}
		if a.a.port != b.a.port {
			return a.a.port < b.a.port
		}
		return a.a.ip+":"+strconv.Itoa(a.a.port) < b.a.ip+":"+strconv.Itoa(b.a.port)
	})
	for _, ni := range order {
		n := &nodes[ni]
		entries := int(math.Floor(float64(n.weight) / float64(total) * float64(targetCount) * serverPoints))
		if entries == 0 {
			entries = 1
		}
		prefix := n.a.ip + "::" + strconv.Itoa(n.a.port) + " "
		for i := 1; i <= entries; i++ {
			idx := xxhash32(prefix+strconv.Itoa(i))%uint32(points) + 1
			if ring[idx] < 0 {
				ring[idx] = int32(ni)
			} else {
				entries++ // collision: move the problem forward, as Kong does
			}
			if i >= points {
				break
			}
		}
	}
	return ring, uint32(points)
}
