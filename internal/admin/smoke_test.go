package admin

import "testing"

func TestSmoke(t *testing.T) {
	c := newServer(t, nil)
	r := c.do("POST", "/services", map[string]any{"name": "s1", "url": "http://example.com:8080/x"})
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("POST", "/services/s1/routes", map[string]any{"name": "r1", "paths": []any{"/a"}})
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("GET", "/routes/r1/service", nil)
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("DELETE", "/services/s1", nil)
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("POST", "/routes", "name=r2&paths[1]=/b&paths[2]=/c&service.name=s1&headers.x-a=1", "application/x-www-form-urlencoded")
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("POST", "/routes", "name=r3&paths[1]=/b&service.name=nope", "application/x-www-form-urlencoded")
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 5}})
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("POST", "/plugins", map[string]any{"name": "test-limit", "config": map[string]any{"minute": 5}})
	t.Logf("%d %s", r.status, r.raw)
	r = c.do("GET", "/", nil)
	t.Logf("%d %s", r.status, r.raw)
}
