package proxycache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"sluice/internal/proxytest"
)

// upstream answers with a body that changes on every request it sees, so a
// cached answer is recognisable: "<path> #<n>".
type upstream struct{ n atomic.Int64 }

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := u.n.Add(1)
	q := r.URL.Query()
	ct := "application/json"
	if v := q.Get("ct"); v != "" {
		ct = v
	}
	w.Header().Set("Content-Type", ct)
	if v := q.Get("cc"); v != "" {
		w.Header().Set("Cache-Control", v)
	}
	status := 200
	if v := q.Get("status"); v != "" {
		status, _ = strconv.Atoi(v)
	}
	w.WriteHeader(status)
	if q.Get("empty") != "" {
		return
	}
	if v := q.Get("size"); v != "" {
		size, _ := strconv.Atoi(v)
		fmt.Fprintf(w, "%d:%s", n, strings.Repeat("x", size))
		return
	}
	fmt.Fprintf(w, "%s #%d", r.URL.Path, n)
}

// clock replaces the plugin's clock for the test.
func clock(t *testing.T) *int64 {
	t.Helper()
	cur := int64(1_700_000_000)
	old := now
	now = func() int64 { return atomic.LoadInt64(&cur) }
	t.Cleanup(func() { now = old })
	return &cur
}

func gateway(t *testing.T, cfg string) (*proxytest.Gateway, *upstream) {
	t.Helper()
	shared.Flush()
	t.Cleanup(shared.Flush)
	up := &upstream{}
	return proxytest.New(t, up, map[string]string{Name: cfg}), up
}

type step struct {
	method, path string
	hdr          map[string]string
	status       string // X-Cache-Status
	body         string // "" to skip
	sameKeyAs    int    // index of an earlier step with the same X-Cache-Key, or -1
	otherKeyAs   int    // index of an earlier step with another key, or -1
	advance      int64  // seconds to move the clock before the step
}

func run(t *testing.T, cfg string, steps []step) {
	t.Helper()
	cur := clock(t)
	g, _ := gateway(t, cfg)
	keys := make([]string, len(steps))
	for i, s := range steps {
		atomic.AddInt64(cur, s.advance)
		res, body := g.Do(t, s.method, s.path, s.hdr, "")
		keys[i] = res.Header.Get("X-Cache-Key")
		if got := res.Header.Get("X-Cache-Status"); got != s.status {
			t.Errorf("step %d %s %s: X-Cache-Status %q; want %q", i, s.method, s.path, got, s.status)
		}
		if s.body != "" && body != s.body {
			t.Errorf("step %d %s %s: body %q; want %q", i, s.method, s.path, body, s.body)
		}
		if s.sameKeyAs >= 0 && keys[i] != keys[s.sameKeyAs] {
			t.Errorf("step %d: X-Cache-Key %q; want %q as step %d", i, keys[i], keys[s.sameKeyAs], s.sameKeyAs)
		}
		if s.otherKeyAs >= 0 && (keys[i] == keys[s.otherKeyAs] || keys[i] == "") {
			t.Errorf("step %d: X-Cache-Key %q; want a key other than step %d's", i, keys[i], s.otherKeyAs)
		}
	}
}

