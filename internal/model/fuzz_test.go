package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzRoutePath checks that path validation never panics and that an
// accepted plain path is its own normal form.
func FuzzRoutePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "~/v(?<n>\\d+)", "~/(?=x)", "/%zz", "/a/../b", "//", "~/[", "/%C3%A4", "~/a{2,1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		msg := validateRouterPath(p)
		// Like Kong's single-pass normaliser, NormalizePath is not
		// idempotent on malformed input ("%%300" -> "%00"), which
		// validation rejects anyway.
		n := NormalizePath(p)
		if msg == "" && !strings.HasPrefix(p, "~") && n != p {
			t.Errorf("plain path %q accepted but normalises to %q", p, n)
		}
		if msg == "" && strings.HasPrefix(p, "~") {
			if _, err := CompileRouteRegex(p[1:]); err != nil {
				t.Errorf("regex path %q accepted but does not compile: %v", p, err)
			}
		}
	})
}

func fuzzProcess(f *testing.F, entity string, seeds []string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	s, _ := Lookup(entity)
	f.Fuzz(func(t *testing.T, data []byte) {
		var in map[string]any
		if json.Unmarshal(data, &in) != nil {
			return
		}
		out, err := s.Process(in, nil)
		if err != nil {
			if len(err.Fields) == 0 {
				t.Fatalf("error without fields for %s", data)
			}
			_ = err.Error()
			return
		}
		// A valid record stays valid when processed again.
		b, jerr := json.Marshal(out)
		if jerr != nil {
			t.Fatalf("record does not marshal: %v", jerr)
		}
		var again map[string]any
		if jerr := json.Unmarshal(b, &again); jerr != nil {
			t.Fatal(jerr)
		}
		if _, err2 := s.Process(again, nil); err2 != nil {
			t.Errorf("record %s rejected on second pass: %v", b, err2)
		}
	})
}

func FuzzProcessRoute(f *testing.F) {
	fuzzProcess(f, "routes", []string{
		`{"paths":["/a"]}`,
		`{"protocols":["tcp"],"sources":[{"ip":"1.2.3.4","port":80}]}`,
		`{"protocols":["grpc"],"hosts":["*.a.com"],"strip_path":true}`,
		`{"headers":{"x":["~*a"]},"methods":["GET"],"snis":["a.*"]}`,
		`{"protocols":"http","paths":{"a":1},"hosts":[null]}`,
	})
}

func FuzzProcessService(f *testing.F) {
	fuzzProcess(f, "services", []string{
		`{"host":"a.com"}`,
		`{"url":"https://a.com:8443/x"}`,
		`{"url":"::::"}`,
		`{"host":"a","protocol":"tcp","path":"/x","tls_verify":true}`,
		`{"host":1,"port":1e300,"retries":-0.5}`,
	})
}

func BenchmarkProcessRoute(b *testing.B) {
	s, _ := Lookup("routes")
	var in map[string]any
	if err := json.Unmarshal([]byte(`{"name":"r1","protocols":["http","https"],"methods":["GET","POST"],
		"hosts":["api.example.com","*.example.org"],"paths":["/v1/users","~/v2/(?<id>\\d+)$"],
		"headers":{"x-version":["1"]},"service":{"id":"`+uuid1+`"},"tags":["a","b"]}`), &in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Process(in, nil); err != nil {
			b.Fatal(err)
		}
	}
}
