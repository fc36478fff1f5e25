package responseratelimiting

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func instance(t testing.TB, cfg string) *RRL {
	t.Helper()
	p := proxytest.Instance[*RRL](t, Schema, New, cfg)
	t.Cleanup(p.Close)
	return p
}

// exchange is one request through the instance's three phases, with the
// upstream answering quota (X-Kong-Limit values).
type exchange struct {
	upstream http.Header // the request's headers as sent upstream
	status   int
	header   http.Header // the response's headers
	exit     *plugin.Exit
	empty    bool // ExitEmpty dropped the body
}

func roundTrip(p *RRL, ip string, quota ...string) exchange {
	r := httptest.NewRequest("GET", "/", nil)
	c := &plugin.Ctx{Request: r, ClientIP: ip}
	p.Access(c)
	if e := c.Exited(); e != nil {
		return exchange{exit: e, status: e.Status}
	}
	h := http.Header{}
	for _, q := range quota {
		h.Add("X-Kong-Limit", q)
	}
	c.BeginResponse(200, h)
	p.HeaderFilter(c)
	p.Log(c)
	return exchange{upstream: r.Header, status: c.Status, header: h, empty: c.BodyDiscarded()}
}

func expectHeaders(t *testing.T, step int, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("request %d: %s = %q; want %q", step, k, got, v)
		}
	}
}

const videoImage = `{"limits":{"video":{"minute":20,"hour":40},"image":{"minute":10}}}`

// Kong's spec: video=2, image=1 per response; each response shows what is
// left after it, the upstream sees what was left before it, and the quota
// header does not reach the client.
func TestCountsAndHeaders(t *testing.T) {
	p := instance(t, videoImage)
	for n := 1; n <= 5; n++ {
		x := roundTrip(p, "10.0.0.1", "video=2, image=1")
		if x.status != 200 {
			t.Fatalf("request %d: status %d", n, x.status)
		}
		expectHeaders(t, n, x.upstream, map[string]string{
			"X-RateLimit-Remaining-video": fmt.Sprint(20 - 2*(n-1)),
			"X-RateLimit-Remaining-image": fmt.Sprint(10 - (n - 1)),
		})
		expectHeaders(t, n, x.header, map[string]string{
			"X-RateLimit-Limit-video-minute":     "20",
			"X-RateLimit-Remaining-video-minute": fmt.Sprint(20 - 2*n),
			"X-RateLimit-Limit-video-hour":       "40",
			"X-RateLimit-Remaining-video-hour":   fmt.Sprint(40 - 2*n),
			"X-RateLimit-Limit-image-minute":     "10",
			"X-RateLimit-Remaining-image-minute": fmt.Sprint(10 - n),
			"X-Kong-Limit":                       "",
		})
	}
	// another client has its own counters
	if x := roundTrip(p, "10.0.0.2", "image=1"); x.header.Get("X-RateLimit-Remaining-image-minute") != "9" {
		t.Errorf("another client: remaining %q; want 9", x.header.Get("X-RateLimit-Remaining-image-minute"))
	}
}

// A response that uses a limit already used up is answered 429 with an
// empty body, and is not counted; a response without the quota header
// counts nothing; unknown names are ignored.
func TestExhausted(t *testing.T) {
	p := instance(t, `{"limits":{"image":{"minute":3}}}`)
	for n := 1; n <= 3; n++ {
		if x := roundTrip(p, "10.0.0.1", "image=1, test=10"); x.status != 200 {
			t.Fatalf("request %d: status %d", n, x.status)
		}
	}
	x := roundTrip(p, "10.0.0.1") // no header: passes, counts nothing
	if x.status != 200 || x.header.Get("X-RateLimit-Remaining-image-minute") != "0" {
		t.Fatalf("without a quota header: status %d, remaining %q", x.status, x.header.Get("X-RateLimit-Remaining-image-minute"))
	}
	x = roundTrip(p, "10.0.0.1", "image=1")
	if x.status != 429 || !x.empty {
		t.Fatalf("over the limit: status %d, body dropped %v; want 429 with an empty body", x.status, x.empty)
	}
	if got := p.local.Get("10.0.0.1", "image", 1, time.Now()); got != 3 {
		t.Errorf("count after the refused response %d; want 3 (a refused response is not counted)", got)
	}
	// a response using another limit, or none, still passes
	if x = roundTrip(p, "10.0.0.1", "image=0"); x.status != 200 {
		t.Errorf("an increment of 0 over an exhausted limit: status %d; want 200", x.status)
	}
}

