package httplog

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// TestTimingThroughProxy: an upstream that answers after 120 ms; the record
// the collector receives has the proxy's latencies, sizes, upstream_uri and
// the one try.
func TestTimingThroughProxy(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	gw := proxytest.New(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		_, _ = io.WriteString(w, strings.Repeat("b", 2000))
	}), map[string]string{"http-log": `{"http_endpoint":"` + srv.URL + `/timing"}`})
	gw.Do(t, "POST", "/t?y=2", nil, strings.Repeat("q", 700))
	waitEntries(t, col, 1)
	col.mu.Lock()
	payload := col.payloads[0]
	col.mu.Unlock()
	var e struct {
		Latencies   struct{ Kong, Proxy, Request, Receive float64 }
		Request     struct{ Size float64 }
		Response    struct{ Size float64 }
		UpstreamURI string `json:"upstream_uri"`
		Tries       []struct {
			IP              string
			Port            int
			BalancerLatency *float64 `json:"balancer_latency"`
		}
	}
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		t.Fatal(err)
	}
	l := e.Latencies
	if l.Proxy < 120 || l.Request < l.Proxy || l.Kong < 0 || l.Receive < 0 {
		t.Errorf("latencies %+v; want proxy >= 120 ms, request >= proxy, none negative", l)
	}
	// The body alone is 700 bytes in and 2000 out; headers add more.
	if e.Request.Size < 700+50 || e.Response.Size < 2000+50 {
		t.Errorf("request.size %v, response.size %v; want the bodies plus their heads", e.Request.Size, e.Response.Size)
	}
	if e.UpstreamURI != "/t?y=2" || len(e.Tries) != 1 || e.Tries[0].IP != "127.0.0.1" || e.Tries[0].BalancerLatency == nil {
		t.Errorf("upstream_uri %q, tries %+v; want /t?y=2 and one try to 127.0.0.1 with a balancer_latency", e.UpstreamURI, e.Tries)
	}
}
