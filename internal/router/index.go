package router

import (
	"maps"
	"slices"
	"strings"
)

// The index finds the candidate sub-routes of a request without scanning
// all of them. Sub-routes are filed under each of their hosts: plain hosts
// in exact, "*.x" hosts in suffix (key ".x"), "x.*" hosts in prefix (key
// "x."); sub-routes without hosts (or with a wildcard that has no dot
// boundary) in any. Inside a bucket, sub-routes with plain paths sit in a
// radix tree at each of their prefixes, regex sub-routes at the literal
// prefix of each regex (often just "/"), and sub-routes without paths in
// rest. Every list is ordered best first (priority, then tie key), so the
// first match in a list is that list's best candidate and a list is left as
// soon as its next candidate cannot beat the best match found so far.
//
// The structure is persistent: a Build that starts from a previous router
// copies only the buckets and tree nodes on the way to what changed (nodes
// carry the token of the build that owns them and may be changed in place
// only by that build), so one changed route costs a few node copies and
// nothing already published is ever modified.

// token identifies the build that owns (may modify) an index part.
type token struct{ _ byte }

type index struct {
	tk     *token
	exact  map[string]*bucket
	suffix map[string]*bucket
	prefix map[string]*bucket
	any    *bucket
	// owned* record whether this build already cloned the map.
	ownedExact, ownedSuffix, ownedPrefix bool
}

type bucket struct {
	tk   *token
	root *node
	rest []*matcher
}

type node struct {
	tk       *token
	prefix   string
	labels   []byte // first byte of each child's prefix
	children []*node
	list     []*matcher
}

// better reports whether a wins over b in Kong's order.
func better(a, b *matcher) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.tie > b.tie
}

func newIndex(tk *token) *index {
	return &index{tk: tk, exact: map[string]*bucket{}, suffix: map[string]*bucket{}, prefix: map[string]*bucket{},
		any: &bucket{tk: tk, root: &node{tk: tk}}, ownedExact: true, ownedSuffix: true, ownedPrefix: true}
}

// derive starts a new build's index from a published one.
func (ix *index) derive(tk *token) *index {
	return &index{tk: tk, exact: ix.exact, suffix: ix.suffix, prefix: ix.prefix, any: ix.any}
}

// bucketFor returns the bucket for a host class, owned by this build,
// creating it when create is set; nil when it does not exist and create is
// not set.
func (ix *index) bucketFor(kind hostKind, key string, anyHost bool, create bool) *bucket {
	if anyHost {
		ix.any = ix.any.mut(ix.tk)
		return ix.any
	}
	var m *map[string]*bucket
	var owned *bool
	switch kind {
	case hostSuffix:
		m, owned = &ix.suffix, &ix.ownedSuffix
	case hostPrefix:
		m, owned = &ix.prefix, &ix.ownedPrefix
	default:
		m, owned = &ix.exact, &ix.ownedExact
	}
	b := (*m)[key]
	if b == nil && !create {
		return nil
	}
	if !*owned {
		*m = maps.Clone(*m)
		*owned = true
	}
	if b == nil {
		b = &bucket{tk: ix.tk, root: &node{tk: ix.tk}}
	} else {
		b = b.mut(ix.tk)
	}
	(*m)[key] = b
	return b
}

// hostKeys calls f for each bucket a matcher is filed under.
func hostKeys(m *matcher, f func(kind hostKind, key string, anyHost bool)) {
	if len(m.hosts) == 0 {
		f(0, "", true)
		return
	}
	for _, h := range m.hosts {
		switch {
		case h.kind == hostSuffix && !strings.HasPrefix(h.value, "."),
			h.kind == hostPrefix && !strings.HasSuffix(h.value, "."):
			f(0, "", true) // no dot boundary to look it up by
		default:
			f(h.kind, h.value, false)
		}
	}
}

// pathKeys calls f for each tree key of a matcher; inRest when it has no
// paths.
func pathKeys(m *matcher, f func(key string, inRest bool)) {
	switch {
	case m.plainLen > 0:
		for _, p := range m.plain {
			f(p, false)
		}
	case len(m.regexes) > 0:
		for i := range m.regexes {
			f(m.regexes[i].prefix, false)
		}
	default:
		f("", true)
	}
}

func (ix *index) insert(m *matcher) {
	hostKeys(m, func(kind hostKind, key string, anyHost bool) {
		b := ix.bucketFor(kind, key, anyHost, true)
		pathKeys(m, func(p string, inRest bool) {
			if inRest {
				b.rest = insertSorted(b.rest, m)
				return
			}
			b.root = b.root.insert(ix.tk, p, m)
		})
	})
}

func (ix *index) remove(m *matcher) {
	hostKeys(m, func(kind hostKind, key string, anyHost bool) {
		b := ix.bucketFor(kind, key, anyHost, false)
		if b == nil {
			return
		}
		pathKeys(m, func(p string, inRest bool) {
			if inRest {
				b.rest = removeFrom(b.rest, m)
				return
			}
			b.root = b.root.remove(ix.tk, p, m)
		})
		if !anyHost && b.empty() {
			switch kind { // bucketFor made the map this build's own
			case hostSuffix:
				delete(ix.suffix, key)
			case hostPrefix:
				delete(ix.prefix, key)
			default:
				delete(ix.exact, key)
			}
		}
	})
}

