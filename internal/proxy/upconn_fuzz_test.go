package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/upconn"
)

// FuzzWriteRequest writes a request whose header fields are arbitrary (a
// plugin may set any name and value) through the own client and reads it
// back with net/http's server parser: when writeRequest accepts it, the
// upstream must see exactly one request, with the method, target and body
// sent, and Kong's framing and forwarding fields once each: no field set
// by a plugin may smuggle framing (Content-Length, Transfer-Encoding, Host,
// a line break in a value).
func FuzzWriteRequest(f *testing.F) {
	f.Add("X-Custom", "value", "body", false, "up.test")
	f.Add("content-length", "1", "body", false, "up.test:8080")
	f.Add("transfer-encoding", "chunked", "body", true, "up.test")
	f.Add("HOST", "evil.test", "", false, "up.test")
	f.Add("x-forwarded-for", "1.2.3.4", "", false, "[::1]:80")
	f.Add("Connection", "close", "", false, "up.test")
	f.Add("X-A", "a\r\nContent-Length: 0", "body", false, "up.test")
	f.Add("X-A", "a\x00b", "", false, "up.test")
	f.Add("X A", "v", "", false, "up.test")
	f.Add("X-A", "", "0\r\n\r\nGET /smuggled HTTP/1.1\r\n", true, "up.test")
	// The upstream Host as a plugin sets it (request-transformer).
	f.Add("X-A", "v", "body", false, "up.test\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1")
	p := New(nil, Options{})
	f.Fuzz(func(t *testing.T, name, value, body string, chunked bool, host string) {
		method := "POST"
		r := &http.Request{Method: method, URL: &url.URL{Path: "/p", RawQuery: "q=1"}, Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Host: "client.test", Header: http.Header{}}
		// As plugins set fields (Header.Set canonicalizes a valid name;
		// an invalid one stays as it is). writeRequest, like net/http's
		// Request.Write, matches framing fields by their canonical name.
		r.Header.Add(name, value)
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		if chunked {
			r.ContentLength = -1
		}
		if body == "" {
			r.Body = http.NoBody
		}
		st := &reqState{Context: context.Background(), p: p, in: r, route: &model.Route{}, rid: "rid",
			peerIP: "127.0.0.1", clientIP: "127.0.0.1", fwdProto: "http", fwdHost: "client.test", fwdPort: "8000",
			fwdPath: "/p", upstreamPath: "/p", hostHdr: host}

		cli, srv := net.Pipe()
		defer srv.Close()
		pool := upconn.New(upconn.Options{Dial: func(context.Context, string, string) (net.Conn, error) { return cli, nil }})
		defer pool.Close()
		c, err := pool.Get(context.Background(), "pipe")
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			err := p.writeRequest(st, c)
			c.Close()
			errc <- err
		}()
		_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, rerr := io.ReadAll(srv)
		srv.Close() // unblocks a writer the deadline stopped reading from
		if err := <-errc; err != nil {
			return // refused: nothing is forwarded
		}
		if rerr != nil {
			t.Fatalf("writeRequest wrote for 5 s without finishing: %v\n%q", rerr, raw)
		}
		br := bufio.NewReader(strings.NewReader(string(raw)))
		req, err := http.ReadRequest(br)
		if err != nil {
			if strings.ContainsAny(value+host, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") {
				return // a control byte in a value: the upstream refuses it (400), no framing is at stake
			}
			t.Fatalf("upstream cannot parse the request (%v):\n%q", err, raw)
		}
		got, err := io.ReadAll(req.Body)
		if err != nil || string(got) != body {
			t.Fatalf("body %q (%v); sent %q\n%q", got, err, body, raw)
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			t.Fatalf("bytes after the request (a second request smuggled): %q\n%q", rest, raw)
		}
		if req.Method != method || req.RequestURI != "/p?q=1" || req.Host != strings.Trim(host, " \t") {
			t.Fatalf("request %s %s Host %s\n%q", req.Method, req.RequestURI, req.Host, raw)
		}
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Via"} {
			if len(req.Header[k]) != 1 {
				t.Fatalf("%s sent %d times\n%q", k, len(req.Header[k]), raw)
			}
		}
	})
}
