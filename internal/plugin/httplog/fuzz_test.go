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

// FuzzQueryMap checks that arbitrary query strings parse without panics and
// keep every argument Go's parser finds.
func FuzzQueryMap(f *testing.F) {
	for _, s := range []string{"", "a=1&b", "a=1&a=2&a", "%zz=%41+b", "&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m := queryMap(raw)
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for k := range vals {
			if _, ok := m[k]; !ok {
				t.Fatalf("%q: argument %q missing from %v", raw, k, m)
			}
		}
	})
}
