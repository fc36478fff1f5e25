package botdetection

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

func build(t testing.TB, cfg string) *BotDetection {
	t.Helper()
	return proxytest.Instance[*BotDetection](t, Schema, New, cfg)
}

const (
	chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	curl   = "curl/8.4.0"
)

func TestAccess(t *testing.T) {
	tests := []struct {
		name, cfg string
		ua        []string
		status    int
		msg       string
	}{
		{"browser", `{}`, []string{chrome}, 0, ""},
		{"curl", `{}`, []string{curl}, 0, ""},
		{"no user agent", `{}`, nil, 0, ""},
		{"googlebot", `{}`, []string{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, 403, "Forbidden"},
		{"bingbot", `{}`, []string{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"}, 403, "Forbidden"},
		{"python urllib", `{}`, []string{"Python-urllib/3.11"}, 403, "Forbidden"},
		{"apache httpclient", `{}`, []string{"Apache-HttpClient/4.5.13 (Java/11)"}, 403, "Forbidden"},
		{"facebook", `{}`, []string{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"}, 403, "Forbidden"},
		{"generic spider", `{}`, []string{"MySpider/1.0"}, 403, "Forbidden"},
		{"allow overrides built-in", `{"allow":["Googlebot"]}`, []string{"Googlebot/2.1"}, 0, ""},
		{"deny list", `{"deny":["^curl/"]}`, []string{curl}, 403, "Forbidden"},
		{"allow beats deny", `{"allow":["curl"],"deny":["curl"]}`, []string{curl}, 0, ""},
		{"user agent trimmed", `{"deny":["^curl/8\\.4\\.0$"]}`, []string{"  " + curl + " "}, 403, "Forbidden"},
		{"two user agents", `{}`, []string{chrome, curl}, 400, "Only one User-Agent header allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.cfg)
			for round := 0; round < 2; round++ { // second round answers from the cache
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Del("User-Agent")
				for _, ua := range tt.ua {
					r.Header.Add("User-Agent", ua)
				}
				c := &plugin.Ctx{Request: r}
				p.Access(c)
				e := c.Exited()
				if tt.status == 0 {
					if e != nil {
						t.Fatalf("round %d: got %d %q; want pass", round, e.Status, e.Message)
					}
					continue
				}
				if e == nil || e.Status != tt.status || e.Message != tt.msg {
					t.Fatalf("round %d: got %+v; want %d %q", round, e, tt.status, tt.msg)
				}
			}
		})
	}
}

// TestCacheBounded fills the shared verdict cache far past its caps (10x
// the entries, and User-Agents long enough to hit the byte cap first) and
// checks that it stays at its caps, that its gauges say so, that verdicts
// stay right, and that the heap after GC stays within a generous bound.
func TestCacheBounded(t *testing.T) {
	shared.flush()
	t.Cleanup(shared.flush)
	p := build(t, `{"deny":["evil"]}`)
	q := build(t, `{"allow":["evil"]}`)    // other lists: its own verdicts
	f := build(t, `{"allow":["^agent-"]}`) // fillers: answered by the first regex
	heap := proxytest.HeapInuse
	before := heap()
	pad := strings.Repeat("x", 600)
	for i := 0; i < 10*CacheSize; i++ {
		ua := fmt.Sprintf("agent-%d %s", i, pad)
		if i%1000 == 0 {
			ua = fmt.Sprintf("evil-%d", i)
			if p.verdict(ua) != matchDeny || q.verdict(ua) != matchAllow {
				t.Fatalf("%s: verdicts %d, %d; want deny for p, allow for q", ua, p.verdict(ua), q.verdict(ua))
			}
			continue
		}
		if v := f.verdict(ua); v != matchAllow {
			t.Fatalf("%s: verdict %d; want allow", ua, v)
		}
		n, b := shared.size()
		if n > CacheSize || b > CacheBytes {
			t.Fatalf("after %d agents: %d entries, %d bytes; caps %d, %d", i+1, n, b, CacheSize, CacheBytes)
		}
	}
	n, b := shared.size()
	if b < CacheBytes/4 {
		t.Errorf("cache holds %d bytes; want it filled to near its cap %d", b, CacheBytes)
	}
	if got := proxytest.Gauge(t, "sluice_bot_detection_cache_entries"); got != float64(n) {
		t.Errorf("sluice_bot_detection_cache_entries = %v; want %d", got, n)
	}
	if got := proxytest.Gauge(t, "sluice_bot_detection_cache_bytes"); got != float64(b) {
		t.Errorf("sluice_bot_detection_cache_bytes = %v; want %d", got, b)
	}
	if got := proxytest.Gauge(t, "sluice_bot_detection_cache_capacity_bytes"); got != CacheBytes {
		t.Errorf("sluice_bot_detection_cache_capacity_bytes = %v; want %d", got, CacheBytes)
	}
	// Over-long User-Agents are examined but never stored.
	long := strings.Repeat("y", MaxCachedUA+1)
	p.verdict(long)
	if _, ok := shared.get(cacheKey{cfg: p.cfg, ua: long}); ok {
		t.Error("a User-Agent over MaxCachedUA was cached")
	}
	// The accounted bytes (4 MiB cap) stand for the real heap: allow 4x
	// the cap plus slack for the runtime.
	if after := heap(); after > before+4*CacheBytes+8<<20 {
		t.Errorf("HeapInuse grew by %d MiB; want at most %d MiB", (after-before)>>20, (4*CacheBytes+8<<20)>>20)
	}
}

func TestBuiltInPatternsCompile(t *testing.T) {
	for i, p := range botPatterns {
		if _, err := regexp.Compile(p); err != nil {
			t.Errorf("pattern %d: %v", i, err)
		}
	}
}

func TestSchema(t *testing.T) {
	rec, err := Schema.Process(map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rec); string(b) != `{"allow":[],"deny":[]}` {
		t.Errorf("defaults = %s; want {\"allow\":[],\"deny\":[]}", b)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"deny":["(x"]}`, "deny.1: not a valid regex: (x"},
		{`{"allow":"x"}`, "allow: expected an array"},
		{`{"whitelist":["x"]}`, "whitelist: unknown field"},
	} {
		var in map[string]any
		json.Unmarshal([]byte(tt.in), &in)
		_, err := Schema.Process(in, nil)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Process(%s) = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func BenchmarkAccessCached(b *testing.B) {
	p := build(b, `{"deny":["evil"]}`)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", chrome)
	c := &plugin.Ctx{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		p.Access(c)
	}
}

func BenchmarkExamine(b *testing.B) {
	p := build(b, `{}`)
	b.ReportAllocs()
	for b.Loop() {
		p.examine(chrome)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"allow":["a+"],"deny":["b"]}`)
	f.Add(`{"deny":[1]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var in map[string]any
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		if rec, err := Schema.Process(in, nil); err == nil {
			if _, nerr := New(rec, plugin.Deps{}); nerr != nil {
				t.Fatalf("New rejected a valid config %s: %v", s, nerr)
			}
		}
	})
}

// TestFastMatcherEquivalent checks that the per-request matcher agrees with
// Kong's patterns as written on a corpus of browsers, tools and bots.
func TestFastMatcherEquivalent(t *testing.T) {
	corpus := []string{
		chrome, curl, "", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
		"Wget/1.21.4", "PostmanRuntime/7.36.0", "okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.31.0",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
		"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
		"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
		"Twitterbot/1.0", "LinkedInBot/1.0 (compatible; Mozilla/5.0)", "Slackbot-LinkExpanding 1.0",
		"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "facebookexternalhit/1.1",
		"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; MSIECrawler)",
		"Apache-HttpClient/4.5.13 (Java/11)", "Python-urllib/3.11", "Java/1.8.0_151 JNLP",
		"Scrapy/2.11.0 (+https://scrapy.org)", "ia_archiver", "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
		"WordPress/6.4; https://example.com", "CUBOT X30", "Robot 1.0", "a crawler", "WebCrawler/2.0",
		"favicon fetcher", "NING/1.0", "vortex/2.2", "Yeti/1.1", "Mediapartners-Google", "msnbot-media/1.1",
		"Microsoft Office Bot", "Yahoo! Slurp", "Xenu Link Sleuth/1.3.8", "Comodo HTTP(S) Crawler",
		"Mozilla/5.0 (Linux; Android 10; CUBOT_NOTE_7) AppleWebKit/537.36", "abot", "Ubot", "xxbot",
		"CUbot", "Cubot", "xCbot", "éBot", "aéBot", "SPIDER", "SpIdEr", "CRAWLING", "sCrape", "Scrape", "BAIDUSPIDER",
		"myfavicon_fetcher", "Charlotte/1.0", "charlotte", "Yeti", "xYeti", "a Yeti-x", "msnbot-media", "Nutch-1.0",
		"NewsGator/3.0", "Googlebot-Image/1.0", "AdsBot-Google-Mobile", "ichiro/mobile", "yacybot", "Yandexbot", "Yandex",
	}
	for _, ua := range corpus {
		if got, want := fastBots.match(ua), bots.MatchString(ua); got != want {
			t.Errorf("%q: fast matcher %v; Kong's patterns %v", ua, got, want)
		}
	}
}

// TestConcurrentRequests shares one instance (as the snapshot does) between
// goroutines; run with -race.
func TestConcurrentRequests(t *testing.T) {
	p := build(t, `{}`)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			ok := true
			for i := 0; i < 300; i++ {
				r := httptest.NewRequest("GET", "/", nil)
				ua := fmt.Sprintf("client-%d-%d", g, i%50)
				if i%3 == 0 {
					ua = "Googlebot/2.1"
				}
				r.Header.Set("User-Agent", ua)
				c := &plugin.Ctx{Request: r}
				p.Access(c)
				if blocked := c.Exited() != nil; blocked != (i%3 == 0) {
					ok = false
				}
			}
			done <- ok
		}(g)
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("a concurrent request got the wrong verdict")
		}
	}
}
