package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   string
	}{
		{"", mimeJSON},
		{"application/json", mimeJSON},
		{"text/plain", mimePlain},
		{"text/html", mimeHTML},
		{"application/xml", mimeXML},
		{"*/*", mimeJSON},
		{"text/*", mimePlain},
		{"application/*", mimeJSON},
		{"TEXT/PLAIN", mimeJSON}, // Kong matches case-insensitively but looks up the MIME table as is
		{"text/plain;q=0", mimeJSON},
		{"text/plain;q=0.5, text/html;q=0.4", mimePlain},
		{"text/plain;q=0.5, text/html;q=0.5", mimePlain}, // first wins on equal q
		{"text/plain;q=0.5, text/html", mimeHTML},
		{"text/html; charset=utf-8", mimeHTML},
		{"text/html;level=1;q=0.2, application/xml;q=0.3", mimeXML},
		{"text/plain;q=2", mimePlain}, // invalid q is ignored: q stays 1
		{"garbage, text/plain", mimePlain},
		{"x/y", mimeJSON},
		{" text/plain ", mimePlain},
	}
	for _, tt := range tests {
		if got := negotiate(tt.accept); got != tt.want {
			t.Errorf("negotiate(%q) = %q; want %q", tt.accept, got, tt.want)
		}
	}
}

func TestEscapePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{"/a b", "/a%20b"},
		{"/é", "/%C3%A9"},
		{"/a%2Fb", "/a%2Fb"},
		{"/<x>\"", "/%3Cx%3E%22"},
		{"/!$&'()*+,;=:@[]~-_.", "/!$&'()*+,;=:@[]~-_."},
	}
	for _, tt := range tests {
		if got := escapePath(tt.in); got != tt.want {
			t.Errorf("escapePath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		in      []string
		want    enabledHeaders
		wantErr bool
	}{
		{nil, enabledHeaders{via: true, server: true, proxyLatency: true, upstreamLatency: true, responseLatency: true, requestID: true}, false},
		{[]string{"off"}, enabledHeaders{}, false},
		{[]string{}, enabledHeaders{}, false},
		{[]string{"Server", "X-Kong-Upstream-Status"}, enabledHeaders{server: true, upstreamStatus: true}, false},
		{[]string{"off", "server"}, enabledHeaders{}, true},
		{[]string{"bogus"}, enabledHeaders{}, true},
	}
	for _, tt := range tests {
		got, err := parseHeaders(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseHeaders(%q) error %v; want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("parseHeaders(%q) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
	if err := Check(Options{TrustedIPs: []string{"10.0.0.0/33"}}); err == nil {
		t.Errorf("Check accepted an invalid CIDR")
	}
	if err := Check(Options{TrustedIPs: []string{"10.0.0.0/8", "::1"}, Headers: []string{"latency_tokens"}}); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestRealIP(t *testing.T) {
	ts, err := parseTrusted([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddr("10.1.1.1")
	tests := []struct {
		peer      netip.Addr
		header    string
		recursive bool
		want      string
	}{
		{peer, "1.1.1.1", false, "1.1.1.1"},
		{peer, "1.1.1.1, 10.2.2.2", false, "10.2.2.2"},
		{peer, "1.1.1.1, 10.2.2.2", true, "1.1.1.1"},
		{peer, "10.3.3.3, 10.2.2.2", true, "10.3.3.3"},
		{peer, "junk", false, ""},
		{netip.MustParseAddr("8.8.8.8"), "1.1.1.1", false, ""}, // untrusted peer
	}
	for _, tt := range tests {
		if got := ts.realIP(tt.peer, tt.header, tt.recursive); got != tt.want {
			t.Errorf("realIP(%s, %q, %v) = %q; want %q", tt.peer, tt.header, tt.recursive, got, tt.want)
		}
	}
}

func TestRealIPHeaderEndToEnd(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}},
		Options{TrustedIPs: []string{"127.0.0.0/8"}, RealIPHeader: "X-Forwarded-For", RealIPRecursive: true})
	_, body := e.do(t, "GET", "/x", map[string]string{"X-Forwarded-For": "203.0.113.9, 127.0.0.5"}, nil)
	got := decodeEcho(t, body)
	if g := got.Header.Get("X-Real-Ip"); g != "203.0.113.9" {
		t.Errorf("X-Real-IP %q; want 203.0.113.9", g)
	}
	if g := got.Header.Get("X-Forwarded-For"); g != "203.0.113.9, 127.0.0.5, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", g)
	}
}

func TestPortMapAndQuery(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/p")}}, Options{PortMap: map[int]int{8000: 80}})
	front := httptest.NewServer(e.proxy.Handler(8000, false))
	t.Cleanup(front.Close)
	u, _ := url.Parse(front.URL)
	for _, tt := range []struct{ path, wantURI string }{
		{"/p/x?", "/x?"},
		{"/p/x?a=1&b", "/x?a=1&b"},
		{"/p/x?a=%20;b", "/x?a=%20;b"},
		{"/p/x", "/x"},
	} {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tt.path)
		b, _ := io.ReadAll(c)
		c.Close()
		i := strings.Index(string(b), "\r\n\r\n")
		if i < 0 {
			t.Fatalf("no response for %s", tt.path)
		}
		body := string(b[i+4:])
		if j := strings.IndexByte(body, '{'); j > 0 { // chunked framing
			body = body[j:]
			body = body[:strings.LastIndexByte(body, '}')+1]
		}
		got := decodeEcho(t, body)
		if got.URI != tt.wantURI {
			t.Errorf("%s: upstream URI %q; want %q", tt.path, got.URI, tt.wantURI)
		}
		if p := got.Header.Get("X-Forwarded-Port"); p != "80" {
			t.Errorf("X-Forwarded-Port %q; want 80 (port_maps 8000:80)", p)
		}
	}
}

func TestStreamedBodyRetry(t *testing.T) {
	good := newEcho(t, "good")
	gh, gp := hostPort(t, good.URL)
	ups := &model.Upstream{ID: newID(), Name: "stream.upstream", Algorithm: "round-robin", Slots: 10000,
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/"}
	targets := []*model.Target{
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: refusedAddr(t), Weight: 100},
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: gh + ":" + strconv.Itoa(gp), Weight: 100},
	}
	s := svcTo(t, good.URL)
	s.Host = "stream.upstream"
	r := routeTo(s, "/")
	r.RequestBuffering = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Upstreams: []*model.Upstream{ups}, Targets: targets,
		Routes: []*model.Route{r}}, Options{})
	for i := 0; i < 4; i++ {
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, "part1-")
			time.Sleep(5 * time.Millisecond)
			io.WriteString(pw, "part2")
			pw.Close()
		}()
		res, body := e.do(t, "POST", "/x", nil, pr)
		if res.StatusCode != 200 {
			t.Fatalf("status %d; want 200 (connect failure retried before any body byte was sent)", res.StatusCode)
		}
		if got := decodeEcho(t, body).Body; got != "part1-part2" {
			t.Errorf("body %q", got)
		}
	}
}

