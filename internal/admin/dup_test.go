package admin

import "testing"

// TestCacheKeyClashes checks the 409s of entities unique by a composite key.
func TestCacheKeyClashes(t *testing.T) {
	c := newServer(t, nil)
	c.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	// Stored as 10.0.0.1:8000: a second POST of "10.0.0.1" matches no
	// stored target by text, so it creates, and clashes (a POST of the
	// stored text updates instead: see TestKongSpecTargetEndpoints).
	c.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": "10.0.0.1"})
	c.must(201, "POST", "/consumers", map[string]any{"username": "c"})
	c.must(201, "POST", "/consumers/c/acls", map[string]any{"group": "g"})
	c.must(201, "POST", "/services", map[string]any{"name": "s", "host": "a.com"})
	c.must(201, "POST", "/services/s/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 1}})
	tests := []struct {
		path, entity string
		body         map[string]any
	}{
		{"/upstreams/u/targets", "targets", map[string]any{"target": "10.0.0.1"}},
		{"/consumers/c/acls", "acls", map[string]any{"group": "g"}},
		{"/services/s/plugins", "plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 2}}},
	}
	for _, tt := range tests {
		before := c.count(tt.entity)
		r := c.do("POST", tt.path, tt.body)
		if r.status != 409 || r.json(t)["code"] != 5.0 {
			t.Errorf("POST %s twice: got %d %s; want 409 code 5", tt.path, r.status, r.raw)
		}
		if n := c.count(tt.entity); n != before {
			t.Errorf("store holds %d %s; want %d", n, tt.entity, before)
		}
	}
}

// TestConcurrentCreates races creations of one name: exactly one wins.
func TestConcurrentCreates(t *testing.T) {
	c := newServer(t, nil)
	const n = 8
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			r := c.do("POST", "/services", map[string]any{"name": "same", "host": "a.com"})
			codes <- r.status
		}()
	}
	created, conflicts := 0, 0
	for i := 0; i < n; i++ {
		switch code := <-codes; code {
		case 201:
			created++
		case 409:
			conflicts++
		default:
			t.Errorf("concurrent create answered %d", code)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Errorf("%d created, %d conflicts; want 1 and %d", created, conflicts, n-1)
	}
	if got := c.count("services"); got != 1 {
		t.Errorf("store holds %d services; want 1", got)
	}
}
