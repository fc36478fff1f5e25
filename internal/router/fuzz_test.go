package router

import (
	"net/http"
	"strings"
	"testing"

	"sluice/internal/model"
)

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"", "/", "/a/./b/../c", "//a//b", "/%2e%2E/x", "/%zz", "/%3a%6F", "a/b",
		"/..", "/a/..", "/.%2e/", "/%25%32%65", "/a%2F..%2Fb", "/ä/%C3%A4", "/./../.../", "/%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := NormalizePath(raw)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("NormalizePath(%q) = %q; want a leading slash", raw, got)
		}
		// Like Kong, percent-decoding is a single pass: "%0%61" becomes
		// "/%0a", which a second pass would decode again. Decoding twice is
		// what double-encoding attacks rely on, so only outputs without a
		// decodable triplet must be fixed points.
		if again := NormalizePath(got); again != got && !hasDecodableTriplet(got) {
			t.Fatalf("NormalizePath not idempotent: %q -> %q -> %q", raw, got, again)
		}
		if strings.Contains(got, "//") {
			t.Fatalf("NormalizePath(%q) = %q; has an empty segment", raw, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("NormalizePath(%q) = %q; has a dot segment", raw, got)
			}
		}
		if esc := EscapePath(got); strings.ContainsAny(esc, " \"<>\\^`{|}") {
			t.Fatalf("EscapePath(%q) = %q; left an unsafe byte", got, esc)
		}
	})
}

// FuzzCompileRoute feeds arbitrary paths, hosts, header values and SNIs to
// Build. It must never panic; a route that Build accepts must be usable for
// matching; a route Build rejects must be rejected by ValidateRoute too.
func FuzzCompileRoute(f *testing.F) {
	f.Add("/api", "example.com", "v1", "a.com", "/api/x")
	f.Add(`~/users/(?<id>\d+)`, "*.example.com", `~*^v\d$`, "*.a.com", "/users/12")
	f.Add(`~/a(`, "example.*", "~*[", "", "/a")
	f.Add("~", "*", "~*", ".", "/")
	f.Add(`~(?i)/x|/y`, "h:8000", "", "a.com.", "/X")
	f.Add("/", "[::1]:80", "~*(?P<n>a)", "x", "//")
	f.Fuzz(func(t *testing.T, path, host, header, sni, reqPath string) {
		r := &model.Route{ID: uid(1), Protocols: []string{"http", "https"}, Paths: []string{path},
			Hosts: []string{host}, Headers: map[string][]string{"x-h": {header}}, SNIs: []string{sni}}
		if host == "" {
			r.Hosts = nil
		}
		rt, err := Build(nil, []*model.Route{r}, nil)
		if verr := ValidateRoute(r); (err == nil) != (verr == nil) {
			t.Fatalf("Build error %v but ValidateRoute error %v", err, verr)
		}
		if err != nil {
			return
		}
		req := &Request{Method: "GET", Host: host, Path: NormalizePath(reqPath),
			Header: http.Header{"X-H": {header}}, SNI: sni, TLS: true, Port: 8000}
		m, ok := rt.Match(req)
		lm, lok := rt.MatchLinear(req)
		if ok != lok || m.Route != lm.Route || m.Matched != lm.Matched {
			t.Fatalf("index %v %+v; linear %v %+v", ok, m, lok, lm)
		}
		if ok {
			if !strings.HasPrefix(req.Path, m.Matched) && !strings.HasPrefix(path, "~") {
				t.Fatalf("Matched %q is not a prefix of %q", m.Matched, req.Path)
			}
			_ = m.UpstreamPath(req.Path)
		}
	})
}

// hasDecodableTriplet reports whether s holds a percent-triplet that a
// normalisation pass would change (decode, or upper-case its hex digits).
func hasDecodableTriplet(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if ok1 && ok2 && (!reservedByte(h<<4|l) || s[i+1] != upperHex(s[i+1]) || s[i+2] != upperHex(s[i+2])) {
			return true
		}
	}
	return false
}
