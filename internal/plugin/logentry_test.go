package plugin

import (
	"net/url"
	"testing"
)

// FuzzLogQueryMap checks that arbitrary query strings parse without panics and
// that every argument Go's parser finds is present.
func FuzzLogQueryMap(f *testing.F) {
	for _, s := range []string{"", "a=1&b", "a=1&a=2&a", "%zz=%41+b", "&&=&", "k=%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m := logQueryMap(raw)
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