func TestThroughProxy(t *testing.T) {
	const mem = `"strategy":"memory"`
	tests := []struct {
		name  string
		cfg   string
		steps []step
	}{
		{"miss then hit", `{` + mem + `}`, []step{
			{"GET", "/a", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a", nil, "Hit", "/a #1", 0, -1, 0},
			{"GET", "/b", nil, "Miss", "/b #2", -1, 0, 0},
			{"HEAD", "/a", nil, "Miss", "", -1, 0, 0},
			{"HEAD", "/a", nil, "Hit", "", 3, -1, 0},
			{"GET", "/a", nil, "Hit", "/a #1", 0, -1, 0},
		}},
		{"empty body", `{` + mem + `}`, []step{
			{"GET", "/a?empty=1", nil, "Miss", "", -1, -1, 0},
			{"GET", "/a?empty=1", nil, "Hit", "", 0, -1, 0},
		}},
		{"post bypasses", `{` + mem + `}`, []step{
			{"POST", "/a", nil, "Bypass", "/a #1", -1, -1, 0},
			{"POST", "/a", nil, "Bypass", "/a #2", -1, -1, 0},
		}},
		{"content type not cacheable", `{` + mem + `}`, []step{
			{"GET", "/a?ct=text/html", nil, "Bypass", "/a #1", -1, -1, 0},
			{"GET", "/a?ct=text/html", nil, "Bypass", "/a #2", 0, -1, 0},
		}},
		{"content type with charset is not text/plain", `{` + mem + `}`, []step{
			{"GET", "/a?ct=text/plain%3B+charset=utf-8", nil, "Bypass", "/a #1", -1, -1, 0},
		}},
		{"configured content type with params", `{` + mem + `,"content_type":["text/plain; charset=utf-8"]}`, []step{
			{"GET", "/a?ct=text/plain%3B+charset=utf-8", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a?ct=text/plain%3B+charset=utf-8", nil, "Hit", "/a #1", 0, -1, 0},
		}},
		{"status not cacheable", `{` + mem + `}`, []step{
			{"GET", "/a?status=500", nil, "Bypass", "/a #1", -1, -1, 0},
			{"GET", "/a?status=500", nil, "Bypass", "/a #2", -1, -1, 0},
			{"GET", "/a?status=404", nil, "Miss", "/a #3", -1, -1, 0},
			{"GET", "/a?status=404", nil, "Hit", "/a #3", -1, -1, 0},
		}},
		{"all query params vary by default", `{` + mem + `}`, []step{
			{"GET", "/a?x=1&y=2", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a?y=2&x=1", nil, "Hit", "/a #1", 0, -1, 0},
			{"GET", "/a?x=1&y=3", nil, "Miss", "/a #2", -1, 0, 0},
		}},
		{"vary_query_params", `{` + mem + `,"vary_query_params":["x"]}`, []step{
			{"GET", "/a?x=1&y=2", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a?x=1&y=3", nil, "Hit", "/a #1", 0, -1, 0},
			{"GET", "/a?x=2&y=2", nil, "Miss", "/a #2", -1, 0, 0},
		}},
		{"vary_headers", `{` + mem + `,"vary_headers":["X-Lang"]}`, []step{
			{"GET", "/a", map[string]string{"X-Lang": "fr"}, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a", map[string]string{"X-Lang": "fr", "X-Other": "1"}, "Hit", "/a #1", 0, -1, 0},
			{"GET", "/a", map[string]string{"X-Lang": "de"}, "Miss", "/a #2", -1, 0, 0},
			{"GET", "/a", nil, "Miss", "/a #3", -1, 0, 0},
		}},
		{"headers do not vary by default", `{` + mem + `}`, []step{
			{"GET", "/a", map[string]string{"X-Lang": "fr"}, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a", map[string]string{"X-Lang": "de"}, "Hit", "/a #1", 0, -1, 0},
		}},
		{"uri case", `{` + mem + `}`, []step{
			{"GET", "/a", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/A", nil, "Miss", "/A #2", -1, 0, 0},
		}},
		{"ignore_uri_case", `{` + mem + `,"ignore_uri_case":true}`, []step{
			{"GET", "/a", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/A", nil, "Hit", "/a #1", 0, -1, 0},
		}},
		{"cache_ttl expiry", `{` + mem + `,"cache_ttl":10}`, []step{
			{"GET", "/a", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a", nil, "Hit", "/a #1", 0, -1, 10},
			{"GET", "/a", nil, "Miss", "/a #2", 0, -1, 1}, // storage TTL passed: gone
			{"GET", "/a", nil, "Hit", "/a #2", 0, -1, 0},
		}},
		{"storage_ttl longer than cache_ttl refreshes", `{` + mem + `,"cache_ttl":10,"storage_ttl":100}`, []step{
			{"GET", "/a", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a", nil, "Refresh", "/a #2", 0, -1, 11},
			{"GET", "/a", nil, "Hit", "/a #2", 0, -1, 0},
		}},
		{"cache_control no-store request", `{` + mem + `,"cache_control":true}`, []step{
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "no-store"}, "Bypass", "/a #1", -1, -1, 0},
			{"GET", "/a?cc=max-age=60", nil, "Miss", "/a #2", -1, -1, 0},
			{"GET", "/a?cc=max-age=60", nil, "Hit", "/a #2", 1, -1, 0},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "no-cache"}, "Bypass", "/a #3", -1, -1, 0},
			{"GET", "/a?cc=max-age=60", map[string]string{"Authorization": "x"}, "Bypass", "/a #4", -1, -1, 0},
		}},
		{"cache_control response directives", `{` + mem + `,"cache_control":true}`, []step{
			{"GET", "/a?cc=no-store,max-age=60", nil, "Bypass", "/a #1", -1, -1, 0},
			{"GET", "/a?cc=private,max-age=60", nil, "Bypass", "/a #2", -1, -1, 0},
			{"GET", "/a?cc=public", nil, "Bypass", "/a #3", -1, -1, 0}, // no TTL
			{"GET", "/a?cc=max-age=0", nil, "Bypass", "/a #4", -1, -1, 0},
			{"GET", "/b?cc=max-age=5,s-maxage=20", nil, "Miss", "/b #5", -1, -1, 0},
			{"GET", "/b?cc=max-age=5,s-maxage=20", nil, "Hit", "/b #5", 4, -1, 19},
			{"GET", "/b?cc=max-age=5,s-maxage=20", nil, "Miss", "/b #6", 4, -1, 2},
		}},
		{"cache_control request max-age, min-fresh, max-stale", `{` + mem + `,"cache_control":true,"storage_ttl":1000}`, []step{
			{"GET", "/a?cc=max-age=60", nil, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "max-age=5"}, "Hit", "/a #1", 0, -1, 5},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "max-age=5"}, "Refresh", "/a #2", 0, -1, 1},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "min-fresh=59"}, "Hit", "/a #2", 0, -1, 0},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "min-fresh=59"}, "Refresh", "/a #3", 0, -1, 2},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "max-stale=1"}, "Hit", "/a #3", 0, -1, 61},
			{"GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "max-stale=0"}, "Refresh", "/a #4", 0, -1, 0},
		}},
		{"cache_control off ignores directives", `{` + mem + `}`, []step{
			{"GET", "/a?cc=no-store", map[string]string{"Cache-Control": "no-store"}, "Miss", "/a #1", -1, -1, 0},
			{"GET", "/a?cc=no-store", nil, "Hit", "/a #1", 0, -1, 0},
		}},
		{"request_method POST", `{` + mem + `,"request_method":["POST"]}`, []step{
			{"GET", "/a", nil, "Bypass", "/a #1", -1, -1, 0},
			{"POST", "/a", nil, "Miss", "/a #2", -1, -1, 0},
			{"POST", "/a", nil, "Hit", "/a #2", 1, -1, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.cfg, tt.steps) })
	}
}

