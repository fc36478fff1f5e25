package session

import (
	"net/http"
	"strings"
	"testing"

	"sluice/internal/plugin"
)

// BenchmarkAccess is the access phase of a request carrying a valid
// session cookie: read, decrypt, check, authenticate.
func BenchmarkAccess(b *testing.B) {
	s, _ := newTest(b, `{"secret":"bench"}`)
	r, _ := http.NewRequest("GET", "http://gw/", nil)
	c := &plugin.Ctx{Request: r}
	c.Authenticate(alice, "k1")
	h := http.Header{}
	c.BeginResponse(200, h)
	s.HeaderFilter(c)
	cookie, _, _ := strings.Cut(h.Get("Set-Cookie"), ";")
	r.Header = http.Header{"Cookie": {"theme=dark; " + cookie}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := plugin.Ctx{Request: r}
		s.Access(&c)
		if !c.Authenticated() {
			b.Fatal("not authenticated")
		}
	}
}
