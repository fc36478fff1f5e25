package udplog

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"sluice/internal/plugin"
	"sluice/internal/proxytest"
)

// server returns a UDP socket and a channel of the datagrams it receives.
func server(t *testing.T) (*net.UDPConn, chan []byte) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	got := make(chan []byte, 100)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	return pc, got
}

func next(t *testing.T, got chan []byte) map[string]any {
	t.Helper()
	select {
	case b := <-got:
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("datagram %q is not one JSON document: %v", b, err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram reached the server")
	}
	return nil
}

func cfg(pc *net.UDPConn) string {
	return fmt.Sprintf(`{"host":"127.0.0.1","port":%d}`, pc.LocalAddr().(*net.UDPAddr).Port)
}

func TestOneDatagramPerEntry(t *testing.T) {
	pc, got := server(t)
	p := proxytest.Instance[*UDPLog](t, Schema, New, cfg(pc))
	defer p.Close()
	for i := range 3 {
		p.Log(&plugin.Ctx{Request: httptest.NewRequest("GET", fmt.Sprintf("/u%d", i), nil), ClientIP: "10.1.1.1", Status: 204})
	}
	for i := range 3 {
		m := next(t, got)
		req, _ := m["request"].(map[string]any)
		if req["uri"] != fmt.Sprintf("/u%d", i) || m["client_ip"] != "10.1.1.1" {
			t.Errorf("datagram %d: %v", i, m)
		}
	}
}

func TestThroughProxy(t *testing.T) {
	pc, got := server(t)
	g := proxytest.New(t, proxytest.EchoUpstream, map[string]string{"udp-log": cfg(pc)})
	if res, _ := g.Do(t, "GET", "/via-proxy", nil, ""); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	m := next(t, got)
	if req, _ := m["request"].(map[string]any); req["uri"] != "/via-proxy" {
		t.Errorf("entry %v", m)
	}
}

func TestConfigNeedsHostAndPort(t *testing.T) {
	if _, serr := Schema.Process(map[string]any{}, nil); serr == nil || serr.Fields["host"] != "required field missing" ||
		serr.Fields["port"] != "required field missing" {
		t.Errorf("empty config: %v; want host and port required", serr)
	}
}