// TestKeyFormat checks X-Cache-Key against Kong's formula computed here:
// sha256_hex("<route id>|<method>|<path>|<params>|<headers>").
func TestKeyFormat(t *testing.T) {
	clock(t)
	g, _ := gateway(t, `{"strategy":"memory","vary_headers":["X-B","X-A"]}`)
	const route = "00000000-0000-4000-8000-000000000002"
	tests := []struct {
		path string
		hdr  map[string]string
		in   string
	}{
		{"/a", nil, route + "|GET|/a||"},
		{"/a/b?y=2&x=1&f", nil, route + "|GET|/a/b|f:x=1:y=2|"},
		{"/a", map[string]string{"X-A": "1", "X-B": "2"}, route + "|GET|/a||X-B=2:X-A=1"},
		{"/a", map[string]string{"X-A": "1"}, route + "|GET|/a||X-A=1"},
	}
	for _, tt := range tests {
		res, _ := g.Do(t, "GET", tt.path, tt.hdr, "")
		sum := sha256.Sum256([]byte(tt.in))
		if got, want := res.Header.Get("X-Cache-Key"), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("GET %s %v: X-Cache-Key %s; want sha256(%q) = %s", tt.path, tt.hdr, got, tt.in, want)
		}
	}
}

func TestOnlyIfCached(t *testing.T) {
	clock(t)
	g, up := gateway(t, `{"strategy":"memory","cache_control":true}`)
	res, body := g.Do(t, "GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "only-if-cached"}, "")
	if res.StatusCode != 504 || body != "" || up.n.Load() != 0 {
		t.Errorf("only-if-cached miss: %d %q with %d upstream requests; want 504, empty body, none", res.StatusCode, body, up.n.Load())
	}
	g.Do(t, "GET", "/a?cc=max-age=60", nil, "")
	res, body = g.Do(t, "GET", "/a?cc=max-age=60", map[string]string{"Cache-Control": "only-if-cached"}, "")
	if res.StatusCode != 200 || body != "/a #1" || res.Header.Get("X-Cache-Status") != "Hit" {
		t.Errorf("only-if-cached hit: %d %q %q; want 200 \"/a #1\" Hit", res.StatusCode, body, res.Header.Get("X-Cache-Status"))
	}
}

func TestHitHeaders(t *testing.T) {
	cur := clock(t)
	g, up := gateway(t, `{"strategy":"memory"}`)
	res1, body1 := g.Do(t, "GET", "/h", nil, "")
	*cur += 7
	res2, body2 := g.Do(t, "GET", "/h", nil, "")
	if body1 != body2 || up.n.Load() != 1 {
		t.Fatalf("second body %q after %q with %d upstream requests; want the cached body and 1 request", body2, body1, up.n.Load())
	}
	if got := res2.Header.Get("Age"); got != "7" {
		t.Errorf("Age %q; want 7", got)
	}
	if got := res1.Header.Get("Age"); got != "" {
		t.Errorf("Age on a miss %q; want none", got)
	}
	key := res1.Header.Get("X-Cache-Key")
	if len(key) != 64 || res2.Header.Get("X-Cache-Key") != key {
		t.Errorf("X-Cache-Key %q then %q; want the same 64 hex digits", key, res2.Header.Get("X-Cache-Key"))
	}
	if got := res2.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q; want application/json", got)
	}
	if got := res2.Header.Get("Content-Length"); got != strconv.Itoa(len(body2)) {
		t.Errorf("Content-Length %q; want %d", got, len(body2))
	}
	if got := res2.Header.Values("X-Cache-Status"); len(got) != 1 || got[0] != "Hit" {
		t.Errorf("X-Cache-Status %q; want exactly [Hit]", got)
	}
	b, n := shared.Size()
	if n != 1 || metricEntries.With().Value() != 1 || metricBytes.With().Value() != float64(b) || metricCapacity.With().Value() != DefaultCapacity {
		t.Errorf("metrics entries %v bytes %v capacity %v; want 1, %d, %d", metricEntries.With().Value(), metricBytes.With().Value(),
			metricCapacity.With().Value(), b, DefaultCapacity)
	}
}

