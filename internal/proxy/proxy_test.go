package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
)

var ridRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// kongBody renders the body Kong would send, for comparison.
func kongBody(mime, msg, rid string) string {
	switch mime {
	case "json":
		return "{\n  \"message\":\"" + msg + "\",\n  \"request_id\":\"" + rid + "\"\n}"
	case "text":
		return msg + "\nrequest_id: " + rid + "\n"
	case "html":
		return "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>" + msg + ".</p>\n    <p>request_id: " + rid + "</p>\n  </body>\n</html>\n"
	case "xml":
		return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>" + msg + "</message>\n  <requestid>" + rid + "</requestid>\n</error>\n"
	}
	panic(mime)
}

func TestNoRoute(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/only")}}, Options{})
	tests := []struct {
		name   string
		accept string
		mime   string
		ctype  string
	}{
		{"no accept is json", "", "json", "application/json; charset=utf-8"},
		{"json", "application/json", "json", "application/json; charset=utf-8"},
		{"any", "*/*", "json", "application/json; charset=utf-8"},
		{"text", "text/plain", "text", "text/plain; charset=utf-8"},
		{"text wildcard", "text/*", "text", "text/plain; charset=utf-8"},
		{"html browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html", "text/html; charset=utf-8"},
		{"xml by q", "text/html;q=0.5, application/xml", "xml", "application/xml; charset=utf-8"},
		{"unknown type", "image/png", "json", "application/json; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.accept != "" {
				hdr["Accept"] = tt.accept
			}
			res, body := e.do(t, "GET", "/nothing/here", hdr, nil)
			if res.StatusCode != 404 {
				t.Fatalf("status %d; want 404", res.StatusCode)
			}
			rid := res.Header.Get("X-Kong-Request-Id")
			if !ridRE.MatchString(rid) {
				t.Fatalf("X-Kong-Request-Id %q; want 32 hex", rid)
			}
			if want := kongBody(tt.mime, "no Route matched with those values", rid); body != want {
				t.Errorf("body %q; want %q", body, want)
			}
			if got := res.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q; want %q", got, tt.ctype)
			}
			if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q; want %d", got, len(body))
			}
			if got := res.Header.Get("Server"); got != "kong/3.9.1" {
				t.Errorf("Server %q; want kong/3.9.1", got)
			}
			if got := res.Header.Get("X-Kong-Response-Latency"); got == "" {
				t.Errorf("X-Kong-Response-Latency missing")
			}
			for _, h := range []string{"Via", "X-Kong-Proxy-Latency", "X-Kong-Upstream-Latency"} {
				if v := res.Header.Get(h); v != "" {
					t.Errorf("%s = %q on a Kong-generated response; want none", h, v)
				}
			}
		})
	}
	t.Run("json body length is Kong's 103", func(t *testing.T) {
		res, body := e.do(t, "GET", "/x", nil, nil)
		if res.StatusCode != 404 || len(body) != 103 {
			t.Errorf("status %d, body length %d; want 404 and 103 (observed on Kong 3.10)", res.StatusCode, len(body))
		}
	})
}

func TestRouteWithoutService(t *testing.T) {
	r := routeTo(nil, "/nosvc")
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r, routeTo(s, "/ok")}}, Options{})
	res, body := e.do(t, "GET", "/nosvc", nil, nil)
	rid := res.Header.Get("X-Kong-Request-Id")
	if res.StatusCode != 503 || body != kongBody("json", "no Service found with those values", rid) {
		t.Errorf("got %d %q; want 503 with Kong's no-Service body", res.StatusCode, body)
	}
}

func TestDisabledService(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	s.Enabled = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/off")}}, Options{})
	res, _ := e.do(t, "GET", "/off", nil, nil)
	if res.StatusCode != 404 {
		t.Errorf("status %d; want 404 for a route of a disabled service", res.StatusCode)
	}
}

