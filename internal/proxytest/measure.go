package proxytest

import (
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/metrics"
)

// RawExchange sends req (which asks for Connection: close) on a new
// connection to the gateway and reads the response until the server closes
// it; it fails the test unless the answer is a 200. It returns the bytes
// written and read: what nginx counts as $request_length and $bytes_sent.
func (g *Gateway) RawExchange(t testing.TB, req string) (sent, received int) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 200 ") {
		t.Fatalf("response %q; want a 200", b)
	}
	return len(req), len(b)
}

// HeapInuse collects garbage and returns the bytes of heap spans in use,
// for tests that fill a cache or queue past its cap and bound the growth.
func HeapInuse() uint64 {
	runtime.GC()
	runtime.GC() // the first cycle's sweep may leave spans in use
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Gauge reads an unlabelled metric from the default registry's exposition;
// it fails the test when the metric is not exported.
func Gauge(t testing.TB, name string) float64 {
	t.Helper()
	var sb strings.Builder
	if err := metrics.Default().WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("%s not exported", name)
	return 0
}

// UDPServer listens on a UDP port of 127.0.0.1 for the test and returns
// the port and the datagrams it receives, each as a string.
func UDPServer(t testing.TB) (int, chan string) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	got := make(chan string, 1000)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port, got
}

// Receive returns the next message from got, failing the test after 5 s.
func Receive(t testing.TB, got chan string) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	return ""
}

// Nothing checks that got receives nothing within 100 ms.
func Nothing(t testing.TB, got chan string) {
	t.Helper()
	select {
	case m := <-got:
		t.Errorf("unexpected message %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}