func TestResponseHeadersOff(t *testing.T) {
	clock(t)
	g, _ := gateway(t, `{"strategy":"memory","response_headers":{"age":false,"X-Cache-Status":false,"X-Cache-Key":false}}`)
	for i := range 2 {
		res, _ := g.Do(t, "GET", "/a", nil, "")
		for _, h := range []string{"Age", "X-Cache-Status", "X-Cache-Key"} {
			if v := res.Header.Get(h); v != "" {
				t.Errorf("request %d: %s %q; want none", i, h, v)
			}
		}
	}
	res, _ := g.Do(t, "GET", "/a", map[string]string{"Kong-Debug": "1"}, "")
	if res.Header.Get("X-Cache-Status") != "Hit" || res.Header.Get("X-Cache-Key") == "" || res.Header.Get("Age") == "" {
		t.Errorf("with Kong-Debug: headers %v; want Age, X-Cache-Status Hit and X-Cache-Key", res.Header)
	}
}

func TestLargeBodyNotStored(t *testing.T) {
	clock(t)
	g, _ := gateway(t, `{"strategy":"memory"}`)
	path := "/big?size=" + strconv.Itoa(DefaultMaxEntry+10)
	for i, want := range []string{"1:", "2:"} {
		res, body := g.Do(t, "GET", path, nil, "")
		if !strings.HasPrefix(body, want) || len(body) != len(want)+DefaultMaxEntry+10 {
			t.Errorf("request %d: body of %d bytes starting %q; want %d bytes from a fresh upstream response %q", i, len(body), body[:min(4, len(body))], len(want)+DefaultMaxEntry+10, want)
		}
		if got := res.Header.Get("X-Cache-Status"); got != "Miss" {
			t.Errorf("request %d: X-Cache-Status %q; want Miss (too large to store)", i, got)
		}
	}
}