func TestTransportPoolReuseAndEviction(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	e.do(t, "GET", "/", nil, nil)
	se1 := e.proxy.pool.get(e.cur.Load(), s, time.Now().UnixNano())

	// A new version of the service with the same transport fields shares
	// the transport; a changed timeout gets a new one.
	same := *s
	same.UpdatedAt++
	se2 := e.proxy.pool.get(e.cur.Load(), &same, time.Now().UnixNano())
	if se2.sp != se1.sp {
		t.Errorf("same transport key got a new svcProxy")
	}
	changed := *s
	changed.ReadTimeout = 1234
	se3 := e.proxy.pool.get(e.cur.Load(), &changed, time.Now().UnixNano())
	if se3.sp == se1.sp {
		t.Errorf("changed read_timeout shares the old transport")
	}
	if n := e.proxy.pool.sweep(time.Now().Add(-time.Hour).UnixNano()); n != 0 {
		t.Errorf("sweep evicted %d recently used transports", n)
	}
	if n := e.proxy.pool.sweep(time.Now().Add(time.Hour).UnixNano()); n != 2 {
		t.Errorf("sweep evicted %d; want 2", n)
	}
	if se := e.proxy.pool.get(e.cur.Load(), s, time.Now().UnixNano()); se.sp == se1.sp {
		t.Errorf("evicted transport returned again")
	}
	if res, _ := e.do(t, "GET", "/", nil, nil); res.StatusCode != http.StatusOK {
		t.Errorf("status %d after eviction", res.StatusCode)
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"text/plain;q=0.5", "*/*", "a/b;c=d;q=1.000", ";;;,,,", "text/html;q=0.", "x/*;q=0.001"} {
		f.Add(s)
	}
	valid := map[string]bool{mimeJSON: true, mimeHTML: true, mimeXML: true, mimePlain: true, mimeGRPC: true}
	f.Fuzz(func(t *testing.T, accept string) {
		got := negotiate(accept)
		if !valid[got] {
			t.Fatalf("negotiate(%q) = %q", accept, got)
		}
		if _, q, ok := parseMediaRange(accept); ok && (q < 0 || q > 1) {
			t.Fatalf("parseMediaRange(%q) q=%v", accept, q)
		}
	})
}

