package router

import "strings"

// bucket indexes the sub-routes of one host class. Sub-routes with plain
// paths sit in the radix tree at each of their prefixes; regex sub-routes
// sit at the literal prefix of each regex (often just "/"); sub-routes
// without paths are in rest. Every list holds ranks (indexes into
// Router.entries) in ascending order, so the first match in a list is that
// list's best candidate.
type bucket struct {
	root node
	rest []int32
}

// node is a radix-tree node. Its key is the concatenation of the prefixes
// from the root down to it.
type node struct {
	prefix   string
	labels   []byte // first byte of each child's prefix
	children []*node
	ranks    []int32
}

func (n *node) child(c byte) *node {
	for i, l := range n.labels {
		if l == c {
			return n.children[i]
		}
	}
	return nil
}

// insert adds rank under key. Ranks arrive in ascending order, so the lists
// stay sorted; a rank already last in the list is not added twice.
func (n *node) insert(key string, rank int32) {
	for {
		if key == "" {
			if k := len(n.ranks); k == 0 || n.ranks[k-1] != rank {
				n.ranks = append(n.ranks, rank)
			}
			return
		}
		i := -1
		for j, l := range n.labels {
			if l == key[0] {
				i = j
				break
			}
		}
		if i < 0 {
			n.labels = append(n.labels, key[0])
			n.children = append(n.children, &node{prefix: key, ranks: []int32{rank}})
			return
		}
		c := n.children[i]
		l := commonPrefixLen(c.prefix, key)
		if l < len(c.prefix) {
			mid := &node{prefix: c.prefix[:l], labels: []byte{c.prefix[l]}, children: []*node{c}}
			c.prefix = c.prefix[l:]
			n.children[i] = mid
			c = mid
		}
		n = c
		key = key[l:]
	}
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// buildIndex fills the host buckets from the sorted entries.
func (r *Router) buildIndex() {
	r.exact = make(map[string]*bucket)
	for i := range r.entries {
		rank := int32(i)
		m := r.entries[i].m
		if exactHostsOnly(m) {
			for _, h := range m.hosts {
				b := r.exact[h.value]
				if b == nil {
					b = &bucket{}
					r.exact[h.value] = b
				}
				b.add(m, rank)
			}
			continue
		}
		r.other.add(m, rank)
	}
}

func exactHostsOnly(m *matcher) bool {
	if len(m.hosts) == 0 {
		return false
	}
	for _, h := range m.hosts {
		if h.kind != hostExact {
			return false
		}
	}
	return true
}

func (b *bucket) add(m *matcher, rank int32) {
	switch {
	case m.plainLen > 0:
		for _, p := range m.plain {
			b.root.insert(p, rank)
		}
	case len(m.regexes) > 0:
		for i := range m.regexes {
			b.root.insert(m.regexes[i].prefix, rank)
		}
	default:
		if k := len(b.rest); k == 0 || b.rest[k-1] != rank {
			b.rest = append(b.rest, rank)
		}
	}
}

// search returns the best rank below best that matches q in b, or best.
func (r *Router) search(b *bucket, q *query, best int) int {
	best = r.scan(b.rest, q, best, false)
	path := q.req.Path
	n := &b.root
	for {
		if len(n.ranks) > 0 && int(n.ranks[0]) < best {
			best = r.scan(n.ranks, q, best, true)
		}
		if path == "" {
			return best
		}
		c := n.child(path[0])
		if c == nil || !strings.HasPrefix(path, c.prefix) {
			return best
		}
		path = path[len(c.prefix):]
		n = c
	}
}

// scan tries the ranks of one list in order; inTree says the path prefix is
// already known to match, so only regex sub-routes check their path.
func (r *Router) scan(ranks []int32, q *query, best int, inTree bool) int {
	for _, rk := range ranks {
		if int(rk) >= best {
			return best
		}
		m := r.entries[rk].m
		if !m.matchesExceptPath(q) {
			continue
		}
		if len(m.regexes) > 0 {
			if !m.matchesRegex(q.req.Path) {
				continue
			}
		} else if !inTree && m.plainLen > 0 && !m.matchesPath(q.req.Path) {
			continue
		}
		return int(rk)
	}
	return best
}
