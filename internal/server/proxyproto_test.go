package server

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzReadProxyHeader checks that the PROXY header reader never panics and
// never reads past a v1 line's end.
func FuzzReadProxyHeader(f *testing.F) {
	for _, s := range []string{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET", "PROXY UNKNOWN\r\n", "GET / HTTP/1.1\r\n",
		string(proxyV2Sig) + "\x21\x11\x00\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02rest",
		string(proxyV2Sig) + "\x20\x00\x00\x00", string(proxyV2Sig) + "\x21\x21\x00\x02ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReader(strings.NewReader(in))
		_, err := readProxyHeader(r)
		if err == nil && strings.HasPrefix(in, "PROXY ") {
			rest, _ := r.ReadString(0)
			if !strings.HasSuffix(in, rest) || !strings.Contains(in[:len(in)-len(rest)], "\r\n") {
				t.Fatalf("%q: left %q after the header", in, rest)
			}
		}
	})
}
