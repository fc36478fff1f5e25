package plugin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzLogQueryMap checks that arbitrary query strings parse without panics and
// that every argument Go's parser finds is present.
func FuzzLogQueryMap(f *testing.F) {
	for _, s := range []string{"", "a=1&b", "a=1&a=2&a", "%zz=%41+b", "&&=&", "k=%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m := QueryTable(raw)
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for k := range vals {
			if _, ok := m[k]; !ok {
				t.Fatalf("%q: argument %q missing from %v", raw, k, m)
			}
		}
	})
}

// TestLogEntryFromTiming checks that latencies, sizes, started_at,
// upstream_uri and tries come from Ctx.Timing with Kong's field names
// (kong/pdk/log.lua serialize, 3.x) and units.
func TestLogEntryFromTiming(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_123)
	r, _ := http.NewRequest("GET", "http://gw.example/a?x=1", nil)
	r.RequestURI = "/a?x=1"
	c := &Ctx{Request: r, Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}}
	c.Timing = Timing{Start: start, Kong: 3*time.Millisecond + 900*time.Microsecond, Upstream: 40 * time.Millisecond,
		Request: 50 * time.Millisecond, RequestSize: 321, ResponseSize: 4567, UpstreamURI: "/up/a?x=1",
		Tries: []Try{{IP: "10.0.0.1", Port: 8080, Balancer: 2 * time.Millisecond, Code: 0},
			{IP: "10.0.0.2", Port: 8081, Balancer: 1500 * time.Microsecond, Code: 503},
			{IP: "10.0.0.3", Port: 8082, Balancer: 250 * time.Microsecond, Code: 200}}}
	b, err := json.Marshal(NewLogEntry(c, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	lat := m["latencies"].(map[string]any)
	tries := m["tries"].([]any)
	try := func(i int) map[string]any { return tries[i].(map[string]any) }
	checks := []struct {
		what      string
		got, want any
	}{
		{"started_at", m["started_at"], float64(1_700_000_000_123)},
		{"upstream_uri", m["upstream_uri"], "/up/a?x=1"},
		{"request.size", m["request"].(map[string]any)["size"], float64(321)},
		{"response.size", m["response"].(map[string]any)["size"], float64(4567)},
		{"latencies.kong", lat["kong"], float64(3)},
		{"latencies.proxy", lat["proxy"], float64(40)},
		{"latencies.request", lat["request"], float64(50)},
		{"latencies.receive", lat["receive"], float64(6)}, // 50 - 3.9 - 40 = 6.1 ms
		{"len(tries)", len(tries), 3},
		{"tries[0].ip", try(0)["ip"], "10.0.0.1"},
		{"tries[0].port", try(0)["port"], float64(8080)},
		{"tries[0].balancer_latency", try(0)["balancer_latency"], float64(2)},
		{"tries[0].balancer_latency_ns", try(0)["balancer_latency_ns"], float64(2_000_000)},
		{"tries[0].state", try(0)["state"], "failed"},
		{"tries[0].code", try(0)["code"], nil},
		{"tries[1].state", try(1)["state"], "next"},
		{"tries[1].code", try(1)["code"], float64(503)},
		{"tries[1].balancer_latency", try(1)["balancer_latency"], float64(1)},
		{"tries[2].state", try(2)["state"], nil},
		{"tries[2].code", try(2)["code"], nil},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v; want %v", ck.what, ck.got, ck.want)
		}
	}
	// The entry owns its tries: the proxy reuses Timing's storage.
	c.Timing.Tries[0].IP = "changed"
	if e := NewLogEntry(c, time.Now()); e.Tries[0].IP != "changed" {
		t.Error("a new entry does not see the current tries")
	}
	if !strings.Contains(string(b), `"ip":"10.0.0.1"`) {
		t.Errorf("entry encoded before the change lost its try: %s", b)
	}
}

// TestLogEntryWithoutUpstream: a response the gateway produced has proxy
// latency -1, receive 0, no tries and an empty upstream_uri, as in Kong.
func TestLogEntryWithoutUpstream(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://gw.example/a", nil)
	c := &Ctx{Request: r, Status: 401}
	c.Terminate(&Exit{Status: 401, Message: "Unauthorized"})
	c.Timing = Timing{Start: time.Now(), Kong: 7 * time.Millisecond, Upstream: -1, Request: 7 * time.Millisecond,
		RequestSize: 80, ResponseSize: 200}
	b, _ := json.Marshal(NewLogEntry(c, time.Now()))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	lat := m["latencies"].(map[string]any)
	if lat["proxy"] != float64(-1) || lat["receive"] != float64(0) || lat["kong"] != float64(7) || lat["request"] != float64(7) {
		t.Errorf("latencies = %v; want kong 7, proxy -1, request 7, receive 0", lat)
	}
	if _, ok := m["tries"]; ok {
		t.Errorf("tries present without an upstream: %v", m["tries"])
	}
	if m["upstream_uri"] != "" || m["source"] != "exit" {
		t.Errorf("upstream_uri %v, source %v; want empty and exit", m["upstream_uri"], m["source"])
	}
}

// TestLogEntryTimingUnknown: a Ctx no proxy filled in (unit tests of other
// plugins) still serializes, with started_at from now and proxy -1.
func TestLogEntryTimingUnknown(t *testing.T) {
	now := time.UnixMilli(1_600_000_000_000)
	e := NewLogEntry(&Ctx{}, now)
	if e.StartedAt != now.UnixMilli() || e.Latencies != (LogLatencies{Proxy: -1}) || e.Tries != nil {
		t.Errorf("entry = started_at %d, latencies %+v, tries %v", e.StartedAt, e.Latencies, e.Tries)
	}
}
