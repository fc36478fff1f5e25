package requestsizelimiting

import (
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *Limiter {
	t.Helper()
	return proxytest.Instance[*Limiter](t, Schema, New, cfg)
}

// chunkedReader hides its length so httptest does not set Content-Length.
type chunkedReader struct{ io.Reader }

func TestAccess(t *testing.T) {
	tests := []struct {
		name, cfg string
		body      string
		chunked   bool
		headers   map[string]string
		status    int
		msg       string
	}{
		{"under limit", `{"allowed_payload_size":10,"size_unit":"bytes"}`, "0123456789", false, nil, 0, ""},
		{"over limit", `{"allowed_payload_size":10,"size_unit":"bytes"}`, "0123456789A", false, nil, 413, "Request size limit exceeded"},
		{"expect 100-continue", `{"allowed_payload_size":10,"size_unit":"bytes"}`, "0123456789A", false, map[string]string{"Expect": "100-Continue"}, 417, "Request size limit exceeded"},
		{"kilobytes are 1024", `{"allowed_payload_size":1,"size_unit":"kilobytes"}`, strings.Repeat("x", 1024), false, nil, 0, ""},
		{"kilobytes over", `{"allowed_payload_size":1,"size_unit":"kilobytes"}`, strings.Repeat("x", 1025), false, nil, 413, "Request size limit exceeded"},
		{"default 128 MiB by header", `{}`, "", false, map[string]string{"Content-Length": "134217729"}, 413, "Request size limit exceeded"},
		{"default 128 MiB exact", `{}`, "", false, map[string]string{"Content-Length": "134217728"}, 0, ""},
		{"chunked under", `{"allowed_payload_size":10,"size_unit":"bytes"}`, "0123456789", true, nil, 0, ""},
		{"chunked over", `{"allowed_payload_size":10,"size_unit":"bytes"}`, "0123456789AB", true, nil, 413, "Request size limit exceeded"},
		{"require content length", `{"require_content_length":true}`, "abc", true, map[string]string{"Transfer-Encoding": ""}, 411, "A valid Content-Length header is required"},
		{"require content length chunked ok", `{"require_content_length":true,"allowed_payload_size":1,"size_unit":"bytes"}`, "ab", true, map[string]string{"Transfer-Encoding": "chunked"}, 413, "Request size limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.cfg)
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = chunkedReader{body}
			}
			r := httptest.NewRequest("POST", "/", body)
			if tt.chunked {
				r.ContentLength = -1
				r.Header.Del("Content-Length")
			}
			for k, v := range tt.headers {
				if k == "Transfer-Encoding" {
					if v != "" {
						r.TransferEncoding = []string{v}
					}
					continue
				}
				r.Header.Set(k, v)
			}
			c := &plugin.Ctx{Request: r}
			p.Access(c)
			e := c.Exited()
			if tt.status == 0 {
				if e != nil {
					t.Fatalf("got %d %s; want pass", e.Status, e.Body)
				}
				got, err := io.ReadAll(r.Body)
				if err != nil || string(got) != tt.body {
					t.Errorf("forwarded body = %q, %v; want %q", got, err, tt.body)
				}
				return
			}
			if e == nil {
				t.Fatalf("got pass; want %d", tt.status)
			}
			if e.Status != tt.status || e.Message != tt.msg {
				t.Errorf("got %d %q; want %d %q", e.Status, e.Message, tt.status, tt.msg)
			}
		})
	}
}

func TestStreamedOverLargeLimit(t *testing.T) {
	p := build(t, `{"allowed_payload_size":2,"size_unit":"megabytes"}`)
	r := httptest.NewRequest("POST", "/", chunkedReader{strings.NewReader(strings.Repeat("x", 2<<20+1))})
	r.ContentLength = -1
	c := &plugin.Ctx{Request: r}
	p.Access(c)
	if c.Exited() != nil {
		t.Fatal("large limit: body was judged before streaming")
	}
	_, err := io.ReadAll(r.Body)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("streamed read error = %v; want ErrTooLarge", err)
	}
	r2 := httptest.NewRequest("POST", "/", chunkedReader{strings.NewReader(strings.Repeat("x", 2<<20))})
	r2.ContentLength = -1
	c2 := &plugin.Ctx{Request: r2}
	p.Access(c2)
	if n, err := io.Copy(io.Discard, r2.Body); err != nil || n != 2<<20 {
		t.Errorf("body at the limit: read %d, %v; want %d, nil", n, err, 2<<20)
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if want := `{"allowed_payload_size":128,"require_content_length":false,"size_unit":"megabytes"}`; string(b) != want {
		t.Errorf("defaults = %s; want %s", b, want)
	}
	bad := []struct{ in, err string }{
		{`{"size_unit":"gigabytes"}`, "size_unit: expected one of: megabytes, kilobytes, bytes"},
		{`{"allowed_payload_size":1.5}`, "allowed_payload_size: expected an integer"},
		{`{"require_content_length":"yes"}`, "require_content_length: expected a boolean"},
	}
	for _, tt := range bad {
		var in map[string]any
		json.Unmarshal([]byte(tt.in), &in)
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"allowed_payload_size":1,"size_unit":"bytes"}`)
	f.Add(`{"size_unit":7}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		if rec, err := Schema.Process(in, nil); err == nil {
			if _, nerr := New(rec, plugin.Deps{}); nerr != nil {
				t.Fatal(nerr)
			}
		}
	})
}
