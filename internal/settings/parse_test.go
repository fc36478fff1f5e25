package settings

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
		err  string
	}{
		{name: "simple", in: "a = 1\nb=2\n", want: []Entry{{"a", "1", 1}, {"b", "2", 2}}},
		{name: "comments and blanks", in: "# x\n  ; y\n\n   \na = 1 # trailing\n", want: []Entry{{"a", "1", 5}}},
		{name: "comment without space", in: "a = 1#2\n", want: []Entry{{"a", "1", 1}}},
		{name: "escaped hash", in: `pg_password = p\#ss # comment` + "\n", want: []Entry{{"pg_password", "p#ss", 1}}},
		{name: "escaped hash at start", in: `a = \#x`, want: []Entry{{"a", "#x", 1}}},
		{name: "value with equals", in: "a = b=c\n", want: []Entry{{"a", "b=c", 1}}},
		{name: "empty value", in: "a =\n", want: []Entry{{"a", "", 1}}},
		{name: "key variabilized", in: "pg-host = x\n", want: []Entry{{"pg_host", "x", 1}}},
		{name: "crlf", in: "a = 1\r\nb = 2\r\n", want: []Entry{{"a", "1", 1}, {"b", "2", 2}}},
		{name: "continuation", in: "proxy_listen = 0.0.0.0:8000, \\\n  0.0.0.0:8443 ssl\nx = y\n",
			want: []Entry{{"proxy_listen", "0.0.0.0:8000,   0.0.0.0:8443 ssl", 1}, {"x", "y", 3}}},
		{name: "continuation at eof", in: "a = 1 \\", want: []Entry{{"a", "1", 1}}},
		{name: "later wins is caller's job", in: "a = 1\na = 2\n", want: []Entry{{"a", "1", 1}, {"a", "2", 2}}},
		{name: "quotes kept", in: `a = ""`, want: []Entry{{"a", `""`, 1}}},
		{name: "no equals", in: "a 1\n", err: "line 1: want key = value"},
		{name: "missing key", in: " = 1\n", err: "line 1: missing key"},
		{name: "section", in: "[x]\n", err: "sections are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConf(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		want []Listen
		err  string
	}{
		{in: "off", want: nil},
		{in: " off ", want: nil},
		{in: "0.0.0.0:8000", want: []Listen{{Host: "0.0.0.0", Port: 8000}}},
		{in: "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384", want: []Listen{
			{Host: "0.0.0.0", Port: 8000, ReusePort: true, Backlog: 16384},
			{Host: "0.0.0.0", Port: 8443, HTTP2: true, SSL: true, ReusePort: true, Backlog: 16384}}},
		{in: "[::]:8000 ipv6only=on", want: []Listen{{Host: "::", Port: 8000, IPv6Only: "on"}}},
		{in: "[::1]:8000 ipv6only=off", want: []Listen{{Host: "::1", Port: 8000, IPv6Only: "off"}}},
		{in: "localhost:8000 proxy_protocol deferred bind", want: []Listen{
			{Host: "localhost", Port: 8000, ProxyProtocol: true, Deferred: true, Bind: true}}},
		{in: "*:80", want: []Listen{{Host: "*", Port: 80}}},
		{in: "127.0.0.1:0", want: []Listen{{Host: "127.0.0.1", Port: 0}}},
		{in: "0.0.0.0:8000 so_keepalive=on", want: []Listen{{Host: "0.0.0.0", Port: 8000, SOKeepalive: "on"}}},
		{in: "0.0.0.0:8000 so_keepalive=30m::10", want: []Listen{
			{Host: "0.0.0.0", Port: 8000, SOKeepalive: "30m::10", KeepIdle: 30 * time.Minute, KeepCnt: 10}}},
		{in: "0.0.0.0:8000 so_keepalive=10:5s:3", want: []Listen{
			{Host: "0.0.0.0", Port: 8000, SOKeepalive: "10:5s:3", KeepIdle: 10 * time.Second, KeepIntvl: 5 * time.Second, KeepCnt: 3}}},
		{in: "0.0.0.0:8000 foo", err: `unknown flag "foo"`},
		{in: "0.0.0.0:8000 udp", err: `unknown flag "udp"`},
		{in: "0.0.0.0:8000 backlog=0", err: "backlog"},
		{in: "0.0.0.0:8000 ipv6only=maybe", err: "ipv6only"},
		{in: "0.0.0.0:8000 so_keepalive=sometimes", err: "so_keepalive"},
		{in: "0.0.0.0:8000 so_keepalive=::", err: "so_keepalive"},
		{in: "0.0.0.0", err: "missing port"},
		{in: "8000", err: "missing port"},
		{in: ":8000", err: "missing host"},
		{in: "::1:8000", err: "brackets"},
		{in: "[1.2.3.4]:80", err: "not an IPv6"},
		{in: "[::1]8000", err: "[ipv6]:port"},
		{in: "0.0.0.0:65536", err: "invalid port"},
		{in: "0.0.0.0:-1", err: "invalid port"},
		{in: "0.0.0.0:http", err: "invalid port"},
		{in: "bad!host:80", err: "invalid host"},
		{in: "0.0.0.0:8000,", err: "empty entry"},
		{in: "off, 0.0.0.0:8000", err: "cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseListen("proxy_listen", tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "proxy_listen") {
					t.Fatalf("got error %v; want one starting with proxy_listen and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s; want %s", fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", tt.want))
			}
		})
	}
}