// closingUpstream accepts connections, reads the request head and closes.
func closingUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// refusedAddr returns an address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestUpstreamErrors(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)

	bad := svcTo(t, closingUpstream(t))
	bad.Retries = 1
	to := svcTo(t, slow.URL)
	to.Retries = 0
	to.ReadTimeout = 150
	refused := svcTo(t, "http://"+refusedAddr(t))
	refused.Retries = 2
	empty := &model.Upstream{ID: newID(), Name: "empty.upstream", Algorithm: "round-robin", Slots: 10000,
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/"}
	noPeer := svcTo(t, slow.URL)
	noPeer.Host, noPeer.Port = "empty.upstream", 80
	dns := svcTo(t, slow.URL)
	dns.Host = "does-not-exist.invalid"
	cfg := &model.Config{
		Services:  []*model.Service{bad, to, refused, noPeer, dns},
		Upstreams: []*model.Upstream{empty},
		Routes: []*model.Route{routeTo(bad, "/bad"), routeTo(to, "/slow"), routeTo(refused, "/refused"),
			routeTo(noPeer, "/nopeer"), routeTo(dns, "/dns")},
	}
	e := newEnv(t, cfg, Options{})

	const (
		m502 = "An invalid response was received from the upstream server"
		m504 = "The upstream server is timing out"
		m503 = "failure to get a peer from the ring-balancer"
		mDNS = "name resolution failed"
	)
	tests := []struct {
		name    string
		path    string
		hdr     map[string]string
		status  int
		mime    string
		msg     string
		proxied bool
	}{
		{"502 closed json", "/bad", map[string]string{"Accept": "application/json"}, 502, "json", m502, true},
		{"502 closed default text", "/bad", nil, 502, "text", m502, true},
		{"502 closed by content-type", "/bad", map[string]string{"Content-Type": "application/xml"}, 502, "xml", m502, true},
		{"502 refused", "/refused", nil, 502, "text", m502, true},
		{"504 json", "/slow", map[string]string{"Accept": "application/json"}, 504, "json", m504, true},
		{"504 text", "/slow", nil, 504, "text", m504, true},
		{"503 no peer json", "/nopeer", nil, 503, "json", m503, false},
		{"503 no peer text", "/nopeer", map[string]string{"Accept": "text/plain"}, 503, "text", m503, false},
		{"503 dns", "/dns", nil, 503, "json", mDNS, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, "GET", tt.path, tt.hdr, nil)
			rid := res.Header.Get("X-Kong-Request-Id")
			if res.StatusCode != tt.status {
				t.Fatalf("status %d; want %d (body %q)", res.StatusCode, tt.status, body)
			}
			if want := kongBody(tt.mime, tt.msg, rid); body != want {
				t.Errorf("body %q; want %q", body, want)
			}
			if tt.proxied {
				if res.Header.Get("X-Kong-Upstream-Latency") == "" || res.Header.Get("Via") != "1.1 kong/3.9.1" {
					t.Errorf("headers %v; want proxied-response headers (Via, X-Kong-Upstream-Latency)", res.Header)
				}
			} else if res.Header.Get("X-Kong-Response-Latency") == "" {
				t.Errorf("headers %v; want X-Kong-Response-Latency", res.Header)
			}
			if res.Header.Get("Server") != "kong/3.9.1" {
				t.Errorf("Server %q; want kong/3.9.1", res.Header.Get("Server"))
			}
		})
	}
}

func TestErrorStatusMapping(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"refused", &net.OpError{Op: "dial", Err: fmt.Errorf("connect: connection refused")}, 502},
		{"eof", io.ErrUnexpectedEOF, 502},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, 504},
		{"dns", &errDNS{err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}, 503},
	}
	for _, tt := range tests {
		got, _ := errorStatus(t.Context(), tt.err)
		if got != tt.want {
			t.Errorf("%s: status %d; want %d", tt.name, got, tt.want)
		}
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	if got, _ := errorStatus(ctx, io.EOF); got != 499 {
		t.Errorf("client gone: status %d; want 499", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryNextTarget(t *testing.T) {
	good := newEcho(t, "good")
	gh, gp := hostPort(t, good.URL)
	dead := refusedAddr(t)
	ups := &model.Upstream{ID: newID(), Name: "retry.upstream", Algorithm: "round-robin", Slots: 10000,
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/"}
	targets := []*model.Target{
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: dead, Weight: 100},
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: fmt.Sprintf("%s:%d", gh, gp), Weight: 100},
	}
	s := svcTo(t, good.URL)
	s.Host, s.Port, s.Retries = "retry.upstream", 80, 5
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Upstreams: []*model.Upstream{ups}, Targets: targets,
		Routes: []*model.Route{routeTo(s, "/r")}}, Options{})
	for i := 0; i < 6; i++ {
		method := "GET"
		var body io.Reader
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("payload-"+strconv.Itoa(i))
		}
		res, b := e.do(t, method, "/r/x", nil, body)
		if res.StatusCode != 200 {
			t.Fatalf("request %d: status %d; want 200 after a retry (body %q)", i, res.StatusCode, b)
		}
		got := decodeEcho(t, b)
		if got.Name != "good" {
			t.Fatalf("request %d answered by %q", i, got.Name)
		}
		if method == "POST" && got.Body != "payload-"+strconv.Itoa(i) {
			t.Errorf("request %d: upstream got body %q; want the full body on the retry", i, got.Body)
		}
		if got.Host != fmt.Sprintf("%s:%d", gh, gp) {
			t.Errorf("Host %q; want the target %s:%d", got.Host, gh, gp)
		}
	}
	t.Run("no retries", func(t *testing.T) {
		s2 := *s
		s2.ID, s2.Retries = newID(), 0
		r := routeTo(&s2, "/once")
		e.cur.Store(buildSnap(t, e.cur.Load(), e.pool, &model.Config{Services: []*model.Service{s, &s2},
			Upstreams: []*model.Upstream{ups}, Targets: targets, Routes: []*model.Route{routeTo(s, "/r"), r}}))
		fails := 0
		for i := 0; i < 4; i++ {
			res, _ := e.do(t, "GET", "/once", nil, nil)
			if res.StatusCode == 502 {
				fails++
			}
		}
		if fails != 2 {
			t.Errorf("%d of 4 requests failed; want 2 (round-robin over a dead and a live target, no retries)", fails)
		}
	})
}

