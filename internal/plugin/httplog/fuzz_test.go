package httplog

import (
	"net/url"
	"testing"
)

// FuzzEndpoint checks that any accepted http_endpoint is an http(s) URL
// with a host that a queue can be built for.
func FuzzEndpoint(f *testing.F) {
	for _, s := range []string{"http://x/", "https://u:p@h:1/p?q", "ftp://x", "http://", "::", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateURL(s) != "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			t.Fatalf("%q accepted; parse error %v", s, err)
		}
		q := newQueue(Config{HTTPEndpoint: s, Method: "POST", Queue: QueueConfig{MaxEntries: 1}})
		if q.send == nil {
			t.Fatal("no sender")
		}
	})
}
