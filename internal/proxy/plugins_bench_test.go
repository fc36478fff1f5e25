package proxy

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"sluice/internal/model"
	"sluice/internal/plugin"
	_ "sluice/internal/plugin/prometheus"
)

// benchPlugins runs BenchmarkProxySmall's request through a route with the
// given plugins (built by mk from the route).
func benchPlugins(b *testing.B, mk func(r *model.Route) []*model.Plugin, hdr map[string]string) {
	s := svcTo(b, rawUpstream(b))
	r := routeTo(s, "/bench")
	alice := consumer("alice", nil)
	e := newPluginEnv(b, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r},
		Consumers: []*model.Consumer{alice}, KeyAuthCredentials: []*model.KeyAuthCredential{keyCred(alice, "bench-key")},
		Plugins: mk(r)})
	h := e.proxy.Handler(8000, false)
	req, _ := http.NewRequest("GET", "http://bench.test/bench/item?x=1", nil)
	req.RequestURI = "/bench/item?x=1"
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req = req.WithContext(context.Background())
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, req)
		if w.status != 200 || w.n != 200 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}

func BenchmarkProxyKeyAuth(b *testing.B) {
	benchPlugins(b, func(r *model.Route) []*model.Plugin {
		return []*model.Plugin{plug(b, "key-auth", nil, r, nil, nil)}
	}, map[string]string{"apikey": "bench-key"})
}

func BenchmarkProxyRateLimitingLocal(b *testing.B) {
	benchPlugins(b, func(r *model.Route) []*model.Plugin {
		return []*model.Plugin{rl(b, map[string]any{"minute": 1e12, "limit_by": "ip"}, r, nil, nil)}
	}, nil)
}

func BenchmarkProxyKeyAuthRateLimiting(b *testing.B) {
	benchPlugins(b, func(r *model.Route) []*model.Plugin {
		return []*model.Plugin{plug(b, "key-auth", nil, r, nil, nil), rl(b, map[string]any{"minute": 1e12, "hour": 1e13}, r, nil, nil)}
	}, map[string]string{"apikey": "bench-key"})
}

// promConfig turns on every metric family Kong's prometheus plugin has, so
// that the benchmark pays for all of them.
var promConfig = map[string]any{"status_code_metrics": true, "latency_metrics": true,
	"bandwidth_metrics": true, "upstream_health_metrics": true, "per_consumer": true}

func BenchmarkProxyPrometheus(b *testing.B) {
	benchPlugins(b, func(r *model.Route) []*model.Plugin {
		return []*model.Plugin{plug(b, "prometheus", promConfig, nil, nil, nil)}
	}, nil)
}

// BenchmarkProxyKeyAuthRateLimitingPrometheus is Kong's benchmark
// configuration with the prometheus plugin on top: the three together.
func BenchmarkProxyKeyAuthRateLimitingPrometheus(b *testing.B) {
	benchPlugins(b, func(r *model.Route) []*model.Plugin {
		return []*model.Plugin{plug(b, "key-auth", nil, r, nil, nil), rl(b, map[string]any{"minute": 1e12, "hour": 1e13}, r, nil, nil),
			plug(b, "prometheus", promConfig, nil, nil, nil)}
	}, map[string]string{"apikey": "bench-key"})
}

// BenchmarkChainAccess measures the plugins alone (access phase and the
// response headers they set), without the network: key-auth and
// rate-limiting local on one route.
func BenchmarkChainAccess(b *testing.B) {
	s := svcTo(b, "http://127.0.0.1:9")
	r := routeTo(s, "/bench")
	alice := consumer("alice", nil)
	e := newPluginEnv(b, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r},
		Consumers: []*model.Consumer{alice}, KeyAuthCredentials: []*model.KeyAuthCredential{keyCred(alice, "bench-key")},
		Plugins: []*model.Plugin{plug(b, "key-auth", nil, r, nil, nil), rl(b, map[string]any{"minute": 1e12, "hour": 1e13}, r, nil, nil)}})
	ch := e.cur.Load().Chains[r.ID]
	req, _ := http.NewRequest("GET", "http://bench.test/bench/item?x=1", nil)
	req.Header.Set("apikey", "bench-key")
	h := http.Header{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &plugin.Ctx{Request: req, Route: r, Service: s, ClientIP: "127.0.0.1"}
		ch.Access(c)
		if c.Exited() != nil {
			b.Fatal("exited")
		}
		clear(h)
		c.BeginResponse(200, h)
		c.HeaderFilter()
	}
}

// BenchmarkKongConfigSize runs Kong's benchmark shape (one service and
// route per i, one consumer with a key-auth credential per i, key-auth and
// rate-limiting local enabled globally) at two sizes, cycling over 100 of
// the routes and keys: allocations per request must not depend on the
// configuration's size.
func BenchmarkKongConfigSize(b *testing.B) {
	for _, n := range []int{10, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			u := rawUpstream(b)
			cfg := &model.Config{}
			for i := 0; i < n; i++ {
				s := svcTo(b, u)
				cfg.Services = append(cfg.Services, s)
				cfg.Routes = append(cfg.Routes, routeTo(s, "/r"+strconv.Itoa(i)))
				c := consumer("user-"+strconv.Itoa(i), nil)
				cfg.Consumers = append(cfg.Consumers, c)
				cfg.KeyAuthCredentials = append(cfg.KeyAuthCredentials, keyCred(c, "key-"+strconv.Itoa(i)))
			}
			cfg.Plugins = []*model.Plugin{plug(b, "key-auth", nil, nil, nil, nil),
				rl(b, map[string]any{"second": 1e9, "limit_by": "consumer"}, nil, nil, nil)}
			e := newPluginEnv(b, cfg)
			h := e.proxy.Handler(8000, false)
			m := min(n, 100)
			reqs := make([]*http.Request, m)
			for i := range reqs {
				req, _ := http.NewRequest("GET", "http://bench.test/r"+strconv.Itoa(i)+"/small", nil)
				req.RequestURI = "/r" + strconv.Itoa(i) + "/small"
				req.RemoteAddr = "127.0.0.1:40000"
				req.Header.Set("apikey", "key-"+strconv.Itoa(i))
				reqs[i] = req.WithContext(context.Background())
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.h)
				w.status, w.n = 0, 0
				h.ServeHTTP(w, reqs[i%m])
				if w.status != 200 || w.n != 200 {
					b.Fatalf("status %d, %d bytes", w.status, w.n)
				}
			}
		})
	}
}