func TestPreserveHost(t *testing.T) {
	up := newEcho(t, "a")
	h, p := hostPort(t, up.URL)
	s := svcTo(t, up.URL)
	keep := routeTo(s, "/keep")
	keep.PreserveHost = true
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{keep, routeTo(s, "/drop")}}, Options{})
	tests := []struct {
		path, want string
	}{
		{"/keep", "client.example:8080"},
		{"/drop", fmt.Sprintf("%s:%d", h, p)},
	}
	for _, tt := range tests {
		_, body := e.do(t, "GET", tt.path, map[string]string{"Host": "client.example:8080"}, nil)
		if got := decodeEcho(t, body).Host; got != tt.want {
			t.Errorf("%s: upstream Host %q; want %q", tt.path, got, tt.want)
		}
	}
	if got := hostWithPort("svc", 80, "http"); got != "svc" {
		t.Errorf("hostWithPort(svc, 80, http) = %q; want svc", got)
	}
	if got := hostWithPort("svc", 443, "http"); got != "svc:443" {
		t.Errorf("hostWithPort(svc, 443, http) = %q; want svc:443", got)
	}
}

func TestForwardedHeaders(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	cfg := &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/pre")}}
	spoof := map[string]string{
		"Host":               "Client.Example:9999",
		"X-Forwarded-For":    "1.2.3.4",
		"X-Forwarded-Proto":  "https",
		"X-Forwarded-Host":   "spoofed.example",
		"X-Forwarded-Port":   "4443",
		"X-Forwarded-Path":   "/spoofed",
		"X-Forwarded-Prefix": "/spoofedprefix",
		"X-Real-IP":          "5.6.7.8",
		"Via":                "1.1 edge",
	}
	t.Run("untrusted", func(t *testing.T) {
		e := newEnv(t, cfg, Options{})
		_, port := hostPort(t, e.front.URL)
		_, body := e.do(t, "GET", "/pre/a%20b?q=1", spoof, nil)
		got := decodeEcho(t, body)
		want := map[string]string{
			"X-Forwarded-For":    "1.2.3.4, 127.0.0.1",
			"X-Forwarded-Proto":  "http",
			"X-Forwarded-Host":   "client.example",
			"X-Forwarded-Port":   strconv.Itoa(port),
			"X-Forwarded-Path":   "/pre/a%20b",
			"X-Forwarded-Prefix": "/pre",
			"X-Real-Ip":          "127.0.0.1",
			"Via":                "1.1 edge, 1.1 kong/3.9.1",
		}
		for k, v := range want {
			if g := got.Header.Get(k); g != v {
				t.Errorf("%s = %q; want %q", k, g, v)
			}
		}
		if !ridRE.MatchString(got.Header.Get("X-Kong-Request-Id")) {
			t.Errorf("X-Kong-Request-Id upstream %q; want 32 hex", got.Header.Get("X-Kong-Request-Id"))
		}
		if got.URI != "/a%20b?q=1" {
			t.Errorf("upstream URI %q; want /a%%20b?q=1", got.URI)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		e := newEnv(t, cfg, Options{TrustedIPs: []string{"127.0.0.1/32"}})
		_, body := e.do(t, "GET", "/pre/x", spoof, nil)
		got := decodeEcho(t, body)
		want := map[string]string{
			"X-Forwarded-For":    "1.2.3.4, 127.0.0.1",
			"X-Forwarded-Proto":  "https",
			"X-Forwarded-Host":   "spoofed.example",
			"X-Forwarded-Port":   "4443",
			"X-Forwarded-Path":   "/spoofed",
			"X-Forwarded-Prefix": "/spoofedprefix",
			"X-Real-Ip":          "5.6.7.8",
		}
		for k, v := range want {
			if g := got.Header.Get(k); g != v {
				t.Errorf("%s = %q; want %q", k, g, v)
			}
		}
	})
	t.Run("no client XFF and no prefix", func(t *testing.T) {
		e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{HeadersUpstream: []string{"off"}})
		_, body := e.do(t, "GET", "/x", nil, nil)
		got := decodeEcho(t, body)
		if g := got.Header.Get("X-Forwarded-For"); g != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q; want 127.0.0.1", g)
		}
		if _, ok := got.Header["X-Forwarded-Prefix"]; ok {
			t.Errorf("X-Forwarded-Prefix sent for route path /")
		}
		if _, ok := got.Header["X-Kong-Request-Id"]; ok {
			t.Errorf("X-Kong-Request-Id sent with headers_upstream=off")
		}
	})
}