// TestStoreBoundedThroughProxy fills the shared store past its cap through
// the proxy and checks that it stays under the cap and counts evictions.
func TestStoreBoundedThroughProxy(t *testing.T) {
	clock(t)
	old := shared
	shared = NewStore(64<<10, 16<<10, false)
	t.Cleanup(func() { shared = old })
	g, _ := gateway(t, `{"strategy":"memory"}`)
	for i := range 40 {
		res, _ := g.Do(t, "GET", fmt.Sprintf("/p%d?size=4000", i), nil, "")
		if res.Header.Get("X-Cache-Status") != "Miss" {
			t.Fatalf("request %d: X-Cache-Status %q; want Miss", i, res.Header.Get("X-Cache-Status"))
		}
		if b, _ := shared.Size(); b > shared.Capacity() {
			t.Fatalf("after %d responses: %d bytes stored; want at most %d", i+1, b, shared.Capacity())
		}
	}
	b, n := shared.Size()
	if shared.Evictions() == 0 || n+int(shared.Evictions()) != 40 || b < shared.Capacity()/2 {
		t.Errorf("%d bytes in %d entries with %d evictions; want 40 stored in all, evictions counted, store well used", b, n, shared.Evictions())
	}
	// The most recent is still served, the first was evicted.
	if res, _ := g.Do(t, "GET", "/p39?size=4000", nil, ""); res.Header.Get("X-Cache-Status") != "Hit" {
		t.Errorf("newest: X-Cache-Status %q; want Hit", res.Header.Get("X-Cache-Status"))
	}
	if res, _ := g.Do(t, "GET", "/p0?size=4000", nil, ""); res.Header.Get("X-Cache-Status") != "Miss" {
		t.Errorf("oldest: X-Cache-Status %q; want Miss", res.Header.Get("X-Cache-Status"))
	}
}

func TestSchema(t *testing.T) {
	tests := []struct {
		cfg  string
		fail bool
	}{
		{`{"strategy":"memory"}`, false},
		{`{}`, true},
		{`{"strategy":"redis"}`, true},
		{`{"strategy":"memory","cache_ttl":0}`, true},
		{`{"strategy":"memory","response_code":[]}`, true},
		{`{"strategy":"memory","response_code":[99]}`, true},
		{`{"strategy":"memory","request_method":["DELETE"]}`, true},
		{`{"strategy":"memory","memory":{"dictionary_name":"nope"}}`, true},
		{`{"strategy":"memory","unknown":1}`, true},
	}
	for _, tt := range tests {
		_, err := processed(t, tt.cfg)
		if (err != nil) != tt.fail {
			t.Errorf("Process(%s): error %v; want failure %v", tt.cfg, err, tt.fail)
		}
	}
	rec, err := processed(t, `{"strategy":"memory"}`)
	if err != nil {
		t.Fatal(err)
	}
	c := decode(rec)
	if fmt.Sprint(c.ResponseCodes) != "[200 301 404]" || fmt.Sprint(c.RequestMethods) != "[GET HEAD]" || c.CacheTTL != 300 ||
		c.Dictionary != "kong_db_cache" || !c.HeaderAge || !c.HeaderKey || !c.HeaderStatus || c.CacheControl || len(c.ContentTypes) != 2 {
		t.Errorf("defaults decoded to %+v; want Kong's", c)
	}
}
