package upstream

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in        string
		host      string
		port      int
		formatted string
		wantErr   bool
	}{
		{"example.com:80", "example.com", 80, "example.com:80", false},
		{"Example.COM", "example.com", 8000, "example.com:8000", false},
		{"10.0.0.1", "10.0.0.1", 8000, "10.0.0.1:8000", false},
		{"10.0.0.1:1234", "10.0.0.1", 1234, "10.0.0.1:1234", false},
		{"[::1]:80", "::1", 80, "[::1]:80", false},
		{"[::1]", "::1", 8000, "[::1]:8000", false},
		{"::1", "::1", 8000, "[::1]:8000", false},
		{"[2001:db8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443", false},
		{"my_svc.internal:9", "my_svc.internal", 9, "my_svc.internal:9", false},
		{"", "", 0, "", true},
		{"host:", "", 0, "", true},
		{"host:99999", "", 0, "", true},
		{"host:-1", "", 0, "", true},
		{"[::1]x", "", 0, "", true},
		{"[1.2.3.4]:80", "", 0, "", true},
		{"bad host:80", "", 0, "", true},
		{"a..b:80", "", 0, "", true},
		{"::zz", "", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			hp, err := parseTarget(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseTarget(%q): got %+v; want an error", tt.in, hp)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTarget(%q): %v", tt.in, err)
			}
			if hp.host != tt.host || hp.port != tt.port || hp.String() != tt.formatted {
				t.Errorf("parseTarget(%q): got %q %d %q; want %q %d %q", tt.in, hp.host, hp.port, hp.String(), tt.host, tt.port, tt.formatted)
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"example.com:80", "[::1]:80", "::1", "10.0.0.1", "a:b:c", "[", "x:65536", "_:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := parseTarget(s)
		if err != nil {
			return
		}
		if hp.port < 0 || hp.port > 65535 || hp.host == "" {
			t.Fatalf("parseTarget(%q) = %+v: out of range", s, hp)
		}
		// The formatted form parses back to the same target.
		again, err := parseTarget(hp.String())
		if err != nil || again != hp {
			t.Fatalf("round trip of %q via %q: got %+v, %v; want %+v", s, hp.String(), again, err, hp)
		}
	})
}

func FuzzHashRequestInputs(f *testing.F) {
	f.Add("k=v&k=a&x", "a=1; sid=xyz", "k")
	f.Add("%6b=1", "sid", "k")
	f.Add("k=%zz", "=;;", "")
	f.Fuzz(func(t *testing.T, rawQuery, cookie, name string) {
		v, ok := queryArg(rawQuery, name)
		if !ok && v != "" {
			t.Fatalf("queryArg(%q, %q): absent but value %q", rawQuery, name, v)
		}
		if ok && !strings.Contains(rawQuery, "&") && !strings.Contains(rawQuery, "=") {
			if q, _ := url.QueryUnescape(rawQuery); q != name && rawQuery != name {
				t.Fatalf("queryArg(%q, %q) = %q: found an argument of another name", rawQuery, name, v)
			}
		}
		cv, ok := cookieValue([]string{cookie}, name)
		if ok && !strings.Contains(cookie, name+"="+cv) {
			t.Fatalf("cookieValue(%q, %q) = %q: not in the header", cookie, name, cv)
		}
	})
}