func TestHopByHop(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	_, body := e.do(t, "GET", "/x", map[string]string{"Connection": "X-Secret", "X-Secret": "1", "Proxy": "evil",
		"Proxy-Authorization": "Basic abc", "Keep-Alive": "timeout=5"}, nil)
	got := decodeEcho(t, body)
	for _, h := range []string{"X-Secret", "Proxy", "Keep-Alive"} {
		if v, ok := got.Header[h]; ok {
			t.Errorf("hop-by-hop %s = %q forwarded", h, v)
		}
	}
	if got.Header.Get("Proxy-Authorization") != "Basic abc" {
		t.Errorf("Proxy-Authorization not forwarded (Kong passes it when not listed in Connection)")
	}
}

func TestDownstreamHeaders(t *testing.T) {
	withServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "upstream/1")
		w.Header().Set("Via", "1.1 inner")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(withServer.Close)
	plain := newEcho(t, "plain")
	a, b := svcTo(t, withServer.URL), svcTo(t, plain.URL)
	cfg := &model.Config{Services: []*model.Service{a, b}, Routes: []*model.Route{routeTo(a, "/srv"), routeTo(b, "/plain")}}

	t.Run("default", func(t *testing.T) {
		e := newEnv(t, cfg, Options{})
		res, _ := e.do(t, "GET", "/srv", nil, nil)
		if g := res.Header.Get("Server"); g != "upstream/1" {
			t.Errorf("Server %q; want the upstream's", g)
		}
		if g := res.Header.Get("Via"); g != "1.1 inner, 1.1 kong/3.9.1" {
			t.Errorf("Via %q; want appended", g)
		}
		res, _ = e.do(t, "GET", "/plain", nil, nil)
		if g := res.Header.Get("Server"); g != "kong/3.9.1" {
			t.Errorf("Server %q; want kong/3.9.1 when the upstream sent none", g)
		}
		for _, h := range []string{"X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency"} {
			if _, err := strconv.Atoi(res.Header.Get(h)); err != nil {
				t.Errorf("%s = %q; want milliseconds", h, res.Header.Get(h))
			}
		}
		if !ridRE.MatchString(res.Header.Get("X-Kong-Request-Id")) {
			t.Errorf("X-Kong-Request-Id %q", res.Header.Get("X-Kong-Request-Id"))
		}
		if res.Header.Get("X-Kong-Response-Latency") != "" || res.Header.Get("X-Kong-Upstream-Status") != "" {
			t.Errorf("unexpected headers %v", res.Header)
		}
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t, cfg, Options{Headers: []string{"off"}})
		res, _ := e.do(t, "GET", "/plain", nil, nil)
		for _, h := range []string{"Server", "Via", "X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency", "X-Kong-Request-Id"} {
			if v := res.Header.Get(h); v != "" {
				t.Errorf("%s = %q with headers=off", h, v)
			}
		}
		res, _ = e.do(t, "GET", "/none", nil, nil)
		if v := res.Header.Get("Server"); v != "" {
			t.Errorf("Server = %q on 404 with headers=off", v)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		e := newEnv(t, cfg, Options{Headers: []string{"X-Kong-Upstream-Status", "via"}})
		res, _ := e.do(t, "GET", "/plain", nil, nil)
		if res.Header.Get("X-Kong-Upstream-Status") != "200" || res.Header.Get("Via") != "1.1 kong/3.9.1" {
			t.Errorf("headers %v; want X-Kong-Upstream-Status and Via only", res.Header)
		}
		if res.Header.Get("X-Kong-Proxy-Latency") != "" || res.Header.Get("Server") != "" {
			t.Errorf("headers %v; want no latency or Server", res.Header)
		}
	})
	t.Run("debug header", func(t *testing.T) {
		e := newEnv(t, cfg, Options{AllowDebugHeader: true})
		res, _ := e.do(t, "GET", "/plain", map[string]string{"Kong-Debug": "1"}, nil)
		if res.Header.Get("Kong-Service-Id") != b.ID || res.Header.Get("Kong-Route-Id") != cfg.Routes[1].ID ||
			res.Header.Get("Kong-Service-Name") != *b.Name {
			t.Errorf("debug headers %v", res.Header)
		}
		e2 := newEnv(t, cfg, Options{})
		res, _ = e2.do(t, "GET", "/plain", map[string]string{"Kong-Debug": "1"}, nil)
		if res.Header.Get("Kong-Route-Id") != "" {
			t.Errorf("Kong-Route-Id sent without allow_debug_header")
		}
	})
}

