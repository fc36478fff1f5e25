package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// healthPath is the path backends answer for active health checks; it is
// never proxied to them.
const healthPath = "/_health"

// echo is what a backend answers to a proxied request: what it received.
type echo struct {
	Server  string      `json:"server"`
	Method  string      `json:"method"`
	URI     string      `json:"uri"` // request target exactly as received
	Host    string      `json:"host"`
	Proto   string      `json:"proto"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
}

// backend is an httptest upstream that echoes requests and can be told to
// fail health checks, fail requests, or answer slowly.
type backend struct {
	name        string
	srv         *httptest.Server
	hits        atomic.Int64 // proxied requests received
	healthHits  atomic.Int64 // health-check probes received
	failHealth  atomic.Bool  // answer 500 on healthPath
	failAll     atomic.Bool  // answer 500 on every proxied request
	delay       atomic.Int64 // nanoseconds to wait before answering
	serverHdr   string       // Server header to send, if any
	lastRequest atomic.Pointer[echo]
}

// newBackend starts a backend that is closed when the test ends.
func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// newBackendWithServer is newBackend with a Server response header.
func newBackendWithServer(t *testing.T, name, server string) *backend {
	t.Helper()
	b := &backend{name: name, serverHdr: server}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == healthPath {
		b.healthHits.Add(1)
		if b.failHealth.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	b.hits.Add(1)
	if d := time.Duration(b.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	e := &echo{
		Server:  b.name,
		Method:  r.Method,
		URI:     r.RequestURI,
		Host:    r.Host,
		Proto:   r.Proto,
		Headers: r.Header.Clone(),
		Body:    body.String(),
	}
	b.lastRequest.Store(e)
	if b.serverHdr != "" {
		w.Header().Set("Server", b.serverHdr)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Backend", b.name)
	if b.failAll.Load() {
		w.WriteHeader(http.StatusInternalServerError)
	}
	_ = json.NewEncoder(w).Encode(e)
}

// addr is the backend's host:port.
func (b *backend) addr() string {
	return b.srv.Listener.Addr().String()
}

// port is the backend's port as a string.
func (b *backend) port() string {
	_, p, _ := net.SplitHostPort(b.addr())
	return p
}

// url is the backend's base URL.
func (b *backend) url() string {
	return b.srv.URL
}

// decodeEcho parses a backend's answer; ok is false when the body is not an
// echo (for example a gateway-generated error).
func decodeEcho(body []byte) (echo, bool) {
	var e echo
	if err := json.Unmarshal(body, &e); err != nil || e.Server == "" {
		return echo{}, false
	}
	return e, true
}
