package grpcweb_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin/grpcweb"
	"sluice/internal/proxytest"
)

// frame is a gRPC length-prefixed message: flag byte, 4-byte big-endian
// length, payload.
func frame(flag byte, payload string) string {
	var h [5]byte
	h[0] = flag
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	return string(h[:]) + payload
}

// seen is what the gRPC upstream received.
type seen struct {
	proto       int
	contentType string
	te          string
	path        string
	body        []byte
}

// grpcUpstream answers like a gRPC server: each request frame's payload p
// comes back as a frame "hello " + p, then the trailers grpc-status (from
// the request's X-Want-Status, default 0), grpc-message and, when asked,
// an extra trailer. A request with X-Trailers-Only gets grpc-status in
// the headers and no body.
type grpcUpstream struct {
	mu   sync.Mutex
	last *seen
}

func (u *grpcUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.last = &seen{proto: r.ProtoMajor, contentType: r.Header.Get("Content-Type"), te: r.Header.Get("Te"), path: r.URL.Path, body: body}
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/grpc")
	if r.Header.Get("X-Trailers-Only") != "" {
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unimplemented")
		w.WriteHeader(200)
		return
	}
	var out bytes.Buffer
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if 5+n > len(body) {
			break
		}
		p := string(body[5 : 5+n])
		if r.URL.Path == "/hello.HelloService/SayHello" && len(p) > 2 && p[0] == 0x0a {
			// HelloRequest{greeting} -> HelloResponse{reply: "hello " + greeting}
			reply := "hello " + p[2:]
			out.WriteString(frame(0, "\x0a"+string(rune(len(reply)))+reply))
		} else {
			out.WriteString(frame(0, "hello "+p))
		}
		body = body[5+n:]
	}
	w.WriteHeader(200)
	w.Write(out.Bytes())
	status := r.Header.Get("X-Want-Status")
	if status == "" {
		status = "0"
	}
	w.Header().Set(http.TrailerPrefix+"Grpc-Status", status)
	if status != "0" {
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", "not found")
	} else {
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", "")
	}
	if r.Header.Get("X-Extra-Trailer") != "" {
		w.Header().Set(http.TrailerPrefix+"X-Extra", "1")
	}
}

func (u *grpcUpstream) seen() *seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.last
	u.last = nil
	return s
}