func TestListenAddrAndString(t *testing.T) {
	tests := []struct{ in, addr, str string }{
		{"[::]:8000 ipv6only=on", "[::]:8000", "[::]:8000 ipv6only=on"},
		{"*:80 ssl http2", ":80", "*:80 ssl http2"},
		{"127.0.0.1:8443 http2 ssl so_keepalive=on", "127.0.0.1:8443", "127.0.0.1:8443 ssl http2 so_keepalive=on"},
	}
	for _, tt := range tests {
		ls, err := ParseListen("x", tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ls[0].Addr(); got != tt.addr {
			t.Errorf("%q Addr: got %q; want %q", tt.in, got, tt.addr)
		}
		if got := ls[0].String(); got != tt.str {
			t.Errorf("%q String: got %q; want %q", tt.in, got, tt.str)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false}, {"512", 512, false}, {"8k", 8 << 10, false}, {"128m", 128 << 20, false},
		{"1G", 1 << 30, false}, {"10b", 10, false}, {"", 0, true}, {"m", 0, true}, {"-1k", 0, true},
		{"1.5m", 0, true}, {"99999999999999999g", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q): got %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzParseConf checks that the conf parser never panics and that what it
// returns is stable: keys are identifiers, values hold no unescaped comment.
func FuzzParseConf(f *testing.F) {
	for _, s := range []string{"a = 1\n", "# c\n", "a = b # c", `a = \#b`, "a = 1 \\\n 2", "[s]", "= x", "a\n", "k=\\", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseConf(in)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Key == "" {
				t.Fatalf("empty key from %q", in)
			}
			for i := 0; i < len(e.Key); i++ {
				c := e.Key[i]
				if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
					t.Fatalf("key %q from %q has %q", e.Key, in, c)
				}
			}
			if e.Line < 1 {
				t.Fatalf("line %d from %q", e.Line, in)
			}
		}
	})
}

// FuzzParseListen checks that the listen parser never panics and that a
// parsed entry renders to a string that parses back to the same entry.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{"off", "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
		"[::]:80 ipv6only=on", "a:1 so_keepalive=1m:2:3", "x", ":", "[:]:1", "*:0 bind deferred proxy_protocol"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ls, err := ParseListen("k", in)
		if err != nil {
			return
		}
		for _, l := range ls {
			back, err := ParseListen("k", l.String())
			if err != nil {
				t.Fatalf("%q rendered as %q which fails: %v", in, l.String(), err)
			}
			if len(back) != 1 || !reflect.DeepEqual(back[0], l) {
				t.Fatalf("%q: round trip via %q gave %+v; want %+v", in, l.String(), back, l)
			}
		}
	})
}

// TestKongListeners checks the root endpoint's listener objects against
// what Kong 3.x's conf_loader gives for its default proxy_listen.
func TestKongListeners(t *testing.T) {
	entries, err := ParseListen("proxy_listen", "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384, [::1]:9000 so_keepalive=on")
	if err != nil {
		t.Fatal(err)
	}
	got := KongListeners(entries, false)
	if len(got) != 3 {
		t.Fatalf("%d listeners; want 3", len(got))
	}
	first := got[0].(map[string]any)
	want := map[string]any{
		"ip": "0.0.0.0", "port": 8000, "listener": "0.0.0.0:8000 reuseport backlog=16384",
		"ssl": false, "http2": false, "proxy_protocol": false, "deferred": false, "bind": false,
		"reuseport": true, "backlog=16384": true, "ipv6only=on": false, "ipv6only=off": false,
		"so_keepalive=on": false, "so_keepalive=off": false, "so_keepalive=%w*:%w*:%d*": false,
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first listener:\n%v\nwant\n%v", first, want)
	}
	second := got[1].(map[string]any)
	if second["listener"] != "0.0.0.0:8443 ssl http2 reuseport backlog=16384" || second["ssl"] != true || second["http2"] != true {
		t.Errorf("second listener: %v", second)
	}
	third := got[2].(map[string]any)
	if third["ip"] != "[::1]" || third["listener"] != "[::1]:9000 so_keepalive=on" || third["backlog=%d+"] != false || third["so_keepalive=on"] != true {
		t.Errorf("third listener: %v", third)
	}
}
