package proxycache

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// BenchmarkAccessHit is the access phase of a cache hit: key, lookup and
// the exit response (one new Ctx per request included).
func BenchmarkAccessHit(b *testing.B) {
	rec, err := processed(b, `{"strategy":"memory","vary_headers":["Accept-Language"]}`)
	if err != nil {
		b.Fatal(err)
	}
	inst, _ := New(rec, plugin.Deps{})
	p := inst.(*Cache)
	p.store = NewStore(1<<20, 1<<16, false)
	route := &model.Route{ID: "00000000-0000-4000-8000-000000000002"}
	r := httptest.NewRequest("GET", "/items?page=2&sort=asc", nil)
	r.Header.Set("Accept-Language", "fr")
	c := &plugin.Ctx{Request: r, Route: route}
	key := p.cacheKey(c)
	p.store.Put(p.conf.Dictionary+":"+key, &Response{Status: 200, Body: make([]byte, 512),
		Header: http.Header{"Content-Type": {"application/json"}, "X-Cache-Status": {"Miss"}}, Timestamp: now(), TTL: 300}, 300, now())
	b.ReportAllocs()
	for b.Loop() {
		c := &plugin.Ctx{Request: r, Route: route}
		p.Access(c)
		if e := c.Exited(); e == nil || e.Header.Get("X-Cache-Status") != "Hit" {
			b.Fatal("not a hit")
		}
	}
}