// startH2C serves h on HTTP/2 with prior knowledge (a grpc service).
func startH2C(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// gateway serves one grpc(s) service with three routes, each with its
// own grpc-web instance: "/" (strip_path off) and "/strip" (strip_path on)
// configured with rootCfg, "/prefix" (strip_path on) with prefixCfg.
func gateway(t *testing.T, upURL, protocol, rootCfg, prefixCfg string) *proxytest.Gateway {
	t.Helper()
	cfg := proxytest.Config(t, upURL, map[string]string{grpcweb.Name: rootCfg})
	svc, root := cfg.Services[0], cfg.Routes[0]
	svc.Protocol = protocol
	cfg.Plugins[0].Route = &model.ForeignKey{ID: root.ID}
	for i, rt := range []struct{ path, conf string }{{"/strip", rootCfg}, {"/prefix", prefixCfg}} {
		r := *root
		r.ID = "00000000-0000-4000-8000-00000000000" + strconv.Itoa(3+i)
		r.Paths = []string{rt.path}
		r.StripPath = true
		cfg.Routes = append(cfg.Routes, &r)
		rec, err := grpcweb.Schema.Process(decode(t, rt.conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		p := *cfg.Plugins[0]
		p.ID, p.Config, p.Route = "00000000-0000-4000-8000-00000000002"+strconv.Itoa(i), rec, &model.ForeignKey{ID: r.ID}
		cfg.Plugins = append(cfg.Plugins, &p)
	}
	return proxytest.Serve(t, cfg)
}

func TestThroughProxy(t *testing.T) {
	up := &grpcUpstream{}
	srv := startH2C(t, up)
	g := gateway(t, srv.URL, "grpc", `{}`, `{"pass_stripped_path":true,"allow_origin_header":"https://app.example"}`)

	// Kong's spec fixtures (spec/03-plugins/32-grpc-web/01-proxy_spec.lua):
	// a HelloRequest{greeting:"heya"} and the HelloResponse frame with the
	// trailer frame, base64-encoded on their own.
	const helloText = "AAAAAAYKBGhleWE="
	const replyText = "AAAAAAwKCmhlbGxvIGhleWE=" + "gAAAAB5ncnBjLXN0YXR1czowDQpncnBjLW1lc3NhZ2U6DQo="
	helloBin, _ := base64.StdEncoding.DecodeString(helloText)
	okTrailer := frame(0x80, "grpc-status:0\r\ngrpc-message:\r\n")

	tests := []struct {
		name, path, ctype, body string
		hdr                     map[string]string
		wantStatus              int
		wantBody                string
		wantPath                string // upstream path; "" when it must not be called
		wantUpBody              string
		wantCORS                string
	}{
		{name: "binary", path: "/hello.HelloService/SayHello", ctype: "application/grpc-web+proto", body: string(helloBin),
			wantStatus: 200, wantBody: frame(0, "\x0a\x0ahello heya") + okTrailer,
			wantPath: "/hello.HelloService/SayHello", wantUpBody: string(helloBin), wantCORS: "*"},
		{name: "binary plain type", path: "/pkg.S/M", ctype: "application/grpc-web", body: frame(0, "a") + frame(0, "b"),
			wantStatus: 200, wantBody: frame(0, "hello a") + frame(0, "hello b") + okTrailer,
			wantPath: "/pkg.S/M", wantUpBody: frame(0, "a") + frame(0, "b"), wantCORS: "*"},
		{name: "text (Kong's fixture)", path: "/hello.HelloService/SayHello", ctype: "application/grpc-web-text", body: helloText,
			wantStatus: 200, wantBody: replyText,
			wantPath: "/hello.HelloService/SayHello", wantUpBody: string(helloBin), wantCORS: "*"},
		{name: "text+proto, concatenated padded segments", path: "/pkg.S/M", ctype: "application/grpc-web-text+proto",
			body:       base64.StdEncoding.EncodeToString([]byte(frame(0, "x"))) + base64.StdEncoding.EncodeToString([]byte(frame(0, "yz"))),
			wantStatus: 200,
			wantBody: base64.StdEncoding.EncodeToString([]byte(frame(0, "hello x")+frame(0, "hello yz"))) +
				base64.StdEncoding.EncodeToString([]byte(okTrailer)),
			wantPath: "/pkg.S/M", wantUpBody: frame(0, "x") + frame(0, "yz"), wantCORS: "*"},
		{name: "error status and extra trailer in the trailer frame", path: "/pkg.S/M", ctype: "application/grpc-web+proto",
			body: frame(0, "q"), hdr: map[string]string{"X-Want-Status": "5", "X-Extra-Trailer": "1"},
			wantStatus: 200, wantBody: frame(0, "hello q") + frame(0x80, "grpc-status:5\r\ngrpc-message:not found\r\nx-extra:1\r\n"),
			wantPath: "/pkg.S/M", wantUpBody: frame(0, "q"), wantCORS: "*"},
		{name: "client path sent without pass_stripped_path", path: "/strip/pkg.S/M", ctype: "application/grpc-web",
			body: frame(0, "p"), wantStatus: 200, wantBody: frame(0, "hello p") + okTrailer,
			wantPath: "/strip/pkg.S/M", wantUpBody: frame(0, "p"), wantCORS: "*"},
		{name: "pass_stripped_path and allow_origin_header", path: "/prefix/pkg.S/M", ctype: "application/grpc-web",
			body: frame(0, "p"), wantStatus: 200, wantBody: frame(0, "hello p") + okTrailer,
			wantPath: "/pkg.S/M", wantUpBody: frame(0, "p"), wantCORS: "https://app.example"},
		{name: "bad base64", path: "/pkg.S/M", ctype: "application/grpc-web-text", body: "AAAA*AAA",
			wantStatus: 400, wantBody: "invalid base64 body", wantCORS: "*"},
		{name: "json needs a proto", path: "/pkg.S/M", ctype: "application/grpc-web+json", body: frame(0, `{"a":1}`),
			wantStatus: 400, wantBody: "transcoding requests require a .proto file defining the service", wantCORS: "*"},
		{name: "no content type", path: "/pkg.S/M", body: "x",
			wantStatus: 400, wantBody: "transcoding requests require a .proto file defining the service", wantCORS: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"X-Grpc-Web": "1"}
			if tt.ctype != "" {
				hdr["Content-Type"] = tt.ctype
			}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			res, body := g.Do(t, "POST", tt.path, hdr, tt.body)
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %q; want %d %q", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tt.wantCORS {
				t.Errorf("Access-Control-Allow-Origin %q; want %q", got, tt.wantCORS)
			}
			s := up.seen()
			if tt.wantPath == "" {
				if s != nil {
					t.Errorf("upstream called (%s); want no call", s.path)
				}
				if ct, ok := res.Header["Content-Type"]; ok {
					t.Errorf("Content-Type %q; want none (Kong's exit with a string body)", ct)
				}
				return
			}
			if s == nil {
				t.Fatal("upstream not called")
			}
			if s.proto != 2 || s.contentType != "application/grpc" || s.te != "trailers" {
				t.Errorf("upstream saw HTTP/%d, Content-Type %q, TE %q; want HTTP/2, application/grpc, trailers", s.proto, s.contentType, s.te)
			}
			if s.path != tt.wantPath || string(s.body) != tt.wantUpBody {
				t.Errorf("upstream got %s %q; want %s %q", s.path, s.body, tt.wantPath, tt.wantUpBody)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q; want the client's %q", got, tt.ctype)
			}
		})
	}

	t.Run("trailers-only answer", func(t *testing.T) {
		res, body := g.Do(t, "POST", "/pkg.S/M", map[string]string{"Content-Type": "application/grpc-web", "X-Trailers-Only": "1"}, frame(0, "z"))
		up.seen()
		// Without a body the status stays in the headers; when the
		// upstream ended the stream with an empty DATA frame (Go's
		// server does), the trailer frame repeats the header's status.
		if res.StatusCode != 200 || res.Header.Get("Grpc-Status") != "12" ||
			(body != "" && body != frame(0x80, "grpc-status:12\r\ngrpc-message:unimplemented\r\n")) {
			t.Errorf("got %d %q grpc-status %q; want 200, grpc-status 12 in the headers and no other status", res.StatusCode, body, res.Header.Get("Grpc-Status"))
		}
		if got := res.Header.Get("Content-Type"); got != "application/grpc-web" {
			t.Errorf("Content-Type %q; want application/grpc-web", got)
		}
	})

	t.Run("preflight", func(t *testing.T) {
		for _, tc := range []struct{ path, origin string }{{"/pkg.S/M", "*"}, {"/prefix/pkg.S/M", "https://app.example"}} {
			res, body := g.Do(t, "OPTIONS", tc.path, map[string]string{
				"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "content-type,x-grpc-web",
			}, "")
			if res.StatusCode != 200 || body != "OK" {
				t.Fatalf("%s: got %d %q; want 200 OK", tc.path, res.StatusCode, body)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  tc.origin,
				"Access-Control-Allow-Methods": "POST",
				"Access-Control-Allow-Headers": "content-type,x-grpc-web,x-user-agent",
				"Content-Type":                 "application/grpc-web-text+proto",
				"Grpc-Status":                  "0",
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s: %s %q; want %q", tc.path, k, got, v)
				}
			}
			if s := up.seen(); s != nil {
				t.Errorf("preflight reached the upstream")
			}
		}
	})
}

