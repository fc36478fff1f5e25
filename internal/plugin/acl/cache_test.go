package acl

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// TestGroupsCacheBounded sends requests of ten times more multi-group
// consumers than the X-Consumer-Groups cache holds and checks that it stays
// at its caps, that its gauges say so, that every header is right, and that
// the heap after GC stays within a generous bound.
func TestGroupsCacheBounded(t *testing.T) {
	shared.flush()
	t.Cleanup(shared.flush)
	const consumers = 10 * CacheSize
	groups := make(map[string][]string, consumers)
	pad := strings.Repeat("g", 200)
	for i := range consumers {
		groups["c"+strconv.Itoa(i)] = []string{"allowed", fmt.Sprintf("team-%d-%s", i, pad)}
	}
	rec, _ := Schema.Process(map[string]any{"allow": []any{"allowed"}}, nil)
	impl, err := New(rec, plugin.Deps{Entities: ents{groups: groups}})
	if err != nil {
		t.Fatal(err)
	}
	a := impl.(*ACL)
	heap := proxytest.HeapInuse
	before := heap()
	for i := range consumers {
		id := "c" + strconv.Itoa(i)
		r := httptest.NewRequest("GET", "/", nil)
		c := &plugin.Ctx{Request: r, Consumer: &model.Consumer{ID: id}, Credential: "k"}
		a.Access(c)
		if c.Exited() != nil {
			t.Fatalf("%s: %+v", id, c.Exited())
		}
		if got, want := r.Header.Get(HeaderConsumerGroups), "allowed, "+groups[id][1]; got != want {
			t.Fatalf("%s: X-Consumer-Groups %q; want %q", id, got, want)
		}
		if n, b := shared.size(); n > CacheSize || b > CacheBytes {
			t.Fatalf("after %d consumers: %d entries, %d bytes; caps %d, %d", i+1, n, b, CacheSize, CacheBytes)
		}
	}
	n, b := shared.size()
	if n < CacheSize/4 {
		t.Errorf("cache holds %d entries; want it used (cap %d)", n, CacheSize)
	}
	if got := proxytest.Gauge(t, "sluice_acl_groups_cache_entries"); got != float64(n) {
		t.Errorf("sluice_acl_groups_cache_entries = %v; want %d", got, n)
	}
	if got := proxytest.Gauge(t, "sluice_acl_groups_cache_bytes"); got != float64(b) {
		t.Errorf("sluice_acl_groups_cache_bytes = %v; want %d", got, b)
	}
	if after := heap(); after > before+4*CacheBytes+8<<20 {
		t.Errorf("HeapInuse grew by %d MiB; want at most %d MiB", (after-before)>>20, (4*CacheBytes+8<<20)>>20)
	}
	runtime.KeepAlive(groups)
}

// TestGroupsCacheFollowsConfig: a consumer's new groups (a new snapshot's
// slice) are never answered from the value cached for the old ones.
func TestGroupsCacheFollowsConfig(t *testing.T) {
	shared.flush()
	t.Cleanup(shared.flush)
	old := []string{"a", "b"}
	if v := shared.value("c1", old); v != "a, b" {
		t.Fatalf("value = %q", v)
	}
	if v := shared.value("c1", old); v != "a, b" {
		t.Fatalf("cached value = %q", v)
	}
	if v := shared.value("c1", []string{"a", "c"}); v != "a, c" {
		t.Fatalf("value after a change = %q; want %q", v, "a, c")
	}
	if n, _ := shared.size(); n != 1 {
		t.Errorf("%d entries; want 1 (replaced)", n)
	}
	long := []string{strings.Repeat("x", MaxCachedValue), "y"}
	shared.value("c2", long)
	if n, _ := shared.size(); n != 1 {
		t.Errorf("%d entries after an over-long value; want it not cached", n)
	}
}
