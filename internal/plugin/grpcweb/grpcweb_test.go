package grpcweb

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *GRPCWeb {
	t.Helper()
	return proxytest.Instance[*GRPCWeb](t, Schema, New, cfg)
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rec); string(b) != `{"allow_origin_header":"*","pass_stripped_path":null,"proto":null}` {
		t.Errorf("defaults = %s", b)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"pass_stripped_path":"yes"}`, "pass_stripped_path: expected a boolean"},
		{`{"proto":1}`, "proto: expected a string"},
		{`{"other":1}`, "other: unknown field"},
	} {
		var in map[string]any
		json.Unmarshal([]byte(tt.in), &in)
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
	if d, ok := plugin.Lookup(Name); !ok || d.Priority != 3 {
		t.Errorf("registered %v priority %d; want grpc-web at 3", ok, d.Priority)
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"AAAAAAYKBGhleWE=", "\x00\x00\x00\x00\x06\x0a\x04heya", true},
		{"aGk=", "hi", true},
		{"aGk", "hi", true}, // unpadded last group
		{"aA==", "h", true}, // two characters, two pads
		{"aA", "h", true},   // unpadded
		{"aGk=aGk=", "hihi", true},
		{"aA==aGk=YWJj", "hhiabc", true},
		{"a", "", false},     // lone character
		{"aGk=a", "", false}, // lone character after a segment
		{"aA=", "", false},   // one pad after two characters
		{"a===", "", false},  // padding after one character
		{"=", "", false},
		{"aGk==", "", false}, // extra pad
		{"aG k", "", false},  // whitespace
		{"aGk\n", "", false}, // newline
		{"aG-_", "", false},  // URL alphabet
		{"AAAA*AAA", "", false},
	}
	for _, tt := range tests {
		b := []byte(tt.in)
		n, ok := decodeText(b)
		if ok != tt.ok || (ok && string(b[:n]) != tt.want) {
			t.Errorf("decodeText(%q) = %q, %v; want %q, %v", tt.in, b[:n], ok, tt.want, tt.ok)
		}
	}
}

func TestTrailerFrame(t *testing.T) {
	got := appendTrailerFrame([]byte("x"), "0", "", nil)
	want := "x\x80\x00\x00\x00\x1egrpc-status:0\r\ngrpc-message:\r\n"
	if string(got) != want {
		t.Errorf("frame %q; want %q", got, want)
	}
	got = appendTrailerFrame(nil, "5", "gone", http.Header{"Grpc-Status": {"5"}, "Grpc-Message": {"gone"},
		"X-B": {"1", "2"}, "Grpc-Status-Details-Bin": {"AAA"}})
	payload := "grpc-status:5\r\ngrpc-message:gone\r\ngrpc-status-details-bin:AAA\r\nx-b:1\r\nx-b:2\r\n"
	if string(got[5:]) != payload || got[0] != 0x80 || binary.BigEndian.Uint32(got[1:5]) != uint32(len(payload)) {
		t.Errorf("frame %q; want the trailers in order with the right length", got)
	}
}

// exchange runs access, header_filter and body_filter (the upstream answer
// given as chunks, then trailers) for one request.
func exchange(t *testing.T, g *GRPCWeb, method, ctype, body string, chunks []string, trailers http.Header) (*plugin.Ctx, string) {
	t.Helper()
	r := httptest.NewRequest(method, "/pkg.S/M", strings.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	c := &plugin.Ctx{Request: r, UpstreamPath: "/pkg.S/M"}
	g.Access(c)
	if c.Exited() != nil {
		return c, ""
	}
	c.BeginResponse(200, http.Header{"Content-Type": {"application/grpc"}})
	g.HeaderFilter(c)
	c.SetResponseTrailers(&trailers)
	var out bytes.Buffer
	for i, ch := range chunks {
		out.Write(g.BodyFilter(c, []byte(ch), i == len(chunks)-1))
	}
	return c, out.String()
}

func TestFilters(t *testing.T) {
	g := build(t, `{}`)
	f := "\x00\x00\x00\x00\x02hi"
	tr := http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {""}}
	trailer := "\x80\x00\x00\x00\x1egrpc-status:0\r\ngrpc-message:\r\n"

	c, out := exchange(t, g, "POST", "application/grpc-web", f, []string{f[:3], f[3:], ""}, tr)
	if out != f+trailer {
		t.Errorf("binary body %q; want %q", out, f+trailer)
	}
	if got := c.Header.Get("Content-Type"); got != "application/grpc-web" {
		t.Errorf("Content-Type %q", got)
	}
	if got := c.Request.Header.Get("Content-Type"); got != "application/grpc" || c.Request.Header.Get("Te") != "trailers" {
		t.Errorf("upstream Content-Type %q TE %q", got, c.Request.Header.Get("Te"))
	}

	enc := base64.StdEncoding.EncodeToString
	_, out = exchange(t, g, "POST", "application/grpc-web-text", enc([]byte(f)), []string{f[:3], f[3:]}, tr)
	if want := enc([]byte(f[:3])) + enc([]byte(f[3:])) + enc([]byte(trailer)); out != want {
		t.Errorf("text body %q; want %q", out, want)
	}

	// No trailers: the status comes from the headers, else 0.
	_, out = exchange(t, g, "POST", "application/grpc-web", f, []string{f}, nil)
	if out != f+trailer {
		t.Errorf("no trailers: body %q; want %q", out, f+trailer)
	}

	// Not a POST: the body is left alone (Kong's body_filter).
	_, out = exchange(t, g, "PUT", "application/grpc-web", f, []string{f}, tr)
	if out != f {
		t.Errorf("PUT body %q; want it untouched", out)
	}
}

func TestTextBodyTooLarge(t *testing.T) {
	g := build(t, `{}`)
	r := httptest.NewRequest("POST", "/pkg.S/M", strings.NewReader(strings.Repeat("A", maxTextBody+4)))
	r.Header.Set("Content-Type", "application/grpc-web-text")
	c := &plugin.Ctx{Request: r}
	g.Access(c)
	if e := c.Exited(); e == nil || e.Status != 413 {
		t.Fatalf("exit %+v; want 413", e)
	}
	// Unknown length (chunked) is capped while reading.
	r = httptest.NewRequest("POST", "/pkg.S/M", strings.NewReader(strings.Repeat("A", maxTextBody+4)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/grpc-web-text")
	c = &plugin.Ctx{Request: r}
	g.Access(c)
	if e := c.Exited(); e == nil || e.Status != 413 {
		t.Fatalf("chunked exit %+v; want 413", e)
	}
}

func TestRejectOverHTTP2(t *testing.T) {
	g := build(t, `{}`)
	r := httptest.NewRequest("POST", "/pkg.S/M", strings.NewReader("x"))
	r.ProtoMajor = 2
	r.Header.Set("Content-Type", "application/grpc-web+json")
	c := &plugin.Ctx{Request: r}
	g.Access(c)
	e := c.Exited()
	if e == nil || e.Status != 400 || len(e.Body) != 0 || e.Header.Get("Grpc-Status") != "3" || e.Header.Get("Grpc-Message") != msgTranscoding {
		t.Errorf("exit %+v; want 400, grpc-status 3 and the message in grpc-message", e)
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"", "AAAAAAYKBGhleWE=", "aGk=aGk=", "aA", "a===", "aGk==", "AAAA*AAA"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := bytes.Clone(in)
		n, ok := decodeText(b)
		if ok && (n < 0 || n > len(in)*3/4+1) {
			t.Fatalf("decodeText(%q) length %d", in, n)
		}
		// Whatever the standard decoder accepts (it skips newlines, which
		// grpc-web-text does not allow), decodeText decodes the same way.
		if bytes.ContainsAny(in, "\r\n") {
			return
		}
		if want, err := base64.StdEncoding.DecodeString(string(in)); err == nil {
			if !ok || !bytes.Equal(b[:n], want) {
				t.Fatalf("decodeText(%q) = %q, %v; want %q", in, b[:n], ok, want)
			}
		}
		// Any bytes, encoded as two padded segments, come back.
		half := len(in) / 2
		enc := []byte(base64.StdEncoding.EncodeToString(in[:half]) + base64.RawStdEncoding.EncodeToString(in[half:]))
		m, ok := decodeText(enc)
		if !ok || !bytes.Equal(enc[:m], in) {
			t.Fatalf("round trip of %q: %q, %v", in, enc[:m], ok)
		}
	})
}

func FuzzTrailerFrame(f *testing.F) {
	f.Add("0", "", "x-a", "1")
	f.Add("13", "boom%20x", "grpc-status-details-bin", "AAEC")
	f.Fuzz(func(t *testing.T, status, message, name, value string) {
		if !plugin.ValidHeaderName(name) || !plugin.ValidHeaderValue(value) || !plugin.ValidHeaderValue(status) || !plugin.ValidHeaderValue(message) {
			return
		}
		extra := http.Header{http.CanonicalHeaderKey(name): {value}}
		fr := appendTrailerFrame(nil, status, message, extra)
		if len(fr) < 5 || fr[0] != 0x80 || int(binary.BigEndian.Uint32(fr[1:5])) != len(fr)-5 {
			t.Fatalf("bad frame header %q", fr)
		}
		lines := strings.Split(strings.TrimSuffix(string(fr[5:]), "\r\n"), "\r\n")
		if lines[0] != "grpc-status:"+status || lines[1] != "grpc-message:"+message {
			t.Fatalf("frame %q does not start with the status and message", fr)
		}
	})
}

func BenchmarkBodyFilter(b *testing.B) {
	g := build(b, `{}`)
	msg := bytes.Repeat([]byte{0, 0, 0, 0, 100}, 21)
	tr := http.Header{"Grpc-Status": {"0"}, "Grpc-Message": {""}}
	for _, ctype := range []string{"application/grpc-web", "application/grpc-web-text"} {
		b.Run(ctype, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/pkg.S/M", nil)
			b.ReportAllocs()
			for b.Loop() {
				r.Header.Set("Content-Type", ctype)
				c := &plugin.Ctx{Request: r}
				g.Access(c)
				c.BeginResponse(200, http.Header{})
				g.HeaderFilter(c)
				c.SetResponseTrailers(&tr)
				g.BodyFilter(c, msg, false)
				g.BodyFilter(c, nil, true)
			}
		})
	}
}