// TestTLSUpstream proxies to a grpcs service (HTTP/2 over TLS).
func TestTLSUpstream(t *testing.T) {
	up := &grpcUpstream{}
	srv := httptest.NewUnstartedServer(up)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	g := gateway(t, strings.Replace(srv.URL, "https://", "http://", 1), "grpcs", `{}`, `{}`)
	body := base64.StdEncoding.EncodeToString([]byte(frame(0, "tls")))
	res, got := g.Do(t, "POST", "/pkg.S/M", map[string]string{"Content-Type": "application/grpc-web-text"}, body)
	want := base64.StdEncoding.EncodeToString([]byte(frame(0, "hello tls"))) +
		base64.StdEncoding.EncodeToString([]byte(frame(0x80, "grpc-status:0\r\ngrpc-message:\r\n")))
	if res.StatusCode != 200 || got != want {
		t.Fatalf("got %d %q; want 200 %q", res.StatusCode, got, want)
	}
	if s := up.seen(); s == nil || s.proto != 2 || string(s.body) != frame(0, "tls") {
		t.Errorf("upstream saw %+v; want HTTP/2 with the decoded frame", s)
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestJSONTranscoding: with a .proto file, JSON requests (framed, base64,
// or plain application/json) become gRPC messages, and the answers JSON
// (Kong's grpc-web fixtures).
func TestJSONTranscoding(t *testing.T) {
	up := &grpcUpstream{}
	srv := startH2C(t, up)
	g := gateway(t, srv.URL, "grpc", `{"proto":"testdata/hello.proto"}`, `{"proto":"testdata/hello.proto","pass_stripped_path":true}`)
	const path = "/hello.HelloService/SayHello"
	helloMsg := frame(0, "\x0a\x04heya") // HelloRequest{greeting: "heya"}
	reply := frame(0, `{"reply":"hello heya"}`)
	okTrailer := frame(0x80, "grpc-status:0\r\ngrpc-message:\r\n")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, path, ctype, body string
		wantStatus              int
		wantBody                string
		wantUp                  bool
	}{
		{"grpc-web+json", path, "application/grpc-web+json", frame(0, `{"greeting":"heya"}`), 200, reply + okTrailer, true},
		{"grpc-web-text+json", path, "application/grpc-web-text+json", b64(frame(0, `{"greeting":"heya","other":[1]}`)), 200, b64(reply) + b64(okTrailer), true},
		{"application/json", path, "application/json", `{"greeting":"heya"}`, 200, `{"reply":"hello heya"}`, true},
		{"application/json, stripped path", "/prefix" + path, "application/json", `{"greeting":"heya"}`, 200, `{"reply":"hello heya"}`, true},
		{"binary still passes", path, "application/grpc-web+proto", helloMsg, 200, frame(0, "\x0a\x0ahello heya") + okTrailer, true},
		{"unknown method", "/hello.HelloService/Nope", "application/json", `{}`, 400, `Unkown path "/hello.HelloService/Nope"`, false}, //nolint:misspell // Kong's wording
		{"invalid json", path, "application/json", `{"greeting":`, 400, `decode json err: Expected value but found T_END at character 13`, false},
		{"frame missing", path, "application/grpc-web+json", `{"greeting":"heya"}`, 400, `decode json err: Expected value but found T_END at character 1`, false},
		{"wrong type", path, "application/json", `{"greeting":1}`, 400, `failed to encode payload`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := g.Do(t, "POST", tt.path, map[string]string{"Content-Type": tt.ctype}, tt.body)
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %q; want %d %q", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			s := up.seen()
			if !tt.wantUp {
				if s != nil {
					t.Fatalf("upstream called: %+v", s)
				}
				return
			}
			if s == nil || s.path != path || string(s.body) != helloMsg || s.contentType != "application/grpc" {
				t.Fatalf("upstream saw %+v; want %s with %q", s, path, helloMsg)
			}
			if ct := res.Header.Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type %q; want %q", ct, tt.ctype)
			}
		})
	}
}
