package declarative

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/model"
)

func mustJSONString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// generateConfig writes a config with n routes spread over n/10 services,
// half nested and half flat, with a plugin on every tenth route.
func generateConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	nsvc := n/10 + 1
	for s := 0; s < nsvc; s++ {
		fmt.Fprintf(&b, "- name: svc-%d\n  url: http://backend-%d.internal:8080/api\n  routes:\n", s, s)
		for r := s * 5; r < s*5+5 && r < n/2; r++ {
			fmt.Fprintf(&b, "  - name: route-%d\n    paths: [\"/svc%d/r%d\"]\n    methods: [GET, POST]\n", r, s, r)
			if r%10 == 0 {
				fmt.Fprintf(&b, "    plugins:\n    - name: rate-limiting\n      config: {minute: 100}\n")
			}
		}
	}
	b.WriteString("routes:\n")
	for r := n / 2; r < n; r++ {
		fmt.Fprintf(&b, "- name: route-%d\n  service: svc-%d\n  hosts: [h%d.example.com]\n  paths: [\"~/items/%d/\\\\d+$\"]\n", r, r%nsvc, r, r)
	}
	b.WriteString("consumers:\n")
	for c := 0; c < n/100+1; c++ {
		fmt.Fprintf(&b, "- username: user-%d\n  keyauth_credentials: [{key: key-%d}]\n", c, c)
	}
	return []byte(b.String())
}

func TestGeneratedConfigParses(t *testing.T) {
	cfg, err := Parse(generateConfig(1000), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Routes) != 1000 {
		t.Errorf("routes: got %d; want 1000", len(cfg.Routes))
	}
}

func BenchmarkParse10kRoutes(b *testing.B) {
	data := generateConfig(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, err := Parse(data, testOpts())
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Routes) != 10000 {
			b.Fatalf("routes: got %d", len(cfg.Routes))
		}
	}
}

func BenchmarkParse10kRoutesJSON(b *testing.B) {
	cfg, err := Parse(generateConfig(10000), testOpts())
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(map[string]any{"_format_version": "3.0", "routes": cfg.Routes, "services": cfg.Services})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(data, testOpts()); err != nil {
			b.Fatal(err)
		}
	}
}

// generateKongBench writes the shape of the proxy benchmark's sluice-10k
// target: n services with one route each and n consumers with one key-auth
// credential each.
func generateKongBench(n int) []byte {
	var b strings.Builder
	b.WriteString("_format_version: \"3.0\"\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "- name: s%d\n  url: http://127.0.0.1:9000\n  routes:\n  - name: r%d\n    paths:\n    - /r%d\n", i, i, i)
	}
	b.WriteString("consumers:\n")
	for i := range n {
		fmt.Fprintf(&b, "- username: c%d\n  keyauth_credentials:\n  - key: key-%d\n", i, i)
	}
	return []byte(b.String())
}

// peakHeap runs f and returns the largest heap (live and not yet swept
// objects) seen while it ran, sampled every 100µs: what the process's
// resident size follows.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return peak.Load()
}

// BenchmarkParse10kConsumers parses the benchmark's 10 000 routes and
// 10 000 consumers and reports the peak heap during the parse and the heap
// the result keeps.
func BenchmarkParse10kConsumers(b *testing.B) {
	data := generateKongBench(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var peak uint64
	var kept uint64
	for b.Loop() {
		var cfg *model.Config
		p := peakHeap(func() {
			var err error
			cfg, err = Parse(data, testOpts())
			if err != nil {
				b.Fatal(err)
			}
		})
		peak = max(peak, p)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		kept = ms.HeapAlloc
		if len(cfg.Routes) != 10000 || len(cfg.KeyAuthCredentials) != 10000 {
			b.Fatalf("routes, credentials: got %d, %d; want 10000 each", len(cfg.Routes), len(cfg.KeyAuthCredentials))
		}
		runtime.KeepAlive(cfg)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(kept)/(1<<20), "kept-heap-MiB")
}

// generateChurnJSON writes bench/churn's POST /config body: n services with
// one route each and n consumers with one key-auth credential each, as JSON,
// with two global plugins. gen changes a fifth of the paths and a tenth of
// the keys, as one of the bench's bulk changes does.
func generateChurnJSON(n, gen int) []byte {
	var b strings.Builder
	b.WriteString(`{"_format_version":"3.0","services":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		path := fmt.Sprintf("/r%d", i)
		if gen > 0 && i%5 == gen%5 {
			path = fmt.Sprintf("/r%d-g%d", i, gen)
		}
		fmt.Fprintf(&b, `{"name":"s%d","url":"http://127.0.0.1:9000","routes":[{"name":"r%d","paths":[%q]}]}`, i, i, path)
	}
	b.WriteString(`],"consumers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		key := fmt.Sprintf("key-%d", i)
		if gen > 0 && i%10 == gen%10 {
			key = fmt.Sprintf("key-%d-g%d", i, gen)
		}
		fmt.Fprintf(&b, `{"username":"c%d","keyauth_credentials":[{"key":%q}]}`, i, key)
	}
	b.WriteString(`],"plugins":[{"name":"key-auth","config":{"key_names":["apikey"]}},{"name":"rate-limiting","config":{"second":1000000000,"policy":"local","limit_by":"consumer"}}]}`)
	return []byte(b.String())
}

// BenchmarkParseChurn parses bench/churn's 5 000-route config over the
// previous parse's result, alternating two generations (what successive
// POST /config do), and reports the peak heap during the parse (above the
// live heap before it).
func BenchmarkParseChurn(b *testing.B) {
	const n = 5000
	prev, err := Parse(generateChurnJSON(n, 0), testOpts())
	if err != nil {
		b.Fatal(err)
	}
	bodies := [2][]byte{generateChurnJSON(n, 1), generateChurnJSON(n, 2)}
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	var peak, base uint64
	i := 0
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = ms.HeapAlloc
		var cfg *model.Config
		p := peakHeap(func() {
			opts := testOpts()
			opts.Previous = prev
			var err error
			cfg, err = Parse(bodies[i%2], opts)
			if err != nil {
				b.Fatal(err)
			}
		})
		i++
		peak = max(peak, p-min(p, base))
		if len(cfg.Routes) != n || len(cfg.KeyAuthCredentials) != n {
			b.Fatalf("routes, credentials: got %d, %d; want %d each", len(cfg.Routes), len(cfg.KeyAuthCredentials), n)
		}
		prev = cfg
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-over-live-MiB")
	b.ReportMetric(float64(len(bodies[0]))/(1<<20), "body-MiB")
}