// Several X-Kong-Limit headers are one entry each.
func TestRepeatedHeader(t *testing.T) {
	p := instance(t, videoImage)
	roundTrip(p, "10.0.0.1", "video=2", "image=1")
	x := roundTrip(p, "10.0.0.1")
	expectHeaders(t, 2, x.header, map[string]string{
		"X-RateLimit-Remaining-video-minute": "18", "X-RateLimit-Remaining-image-minute": "9"})
}

func TestBlockOnFirstViolation(t *testing.T) {
	p := instance(t, `{"block_on_first_violation":true,"limits":{"video":{"minute":2}}}`)
	roundTrip(p, "10.0.0.1", "video=2")
	x := roundTrip(p, "10.0.0.1", "video=2")
	if x.exit == nil || x.status != 429 || x.exit.Message != "API rate limit exceeded for 'video'" {
		t.Fatalf("exit %+v; want 429 API rate limit exceeded for 'video'", x.exit)
	}
}

func TestHideClientHeaders(t *testing.T) {
	p := instance(t, `{"hide_client_headers":true,"limits":{"video":{"minute":2}}}`)
	x := roundTrip(p, "10.0.0.1", "video=1")
	for k := range x.header {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit") || strings.EqualFold(k, "X-Kong-Limit") {
			t.Errorf("header %s sent with hide_client_headers", k)
		}
	}
}

// The consumer, then the credential, then the IP identify the client.
func TestLimitByConsumer(t *testing.T) {
	p := instance(t, `{"limits":{"video":{"minute":10}}}`)
	r := httptest.NewRequest("GET", "/", nil)
	c := &plugin.Ctx{Request: r, ClientIP: "10.0.0.1", Consumer: &model.Consumer{ID: "c1"}}
	if id := p.identifier(c); id != "c1" {
		t.Errorf("identifier %q; want the consumer's id", id)
	}
	c.Consumer, c.Credential = nil, "cred1"
	if id := p.identifier(c); id != "cred1" {
		t.Errorf("identifier %q; want the credential's id", id)
	}
	c.Credential = ""
	if id := p.identifier(c); id != "10.0.0.1" {
		t.Errorf("identifier %q; want the client's IP", id)
	}
}

func TestSchema(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{`{}`, `"limits":"required field missing"`},
		{`{"limits":{}}`, `length must be at least 1`},
		{`{"limits":{"video":{"second":10,"minute":5}}}`, `the limit for minute(5.0) cannot be lower than the limit for second(10.0)`},
		{`{"limits":{"video":{}}}`, `at least one of`},
		{`{"limits":{"video":{"minute":0}}}`, `value must be greater than 0`},
		{`{"policy":"redis","limits":{"video":{"minute":1}}}`, `required field missing`},
	} {
		var in map[string]any
		if err := json.Unmarshal([]byte(tc.cfg), &in); err != nil {
			t.Fatal(err)
		}
		_, serr := Schema.Process(in, nil)
		if serr == nil {
			t.Errorf("%s accepted", tc.cfg)
			continue
		}
		b, _ := json.Marshal(serr)
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: errors %s; want %q", tc.cfg, b, tc.want)
		}
	}
	plugin.SetDBless(true)
	defer plugin.SetDBless(false)
	_, serr := Schema.Process(map[string]any{"policy": "cluster", "limits": map[string]any{"v": map[string]any{"minute": 1}}}, nil)
	if b, _ := json.Marshal(serr); !strings.Contains(string(b), "expected one of: local, redis") {
		t.Errorf("policy cluster without a database: %s", b)
	}
}