func TestHTTPSRedirect(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	var routes []*model.Route
	codes := []int{426, 301, 302, 307, 308}
	for _, c := range codes {
		r := routeTo(s, "/c"+strconv.Itoa(c))
		r.Protocols = []string{"https"}
		r.HTTPSRedirectStatusCode = c
		routes = append(routes, r)
	}
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: routes}, Options{TrustedIPs: []string{"127.0.0.1"}})
	for _, c := range codes {
		t.Run(strconv.Itoa(c), func(t *testing.T) {
			path := "/c" + strconv.Itoa(c) + "/x?a=1"
			res, body := e.do(t, "GET", path, map[string]string{"Host": "api.example:8000"}, nil)
			if res.StatusCode != c {
				t.Fatalf("status %d; want %d", res.StatusCode, c)
			}
			if c == 426 {
				rid := res.Header.Get("X-Kong-Request-Id")
				if body != kongBody("json", "Please use HTTPS protocol", rid) {
					t.Errorf("body %q", body)
				}
				if res.Header.Get("Connection") != "Upgrade" || res.Header.Get("Upgrade") != "TLS/1.2, HTTP/1.1" {
					t.Errorf("headers %v; want Connection: Upgrade, Upgrade: TLS/1.2, HTTP/1.1", res.Header)
				}
				return
			}
			if loc := res.Header.Get("Location"); loc != "https://api.example"+path {
				t.Errorf("Location %q; want https://api.example%s", loc, path)
			}
			if body != "" {
				t.Errorf("body %q; want empty", body)
			}
		})
	}
	t.Run("terminated by trusted proxy", func(t *testing.T) {
		res, _ := e.do(t, "GET", "/c426/x", map[string]string{"X-Forwarded-Proto": "https"}, nil)
		if res.StatusCode != 200 {
			t.Errorf("status %d; want 200 (X-Forwarded-Proto https from a trusted IP)", res.StatusCode)
		}
	})
}

func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "last\n")
	}))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	r := routeTo(s, "/stream")
	r.ResponseBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	res, err := client.Get(e.front.URL + "/stream")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	got := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if l != "first\n" {
			t.Errorf("first chunk %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Error("first chunk not received before the upstream wrote the last")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "last\n" {
		t.Errorf("rest %q; want last", rest)
	}
}

func TestWebSocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "no upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw) // echo
	}))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/ws")}}, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 {
		t.Fatalf("status %d; want 101", res.StatusCode)
	}
	io.WriteString(c, "ping-frame")
	buf := make([]byte, len("ping-frame"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping-frame" {
		t.Errorf("echo %q, %v; want ping-frame", buf, err)
	}
}