func FuzzEscapePath(f *testing.F) {
	for _, s := range []string{"/", "/a b", "/é/%41", "/\x00\xff", "/!$&'()*+,;=:@[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := escapePath(p)
		for i := 0; i < len(got); i++ {
			if !pathSafe(got[i]) {
				t.Fatalf("escapePath(%q) = %q has unsafe byte %q", p, got, got[i])
			}
		}
		unsafe := 0
		for i := 0; i < len(p); i++ {
			if !pathSafe(p[i]) {
				unsafe++
			}
		}
		if len(got) != len(p)+2*unsafe {
			t.Fatalf("escapePath(%q) = %q: length %d; want %d", p, got, len(got), len(p)+2*unsafe)
		}
		if again := escapePath(got); again != got {
			t.Fatalf("escapePath not idempotent: %q -> %q", got, again)
		}
	})
}

// TestPassiveHealth checks that proxied statuses and connection failures
// reach the balancer: a target answering 500 is taken out after one failure
// (passive unhealthy http_failures=1), as is a target refusing connections
// (tcp_failures=1).
func TestPassiveHealth(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	}))
	t.Cleanup(bad.Close)
	good := newEcho(t, "good")
	bh, bp := hostPort(t, bad.URL)
	gh, gp := hostPort(t, good.URL)
	ups := &model.Upstream{ID: newID(), Name: "passive.upstream", Algorithm: "round-robin", Slots: 10000,
		HashOn: "none", HashFallback: "none", HashOnCookiePath: "/"}
	ups.Healthchecks.Passive = model.PassiveHealthcheck{Type: "http",
		Healthy:   model.PassiveHealthy{HTTPStatuses: []int{200}},
		Unhealthy: model.PassiveUnhealthy{HTTPStatuses: []int{500}, HTTPFailures: 1, TCPFailures: 1}}
	targets := []*model.Target{
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: bh + ":" + strconv.Itoa(bp), Weight: 100},
		{ID: newID(), Upstream: &model.ForeignKey{ID: ups.ID}, Target: gh + ":" + strconv.Itoa(gp), Weight: 100},
	}
	s := svcTo(t, good.URL)
	s.Host, s.Retries = "passive.upstream", 0
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Upstreams: []*model.Upstream{ups}, Targets: targets,
		Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	fails := 0
	for i := 0; i < 10; i++ {
		res, _ := e.do(t, "GET", "/x", nil, nil)
		if res.StatusCode == 500 {
			fails++
		}
	}
	if fails != 1 {
		t.Errorf("%d of 10 requests answered 500; want 1 (the failing target is taken out after its first 500)", fails)
	}
}

// TestTransportPoolPrune checks that reloads which replace every service
// object do not grow the per-service cache: entries of service versions no
// longer in the snapshot are dropped, while the transport is kept.
func TestTransportPoolPrune(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	r := routeTo(s, "/")
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	e.do(t, "GET", "/", nil, nil)
	first := e.proxy.pool.get(e.cur.Load(), s, time.Now().UnixNano()).sp
	for i := 0; i < 50; i++ {
		s2 := *s // a new object for the same service, as a reload from the store gives
		e.cur.Store(buildSnap(t, e.cur.Load(), e.pool, &model.Config{Services: []*model.Service{&s2}, Routes: []*model.Route{r}}))
		if res, _ := e.do(t, "GET", "/", nil, nil); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for e.proxy.pool.entries() > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		e.do(t, "GET", "/", nil, nil)
	}
	if n := e.proxy.pool.entries(); n > 2 {
		t.Errorf("%d cache entries after 50 reloads of one service; want at most 2", n)
	}
	cur := e.cur.Load().Services[s.ID]
	if sp := e.proxy.pool.get(e.cur.Load(), cur, time.Now().UnixNano()).sp; sp != first {
		t.Errorf("the transport was not kept across reloads")
	}
}

// TestPluginPath: a path a plugin set cannot break the request line.
func TestPluginPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a b": "/a%20b", "": "/", "a": "/a", "/a\r\nX-Injected: yes": "/a%0D%0AX-Injected:%20yes",
		"/ok/%2F?x": "/ok/%2F?x", "/é": "/%C3%A9",
	} {
		if got := pluginPath(in); got != want {
			t.Errorf("pluginPath(%q) = %q; want %q", in, got, want)
		}
	}
}