// Through the proxy: the upstream's quota header is counted, and the
// response that goes over the limit is refused with an empty body.
func TestThroughProxy(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Kong-Limit", "image=1")
		w.Header().Set("X-Seen-Remaining", r.Header.Get("X-RateLimit-Remaining-image"))
		fmt.Fprint(w, "picture")
	})
	g := proxytest.New(t, up, map[string]string{Name: `{"limits":{"image":{"minute":2}}}`})
	for n := 1; n <= 3; n++ {
		var res *http.Response
		var body string
		// the log phase counts after the response is sent: wait for it
		deadline := time.Now().Add(2 * time.Second)
		for {
			res, body = g.Do(t, "GET", "/", nil, "")
			if n < 3 || res.StatusCode == 429 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		switch {
		case n < 3 && (res.StatusCode != 200 || body != "picture"):
			t.Fatalf("request %d: %d %q", n, res.StatusCode, body)
		case n == 3 && (res.StatusCode != 429 || body != ""):
			t.Fatalf("request %d: %d %q; want 429 with an empty body", n, res.StatusCode, body)
		}
		if res.Header.Get("X-Kong-Limit") != "" {
			t.Errorf("request %d: the quota header reached the client", n)
		}
		if n == 1 && res.Header.Get("X-Seen-Remaining") != "2" {
			t.Errorf("upstream saw remaining %q; want 2", res.Header.Get("X-Seen-Remaining"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStoreBounded(t *testing.T) {
	s := NewStore(64)
	at := time.Now()
	for i := 0; i < 1000; i++ {
		s.Add(fmt.Sprint("client", i), "video", at, 1)
	}
	if n := s.Len(); n > 64 {
		t.Errorf("store holds %d counters; want at most 64", n)
	}
	if got := s.Get("client999", "video", 0, at); got != 1 {
		t.Errorf("the newest client's count %d; want 1", got)
	}
}

func TestQueueEncoding(t *testing.T) {
	at := time.Unix(1764000000, 0)
	id, name, got, n, ok := decode(encode("10.0.0.1", "vid eo", at.Unix(), -3))
	if !ok || id != "10.0.0.1" || name != "vid eo" || !got.Equal(at) || n != -3 {
		t.Errorf("decode = %q %q %v %d %v", id, name, got, n, ok)
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	p := instance(b, videoImage)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(p, "10.0.0.1", "video=1")
	}
}

// A plugin entity that keeps its id and changes from another counting
// plugin finds that plugin's state in the pool: it must not take it.
func TestStatePoolSharedID(t *testing.T) {
	pool := plugin.NewStatePool()
	pool.Get("p1", func() any { return "rate-limiting's store" })
	pool.Get("p1/"+Name, func() any { return 42 })
	rec, serr := Schema.Process(map[string]any{"limits": map[string]any{"v": map[string]any{"minute": 1}}}, nil)
	if serr != nil {
		t.Fatal(serr)
	}
	impl, err := New(rec, plugin.Deps{PluginID: "p1", State: pool})
	if err != nil {
		t.Fatal(err)
	}
	if impl.(*RRL).local == nil {
		t.Error("no local store")
	}
}

// FuzzParse: any upstream quota header gives increments of configured
// names only, each a finite number, without a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"video=2, image=1", "image=", "=1", "video=1=2", "video=NaN", " video = 3 ,test=1", ""} {
		f.Add(s, "image=4")
	}
	p := &RRL{limits: []limit{{name: "video"}, {name: "image"}}}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, values := range [][]string{{a}, {a, b}} {
			for name, n := range p.parse(values) {
				if name != "video" && name != "image" {
					t.Fatalf("%q: increment for unknown name %q", values, name)
				}
				if n != n || n > 1e308 || n < -1e308 {
					t.Fatalf("%q: increment %v", values, n)
				}
			}
		}
	})
}
