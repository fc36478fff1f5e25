package proxycache

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"sluice/internal/model"
	"sluice/internal/proxytest"
)

func processed(t testing.TB, cfg string) (map[string]any, error) {
	t.Helper()
	var in map[string]any
	if err := json.Unmarshal([]byte(cfg), &in); err != nil {
		t.Fatal(err)
	}
	rec, serr := Schema.Process(in, nil)
	if serr != nil {
		return nil, serr
	}
	return rec, nil
}

func TestStoreLRU(t *testing.T) {
	s := NewStore(3*(entryOverhead+100+1), 1000, false)
	put := func(k string) { s.Put(k, &Response{Body: make([]byte, 100)}, 0, 0) }
	put("a")
	put("b")
	put("c")
	if s.Get("a", 0) == nil { // a becomes the most recent
		t.Fatal("a missing")
	}
	put("d") // evicts b
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := s.Get(k, 0) != nil; got != want {
			t.Errorf("Get(%s) present %v; want %v", k, got, want)
		}
	}
	if s.Evictions() != 1 {
		t.Errorf("evictions %d; want 1", s.Evictions())
	}
	if s.Put("big", &Response{Body: make([]byte, 2000)}, 0, 0) {
		t.Error("Put of an entry over the maximum size succeeded; want refused")
	}
	put("a") // replace: size unchanged
	if b, n := s.Size(); n != 3 || b != 3*(entryOverhead+100+1) {
		t.Errorf("size %d bytes %d entries; want %d and 3", b, n, 3*(entryOverhead+100+1))
	}
	s.Put("ttl", &Response{}, 10, 100)
	if s.Get("ttl", 110) == nil || s.Get("ttl", 111) != nil {
		t.Error("ttl entry: want present at 110, gone at 111")
	}
	s.Delete("a")
	if s.Get("a", 0) != nil {
		t.Error("deleted entry still present")
	}
	s.Flush()
	if b, n := s.Size(); b != 0 || n != 0 {
		t.Errorf("after Flush: %d bytes %d entries; want 0", b, n)
	}
}

func TestStoreConcurrentBounded(t *testing.T) {
	s := NewStore(50_000, 5_000, false)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprintf("%d-%d", g, i%50)
				s.Put(k, &Response{Body: make([]byte, i%3000), Header: http.Header{"A": {"b"}}}, 0, 0)
				s.Get(fmt.Sprintf("%d-%d", (g+1)%4, i%50), 0)
				if b, _ := s.Size(); b > 50_000 {
					t.Errorf("%d bytes; want at most 50000", b)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s.Evictions() == 0 {
		t.Error("no evictions counted; want some")
	}
}

func TestCacheKeyParts(t *testing.T) {
	tests := []struct {
		raw  string
		vary []string
		want string
	}{
		{"", nil, ""},
		{"b=2&a=1", nil, "a=1:b=2"},
		{"a=2&a=1", nil, "a=1,2"},
		{"flag&a=", nil, "a=:flag"},
		{"a=1&b=2", []string{"b", "c"}, "b=2"},
		{"a%20b=c%2Fd+e", nil, "a b=c/d e"},
		{"a&a=1", nil, "a=1"},
		{"b&a", nil, "a:b"},
		{"b=1&a=3&b=0", []string{"b", "a"}, "b=0,1:a=3"},
	}
	for _, tt := range tests {
		if got := string(appendParams(nil, tt.raw, tt.vary)); got != tt.want {
			t.Errorf("appendParams(%q, %q) = %q; want %q", tt.raw, tt.vary, got, tt.want)
		}
	}
}

func TestParseDirectives(t *testing.T) {
	d := parseDirectives([]string{"Max-Age=60, no-store", "s-maxage=\"x\",private"})
	want := directives{"max-age": "60", "no-store": "", "s-maxage": `"x"`, "private": ""}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("parseDirectives = %v; want %v", d, want)
	}
	if n, ok := d.num("max-age"); !ok || n != 60 {
		t.Errorf("max-age = %d %v; want 60", n, ok)
	}
	if _, ok := d.num("s-maxage"); ok {
		t.Error("non-numeric s-maxage parsed as a number")
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"max-age=1", "no-store, private", ",,=,", "a=b=c", " s-maxage = 5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDirectives([]string{s})
		for k := range d {
			if k != strings.ToLower(k) {
				t.Errorf("directive %q not lower-case", k)
			}
		}
		resourceTTL(d, http.Header{})
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b", "&&=&a=%zz", "a=1&a=2&a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		appendParams(nil, s, nil)
		appendParams(nil, s, []string{"a"})
	})
}

func FuzzParseMime(f *testing.F) {
	for _, s := range []string{"text/plain", "application/json; charset=utf-8", "*/*", ";;/", "a/b;c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, ok := parseMime(s); ok && !m.matches(m) {
			t.Errorf("%q does not match itself", s)
		}
	})
}

var _ = model.TypeString

// TestStoreFillBounded fills a store ten times past its byte cap, once with
// large bodies and once with many tiny responses (where bookkeeping, not
// bodies, dominates), and checks that the accounted size stays at the cap
// and that the heap after GC stays within a generous multiple of it: the
// accounting stands for the memory really held.
func TestStoreFillBounded(t *testing.T) {
	const capacity = 8 << 20
	heap := proxytest.HeapInuse
	for _, tt := range []struct {
		name string
		body int
	}{
		{"large bodies", 60 << 10},
		{"tiny responses", 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := heap()
			s := NewStore(capacity, DefaultMaxEntry, false)
			var put int64
			for i := 0; put < 10*capacity; i++ {
				r := &Response{Status: 200, Body: make([]byte, tt.body), Timestamp: 1, TTL: 300,
					Header: http.Header{"Content-Type": {"application/json"}, "Date": {"Mon, 02 Jan 2006 15:04:05 GMT"},
						"X-Request-Id": {fmt.Sprintf("%032d", i)}}}
				key := fmt.Sprintf("kong_db_cache:%064d", i)
				put += entrySize(key, r)
				if !s.Put(key, r, 0, 0) {
					t.Fatalf("entry %d refused", i)
				}
				if b, _ := s.Size(); b > capacity {
					t.Fatalf("after %d entries: %d bytes; cap %d", i+1, b, capacity)
				}
			}
			b, n := s.Size()
			if b < capacity*9/10 {
				t.Errorf("store holds %d bytes; want it full (cap %d)", b, capacity)
			}
			if s.Evictions() == 0 {
				t.Error("no evictions")
			}
			after := heap()
			limit := uint64(capacity + capacity/2 + 4<<20)
			if after > before && after-before > limit {
				t.Errorf("%d entries, %d accounted bytes: HeapInuse grew by %d MiB; want at most %d MiB",
					n, b, (after-before)>>20, limit>>20)
			}
			t.Logf("%d entries, %d accounted bytes, HeapInuse +%d KiB", n, b, (int64(after)-int64(before))>>10)
			runtime.KeepAlive(s)
		})
	}
}
