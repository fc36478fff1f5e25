package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

func text(t *testing.T, r *Registry) string {
	t.Helper()
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "reqs_total", Help: "Requests."}, "code", "route")
	c.With("200", "b").Inc()
	c.With("200", "a").Add(2.5)
	c.With("500", "a\"x\\\n").Inc()
	g := r.NewGaugeVec(Opts{Name: "up"})
	g.With().Set(1)
	h := r.NewHistogramVec(Opts{Name: "lat_ms"}, []float64{1, 10}, "route")
	for _, x := range []float64{0.5, 1, 5, 100} {
		h.With("r").Observe(x)
	}
	got := text(t, r)
	want := `# HELP reqs_total Requests.
# TYPE reqs_total counter
reqs_total{code="200",route="a"} 2.5
reqs_total{code="200",route="b"} 1
reqs_total{code="500",route="a\"x\\\n"} 1
# TYPE up gauge
up 1
# TYPE lat_ms histogram
lat_ms_bucket{route="r",le="1"} 2
lat_ms_bucket{route="r",le="10"} 3
lat_ms_bucket{route="r",le="+Inf"} 4
lat_ms_sum{route="r"} 106.5
lat_ms_count{route="r"} 4
`
	// The dropped-series counter has no series yet, so it is not written.
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSeriesCap(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "x_total", MaxSeries: 10}, "id")
	for i := range 1000 {
		c.With(fmt.Sprint(i)).Inc()
	}
	if got := c.Len(); got != 10 {
		t.Fatalf("series kept: got %d; want 10", got)
	}
	if got := r.dropped.With("x_total").Value(); got != 990 {
		t.Fatalf("dropped: got %v; want 990", got)
	}
	// Known series still count.
	c.With("3").Inc()
	if got := c.With("3").Value(); got != 2 {
		t.Fatalf("series 3: got %v; want 2", got)
	}
	if !strings.Contains(text(t, r), `sluice_metrics_dropped_series_total{metric="x_total"} 990`) {
		t.Fatalf("dropped counter not exposed:\n%s", text(t, r))
	}
}

func TestWrongLabelCountIgnored(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "y_total"}, "a", "b")
	c.With("only-one").Inc()
	if got := c.Len(); got != 0 {
		t.Fatalf("series: got %d; want 0", got)
	}
}

func TestReRegisterReturnsSame(t *testing.T) {
	r := NewRegistry()
	a := r.NewCounterVec(Opts{Name: "z_total"}, "a")
	a.With("1").Inc()
	b := r.NewCounterVec(Opts{Name: "z_total"}, "a")
	if got := b.With("1").Value(); got != 1 {
		t.Fatalf("got %v; want 1", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on a different shape")
		}
	}()
	r.NewGaugeVec(Opts{Name: "z_total"}, "a")
}

func TestConcurrentIncrements(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "c_total"}, "k")
	h := r.NewHistogramVec(Opts{Name: "h"}, []float64{1}, "k")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := fmt.Sprint((g + i) % 4)
				c.With(k).Inc()
				h.With(k).Observe(2)
			}
		}()
	}
	wg.Wait()
	var sum float64
	var n uint64
	for k := range 4 {
		sum += c.With(fmt.Sprint(k)).Value()
		n += h.With(fmt.Sprint(k)).Count()
	}
	if sum != 8000 || n != 8000 {
		t.Fatalf("got %v counts and %d observations; want 8000 each", sum, n)
	}
}

func TestHandlerWritesExtras(t *testing.T) {
	r := NewRegistry()
	r.NewGaugeVec(Opts{Name: "g"}).With().Set(3)
	srv := httptest.NewServer(r.Handler(func(w io.Writer) error {
		_, err := io.WriteString(w, "extra_metric 7\n")
		return err
	}, func(io.Writer) error { return errors.New("stop") }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("content type: got %q", ct)
	}
	if got, want := string(b), "# TYPE g gauge\ng 3\nextra_metric 7\n"; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func TestKnownSeriesNoAllocs(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "a_total"}, "service", "route", "code")
	h := r.NewHistogramVec(Opts{Name: "b"}, []float64{1, 5, 10}, "service", "route")
	svc, rt, code := "svc", "route", "200"
	c.With(svc, rt, code).Inc()
	h.With(svc, rt).Observe(3)
	if n := testing.AllocsPerRun(100, func() {
		c.With(svc, rt, code).Inc()
		h.With(svc, rt).Observe(3)
	}); n != 0 {
		t.Fatalf("allocs per observation: got %v; want 0", n)
	}
}

func BenchmarkCounterKnownSeries(b *testing.B) {
	r := NewRegistry()
	c := r.NewCounterVec(Opts{Name: "a_total"}, "service", "route", "code")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.With("svc", "route", "200").Inc()
		}
	})
}

func BenchmarkHistogramKnownSeries(b *testing.B) {
	r := NewRegistry()
	h := r.NewHistogramVec(Opts{Name: "b"}, []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000}, "service", "route")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.With("svc", "route").Observe(42)
		}
	})
}

func TestGaugeNamesAndSum(t *testing.T) {
	r := NewRegistry()
	g := r.NewGaugeVec(Opts{Name: "x_cache_bytes", Help: "h"}, "by")
	r.NewCounterVec(Opts{Name: "x_total", Help: "h"})
	r.NewGaugeVec(Opts{Name: "y_bytes", Help: "h"})
	g.With("a").Set(100)
	g.With("b").Set(28)
	if got := r.GaugeNames(); !slices.Equal(got, []string{"x_cache_bytes", "y_bytes"}) {
		t.Errorf("GaugeNames = %v", got)
	}
	if got := r.GaugeSum("x_cache_bytes"); got != 128 {
		t.Errorf("GaugeSum = %v, want 128", got)
	}
	if got := r.GaugeSum("x_total") + r.GaugeSum("nope"); got != 0 {
		t.Errorf("GaugeSum of a counter or a missing name = %v, want 0", got)
	}
}