func TestSnapshotSwap(t *testing.T) {
	a, b := newEcho(t, "a"), newEcho(t, "b")
	sa, sb := svcTo(t, a.URL), svcTo(t, b.URL)
	ra := routeTo(sa, "/")
	e := newEnv(t, &model.Config{Services: []*model.Service{sa}, Routes: []*model.Route{ra}}, Options{})
	stop := make(chan struct{})
	var served atomic.Int64
	done := make(chan struct{})
	go func() { // traffic while the snapshot changes
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := client.Get(e.front.URL + "/x")
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					served.Add(1)
				}
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	rb := routeTo(sb, "/")
	rb.ID = ra.ID
	rb.UpdatedAt = 2
	e.cur.Store(buildSnap(t, e.cur.Load(), e.pool, &model.Config{Services: []*model.Service{sb}, Routes: []*model.Route{rb}}))
	_, body := e.do(t, "GET", "/x", nil, nil)
	close(stop)
	<-done
	if got := decodeEcho(t, body).Name; got != "b" {
		t.Errorf("request after the swap went to %q; want b", got)
	}
	if served.Load() == 0 {
		t.Errorf("no request served during the swap")
	}
}

func TestProxyRequestBody(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	unbuf := routeTo(s, "/unbuf")
	unbuf.RequestBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/buf"), unbuf}}, Options{})
	big := strings.Repeat("x", 200<<10)
	for _, p := range []string{"/buf", "/unbuf"} {
		for _, body := range []string{"small", big} {
			_, b := e.do(t, "POST", p, nil, strings.NewReader(body))
			if got := decodeEcho(t, b).Body; got != body {
				t.Errorf("%s: upstream body of %d bytes; want %d", p, len(got), len(body))
			}
		}
	}
	// chunked (unknown length)
	pr, pw := io.Pipe()
	go func() { io.WriteString(pw, "chunk1"); io.WriteString(pw, "chunk2"); pw.Close() }()
	_, b := e.do(t, "POST", "/unbuf", nil, pr)
	if got := decodeEcho(t, b).Body; got != "chunk1chunk2" {
		t.Errorf("chunked body %q", got)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

// TestRequestStreaming checks that with request_buffering=false the upstream
// receives the first part of the body before the client sends the rest.
func TestRequestStreaming(t *testing.T) {
	gotFirst := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(buf)+string(rest))
	}))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	r := routeTo(s, "/up")
	r.RequestBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "first")
		select {
		case <-gotFirst:
			io.WriteString(pw, "-rest")
		case <-time.After(5 * time.Second):
			io.WriteString(pw, "-late")
		}
		pw.Close()
	}()
	_, body := e.do(t, "POST", "/up", nil, pr)
	if body != "first-rest" {
		t.Errorf("body %q; want first-rest (the upstream must see the first part before the client sends the rest)", body)
	}
}

// TestClientMaxBodySize: nginx_http_client_max_body_size answers 413 with
// Kong's "Payload too large" to a declared length over the limit (the
// upstream never sees it) and to a chunked body that passes it; a body of
// exactly the limit goes through.
func TestClientMaxBodySize(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		io.WriteString(w, "got "+strconv.Itoa(len(b)))
	}))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	r := routeTo(s, "/up")
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{ClientMaxBodySize: 16})
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.front.URL+"/up", body)
		req.ContentLength = length
		req.Header.Set("Accept", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 16)), 16); code != 200 || body != "got 16" {
		t.Errorf("16 bytes (the limit): %d %q; want 200 got 16", code, body)
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 16)), -1); code != 200 || body != "got 16" {
		t.Errorf("16 bytes chunked: %d %q; want 200 got 16", code, body)
	}
	before := hits.Load()
	if code, body := post(strings.NewReader(strings.Repeat("a", 17)), 17); code != 413 || !strings.Contains(body, `"message":"Payload too large"`) {
		t.Errorf("17 bytes: %d %q; want 413 Payload too large", code, body)
	}
	if hits.Load() != before {
		t.Error("a declared length over the limit reached the upstream")
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 5000)), -1); code != 413 || !strings.Contains(body, "Payload too large") {
		t.Errorf("5000 bytes chunked: %d %q; want 413 Payload too large", code, body)
	}
	if code, _ := post(nil, 0); code != 200 {
		t.Errorf("no body: %d; want 200", code)
	}
}
