package settings

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Listen is one parsed entry of a *_listen setting, e.g.
// "0.0.0.0:8443 http2 ssl reuseport backlog=16384".
type Listen struct {
	// Host is the address part as written, without brackets for IPv6
	// ("0.0.0.0", "::", "localhost"); "" or "*" means every address.
	Host string
	Port int

	SSL           bool
	HTTP2         bool
	ProxyProtocol bool
	Deferred      bool
	Bind          bool
	ReusePort     bool
	Backlog       int    // 0 when not given
	IPv6Only      string // "", "on" or "off"

	// SOKeepalive is "", "on", "off" or the tunable form
	// "[keepidle]:[keepintvl]:[keepcnt]"; the tunables are parsed into
	// KeepIdle, KeepIntvl and KeepCnt (zero when left empty).
	SOKeepalive string
	KeepIdle    time.Duration
	KeepIntvl   time.Duration
	KeepCnt     int
}

// Addr is the address to pass to net.Listen.
func (l Listen) Addr() string {
	h := l.Host
	if h == "*" {
		h = ""
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + strconv.Itoa(l.Port)
	}
	return h + ":" + strconv.Itoa(l.Port)
}

// String renders the entry in kong.conf form with its flags.
func (l Listen) String() string {
	var b strings.Builder
	if l.Host == "*" {
		b.WriteString("*:" + strconv.Itoa(l.Port))
	} else {
		b.WriteString(l.Addr())
	}
	flag := func(on bool, s string) {
		if on {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	flag(l.SSL, "ssl")
	flag(l.HTTP2, "http2")
	flag(l.ProxyProtocol, "proxy_protocol")
	flag(l.Deferred, "deferred")
	flag(l.Bind, "bind")
	flag(l.ReusePort, "reuseport")
	flag(l.Backlog > 0, "backlog="+strconv.Itoa(l.Backlog))
	flag(l.IPv6Only != "", "ipv6only="+l.IPv6Only)
	flag(l.SOKeepalive != "", "so_keepalive="+l.SOKeepalive)
	return b.String()
}

const listenUsage = "must be of form: [off] | <ip>:<port> [ssl] [http2] [proxy_protocol] [deferred] [bind] " +
	"[reuseport] [backlog=N] [ipv6only=on|off] [so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]], [... next entry ...]"

// ParseListen parses the value of a *_listen setting: comma-separated
// entries of an address followed by flags, or "off" (no listener, nil
// result). key names the setting in errors.
func ParseListen(key, value string) ([]Listen, error) {
	entries := strings.Split(value, ",")
	if strings.TrimSpace(entries[0]) == "off" {
		if len(entries) > 1 {
			return nil, fmt.Errorf("%s: %q: \"off\" cannot be combined with other entries; %s", key, value, listenUsage)
		}
		return nil, nil
	}
	var out []Listen
	for _, e := range entries {
		l, err := parseListenEntry(strings.TrimSpace(e))
		if err != nil {
			return nil, fmt.Errorf("%s: invalid entry %q: %w; %s", key, strings.TrimSpace(e), err, listenUsage)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseListenEntry(e string) (Listen, error) {
	var l Listen
	fields := strings.Fields(e)
	if len(fields) == 0 {
		return l, fmt.Errorf("empty entry")
	}
	host, port, err := splitListenAddr(fields[0])
	if err != nil {
		return l, err
	}
	l.Host, l.Port = host, port
	for _, f := range fields[1:] {
		name, val, hasVal := strings.Cut(f, "=")
		switch {
		case f == "ssl":
			l.SSL = true
		case f == "http2":
			l.HTTP2 = true
		case f == "proxy_protocol":
			l.ProxyProtocol = true
		case f == "deferred":
			l.Deferred = true
		case f == "bind":
			l.Bind = true
		case f == "reuseport":
			l.ReusePort = true
		case name == "backlog" && hasVal:
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return l, fmt.Errorf("backlog %q: want a positive integer", val)
			}
			l.Backlog = n
		case name == "ipv6only" && hasVal:
			if val != "on" && val != "off" {
				return l, fmt.Errorf("ipv6only %q: want on or off", val)
			}
			l.IPv6Only = val
		case name == "so_keepalive" && hasVal:
			if err := parseKeepalive(&l, val); err != nil {
				return l, err
			}
		default:
			return l, fmt.Errorf("unknown flag %q", f)
		}
	}
	return l, nil
}

// splitListenAddr splits "ip:port", "[ipv6]:port" or "name:port".
func splitListenAddr(s string) (string, int, error) {
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			return "", 0, fmt.Errorf("address %q: want [ipv6]:port", s)
		}
		host, port = s[1:end], s[end+2:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return "", 0, fmt.Errorf("address %q: %q is not an IPv6 address", s, host)
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return "", 0, fmt.Errorf("address %q: missing port", s)
		}
		host, port = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("address %q: IPv6 addresses must be in brackets", s)
		}
		if host == "" {
			return "", 0, fmt.Errorf("address %q: missing host (use 0.0.0.0 or [::])", s)
		}
		if host != "*" && !validHostname(host) {
			return "", 0, fmt.Errorf("address %q: invalid host %q", s, host)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || port == "" || port[0] == '+' || port[0] == '-' {
		return "", 0, fmt.Errorf("address %q: invalid port %q", s, port)
	}
	return host, n, nil
}

func validHostname(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// parseKeepalive reads nginx's so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt];
// keepidle and keepintvl take nginx time units (s, m, h; seconds when bare).
func parseKeepalive(l *Listen, v string) error {
	l.SOKeepalive = v
	if v == "on" || v == "off" {
		return nil
	}
	parts := strings.Split(v, ":")
	if len(parts) != 3 || (parts[0] == "" && parts[1] == "" && parts[2] == "") {
		return fmt.Errorf("so_keepalive %q: want on, off or [keepidle]:[keepintvl]:[keepcnt]", v)
	}
	var err error
	if l.KeepIdle, err = parseNginxTime(parts[0]); err != nil {
		return fmt.Errorf("so_keepalive %q: keepidle: %w", v, err)
	}
	if l.KeepIntvl, err = parseNginxTime(parts[1]); err != nil {
		return fmt.Errorf("so_keepalive %q: keepintvl: %w", v, err)
	}
	if parts[2] != "" {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n <= 0 {
			return fmt.Errorf("so_keepalive %q: keepcnt %q: want a positive integer", v, parts[2])
		}
		l.KeepCnt = n
	}
	return nil
}

// parseNginxTime parses "30", "30s", "5m", "1h" ("" is zero).
func parseNginxTime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	unit := time.Second
	num := s
	switch s[len(s)-1] {
	case 's':
		num = s[:len(s)-1]
	case 'm':
		unit, num = time.Minute, s[:len(s)-1]
	case 'h':
		unit, num = time.Hour, s[:len(s)-1]
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || num[0] == '+' {
		return 0, fmt.Errorf("%q: want a positive time like 30s, 5m or 1h", s)
	}
	return time.Duration(n) * unit, nil
}

// httpListenFlags and streamListenFlags are the flags Kong's conf_loader
// looks for in an http and a stream *_listen entry, in its order: the
// order of the flags in a listener's "listener" string and the keys of
// its root-endpoint object.
var (
	httpListenFlags   = []string{"ssl", "http2", "proxy_protocol", "deferred", "bind", "reuseport", "backlog=%d+", "ipv6only=on", "ipv6only=off", "so_keepalive=on", "so_keepalive=off", "so_keepalive=%w*:%w*:%d*"}
	streamListenFlags = []string{"udp", "ssl", "proxy_protocol", "bind", "reuseport", "backlog=%d+", "ipv6only=on", "ipv6only=off", "so_keepalive=on", "so_keepalive=off", "so_keepalive=%w*:%w*:%d*"}
)

// KongListeners renders entries as Kong's root endpoint lists them under
// configuration.*_listeners: per entry ip, port, "listener" (the address
// and the flags given) and every flag Kong knows as a boolean. A flag with
// a value is keyed by its pattern when absent ("backlog=%d+": false) and
// by what was written when present ("backlog=16384": true), as Kong's
// parse_option_flags leaves them. stream selects the stream flag set.
func KongListeners(entries []Listen, stream bool) []any {
	flags := httpListenFlags
	if stream {
		flags = streamListenFlags
	}
	out := make([]any, 0, len(entries))
	for _, l := range entries {
		given := map[string]string{} // pattern -> as written
		set := func(on bool, pattern, written string) {
			if on {
				given[pattern] = written
			}
		}
		set(l.SSL, "ssl", "ssl")
		set(l.HTTP2, "http2", "http2")
		set(l.ProxyProtocol, "proxy_protocol", "proxy_protocol")
		set(l.Deferred, "deferred", "deferred")
		set(l.Bind, "bind", "bind")
		set(l.ReusePort, "reuseport", "reuseport")
		set(l.Backlog > 0, "backlog=%d+", "backlog="+strconv.Itoa(l.Backlog))
		set(l.IPv6Only != "", "ipv6only="+l.IPv6Only, "ipv6only="+l.IPv6Only)
		switch l.SOKeepalive {
		case "":
		case "on", "off":
			set(true, "so_keepalive="+l.SOKeepalive, "so_keepalive="+l.SOKeepalive)
		default:
			set(true, "so_keepalive=%w*:%w*:%d*", "so_keepalive="+l.SOKeepalive)
		}
		ip := l.Host
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		m := map[string]any{"ip": ip, "port": l.Port}
		listener := ip + ":" + strconv.Itoa(l.Port)
		for _, f := range flags {
			if w, ok := given[f]; ok {
				m[w] = true
				listener += " " + w
			} else {
				m[f] = false
			}
		}
		m["listener"] = listener
		out = append(out, m)
	}
	return out
}