// size counts the index's buckets and tree nodes.
func (ix *index) size() (buckets, nodes int) {
	var count func(n *node)
	count = func(n *node) {
		nodes++
		for _, c := range n.children {
			count(c)
		}
	}
	for _, m := range []map[string]*bucket{ix.exact, ix.suffix, ix.prefix} {
		for _, b := range m {
			buckets++
			count(b.root)
		}
	}
	buckets++
	count(ix.any.root)
	return buckets, nodes
}

// mut returns b itself when tk owns it, else a copy owned by tk.
func (b *bucket) mut(tk *token) *bucket {
	if b.tk == tk {
		return b
	}
	return &bucket{tk: tk, root: b.root, rest: slices.Clone(b.rest)}
}

func (n *node) mut(tk *token) *node {
	if n.tk == tk {
		return n
	}
	return &node{tk: tk, prefix: n.prefix, labels: slices.Clone(n.labels),
		children: slices.Clone(n.children), list: slices.Clone(n.list)}
}

// insertSorted inserts m into a best-first list (the list is owned).
func insertSorted(list []*matcher, m *matcher) []*matcher {
	if k := len(list); k == 0 || better(list[k-1], m) {
		if k > 0 && list[k-1] == m {
			return list
		}
		return append(list, m)
	}
	i, _ := slices.BinarySearchFunc(list, m, func(e, t *matcher) int {
		if e == t {
			return 0
		}
		if better(e, t) {
			return -1
		}
		return 1
	})
	if i < len(list) && list[i] == m {
		return list
	}
	return slices.Insert(list, i, m)
}

func removeFrom(list []*matcher, m *matcher) []*matcher {
	if i := slices.Index(list, m); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

func (n *node) childIndex(c byte) int {
	for i, l := range n.labels {
		if l == c {
			return i
		}
	}
	return -1
}

func (n *node) child(c byte) *node {
	for i, l := range n.labels {
		if l == c {
			return n.children[i]
		}
	}
	return nil
}

// insert files m under key below n and returns the node that replaces n.
func (n *node) insert(tk *token, key string, m *matcher) *node {
	n = n.mut(tk)
	if key == "" {
		n.list = insertSorted(n.list, m)
		return n
	}
	i := n.childIndex(key[0])
	if i < 0 {
		n.labels = append(n.labels, key[0])
		n.children = append(n.children, &node{tk: tk, prefix: key, list: []*matcher{m}})
		return n
	}
	c := n.children[i]
	l := commonPrefixLen(c.prefix, key)
	if full := c.prefix; l < len(full) {
		tail := c.mut(tk)
		tail.prefix = full[l:]
		c = &node{tk: tk, prefix: full[:l], labels: []byte{full[l]}, children: []*node{tail}}
	}
	n.children[i] = c.insert(tk, key[l:], m)
	return n
}

// remove takes m out of the list at key below n and returns the node that
// replaces n (n itself when m is not filed at key).
func (n *node) remove(tk *token, key string, m *matcher) *node {
	out, _ := n.removeKey(tk, key, m)
	return out
}

func (n *node) removeKey(tk *token, key string, m *matcher) (*node, bool) {
	if key == "" {
		if !slices.Contains(n.list, m) {
			return n, false
		}
		n = n.mut(tk)
		n.list = removeFrom(n.list, m)
		return n, true
	}
	i := n.childIndex(key[0])
	if i < 0 {
		return n, false
	}
	c := n.children[i]
	if !strings.HasPrefix(key, c.prefix) {
		return n, false
	}
	nc, changed := c.removeKey(tk, key[len(c.prefix):], m)
	if !changed {
		return n, false
	}
	n = n.mut(tk)
	if len(nc.list) == 0 && len(nc.children) == 0 {
		// Drop emptied nodes so the tree stays the size of the live routes.
		n.labels = slices.Delete(n.labels, i, i+1)
		n.children = slices.Delete(n.children, i, i+1)
		return n, true
	}
	n.children[i] = nc
	return n, true
}

func (b *bucket) empty() bool {
	return len(b.rest) == 0 && len(b.root.list) == 0 && len(b.root.children) == 0
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

// search returns the best matcher in b that matches q and beats best (nil:
// nothing yet), or best.
func (b *bucket) search(q *query, best *matcher) *matcher {
	best = scanList(b.rest, q, best, false)
	path := q.req.Path
	n := b.root
	for {
		if len(n.list) > 0 && (best == nil || better(n.list[0], best)) {
			best = scanList(n.list, q, best, true)
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

// scanList tries a best-first list in order; inTree says the path prefix is
// already known to match, so only regex sub-routes check their path.
func scanList(list []*matcher, q *query, best *matcher, inTree bool) *matcher {
	for _, m := range list {
		if best != nil && !better(m, best) {
			return best
		}
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
		return m
	}
	return best
}
