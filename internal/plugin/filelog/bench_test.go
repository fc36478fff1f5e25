package filelog

import (
	"net/http"
	"os"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// BenchmarkLog is the log phase of one request with ten request headers:
// serializing the record, encoding it and queueing the line (written to
// the null device by the writer goroutine).
func BenchmarkLog(b *testing.B) {
	rec, serr := Schema.Process(map[string]any{"path": os.DevNull}, nil)
	if serr != nil {
		b.Fatal(serr)
	}
	impl, err := New(rec, plugin.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	p := impl.(*FileLog)
	defer p.Close()
	r, _ := http.NewRequest("GET", "http://gw.example/api/items?page=2&sort=name", nil)
	r.RequestURI = "/api/items?page=2&sort=name"
	for _, h := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Cookie", "Referer", "User-Agent", "X-Forwarded-For", "X-Request-Id"} {
		r.Header.Set(h, "value-of-"+h)
	}
	name := "svc"
	c := &plugin.Ctx{Request: r, Status: 200, Service: &model.Service{ID: "s1", Name: &name, Host: "up", Port: 80},
		Route: &model.Route{ID: "r1"}, Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"512"}},
		Timing: plugin.Timing{Start: time.Now(), Kong: time.Millisecond, Upstream: 20 * time.Millisecond,
			Request: 22 * time.Millisecond, RequestSize: 400, ResponseSize: 700, UpstreamURI: "/api/items?page=2&sort=name",
			Tries: []plugin.Try{{IP: "10.0.0.1", Port: 80, Code: 200}}}}
	b.ReportAllocs()
	for b.Loop() {
		p.Log(c)
	}
	b.StopTimer()
	b.ReportMetric(float64(p.w.drops.Load())/float64(b.N), "drops/op")
}
