package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"sluice/internal/model"
)

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func newH2CServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// TestGRPCTrailers proxies a gRPC-style exchange over h2c end to end: the
// upstream answers with a body and grpc-status/grpc-message trailers, which
// must reach the client.
func TestGRPCTrailers(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "want h2", http.StatusHTTPVersionNotSupported)
			return
		}
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.Header().Set("X-Te", r.Header.Get("Te"))
		w.WriteHeader(200)
		w.Write(append([]byte("echo:"), in...))
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "fine")
	}))
	s := svcTo(t, up.URL)
	s.Protocol = "grpc"
	r := routeTo(s, "/pkg.Svc/")
	r.Protocols = []string{"grpc", "grpcs"}
	r.StripPath = false
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	e.front.Close()
	front := newH2CServer(t, e.proxy)

	c := h2cClient()
	req, _ := http.NewRequest("POST", front.URL+"/pkg.Svc/Method", bytes.NewReader([]byte{0, 0, 0, 0, 2, 'h', 'i'}))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("status %d proto %d; want 200 over HTTP/2 (body %q)", res.StatusCode, res.ProtoMajor, body)
	}
	if want := "echo:\x00\x00\x00\x00\x02hi"; string(body) != want {
		t.Errorf("body %q; want %q", body, want)
	}
	if g := res.Trailer.Get("Grpc-Status"); g != "0" {
		t.Errorf("trailer grpc-status %q; want 0 (trailers %v)", g, res.Trailer)
	}
	if g := res.Trailer.Get("Grpc-Message"); g != "fine" {
		t.Errorf("trailer grpc-message %q; want fine", g)
	}
	if g := res.Header.Get("X-Te"); g != "trailers" {
		t.Errorf("upstream saw TE %q; want trailers", g)
	}
	if g := res.Header.Get("Via"); g != "2 kong/3.9.1" {
		t.Errorf("Via %q; want 2 kong/3.9.1", g)
	}

	t.Run("non-grpc request on grpc route", func(t *testing.T) {
		res, err := c.Post(front.URL+"/pkg.Svc/Method", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		rid := res.Header.Get("X-Kong-Request-Id")
		if res.StatusCode != 415 || string(b) != kongBody("json", "Non-gRPC request matched gRPC route", rid) {
			t.Errorf("got %d %q; want 415 with Kong's body", res.StatusCode, b)
		}
	})
	t.Run("grpc over http/1.1", func(t *testing.T) {
		res, err := client.Post(front.URL+"/pkg.Svc/Method", "application/grpc", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 426 || res.Header.Get("Upgrade") != "HTTP/2" {
			t.Errorf("got %d Upgrade %q; want 426 Upgrade: HTTP/2", res.StatusCode, res.Header.Get("Upgrade"))
		}
	})
	t.Run("grpc no route", func(t *testing.T) {
		req, _ := http.NewRequest("POST", front.URL+"/other.Svc/M", nil)
		req.Header.Set("Content-Type", "application/grpc")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 404 || len(b) != 0 || res.Header.Get("Grpc-Status") != "5" || res.Header.Get("Grpc-Message") != "NotFound" {
			t.Errorf("got %d %q %v; want 404 with grpc-status 5 NotFound and no body", res.StatusCode, b, res.Header)
		}
	})
}

// TestHTTPSUpstream proxies to a TLS upstream (service protocol https), whose
// certificate is not verified unless tls_verify is on, as in Kong.
func TestHTTPSUpstream(t *testing.T) {
	var sni string
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.Host)
	}))
	up.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni = h.ServerName
		return nil, nil
	}}
	up.StartTLS()
	t.Cleanup(up.Close)
	_, port := hostPort(t, up.URL)
	s := svcTo(t, up.URL)
	s.Protocol, s.Host = "https", "localhost"
	verify := *s
	verify.ID, verify.TLSVerify = newID(), ptr(true)
	e := newEnv(t, &model.Config{Services: []*model.Service{s, &verify},
		Routes: []*model.Route{routeTo(s, "/tls"), routeTo(&verify, "/verify")}}, Options{})
	res, body := e.do(t, "GET", "/tls", nil, nil)
	if res.StatusCode != 200 || body != "secure localhost:"+strconv.Itoa(port) {
		t.Errorf("got %d %q; want 200 from the TLS upstream", res.StatusCode, body)
	}
	if sni != "localhost" {
		t.Errorf("SNI %q; want localhost", sni)
	}
	res, _ = e.do(t, "GET", "/verify", nil, nil)
	if res.StatusCode != 502 {
		t.Errorf("status %d; want 502 when tls_verify rejects the self-signed certificate", res.StatusCode)
	}
}

// TestClientGone checks that when the client leaves while the upstream is
// slow, the upstream request is cancelled too (nginx's 499: logged only).
func TestClientGone(t *testing.T) {
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{routeTo(s, "/")}}, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.front.URL+"/slow", nil)
	done := make(chan error, 1)
	go func() {
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; err == nil {
		t.Errorf("client got a response after leaving")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Errorf("upstream request not cancelled after the client left")
	}
}

// TestGRPCSUpstream proxies h2c from the client to a gRPC upstream over TLS
// (service protocol grpcs), trailers included.
func TestGRPCSUpstream(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		io.WriteString(w, "proto="+strconv.Itoa(r.ProtoMajor))
		w.Header().Set("Grpc-Status", "7")
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	s := svcTo(t, up.URL)
	s.Protocol = "grpcs"
	r := routeTo(s, "/")
	r.Protocols = []string{"grpc", "grpcs"}
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	front := newH2CServer(t, e.proxy)
	req, _ := http.NewRequest("POST", front.URL+"/pkg.S/M", bytes.NewReader(nil))
	req.Header.Set("Content-Type", "application/grpc")
	res, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "proto=2" || res.Trailer.Get("Grpc-Status") != "7" {
		t.Errorf("got %d %q trailers %v; want 200, proto=2 upstream, grpc-status 7", res.StatusCode, body, res.Trailer)
	}
}

// TestHTTPSListener serves an https-only route on a TLS listener.
func TestHTTPSListener(t *testing.T) {
	up := newEcho(t, "a")
	s := svcTo(t, up.URL)
	r := routeTo(s, "/")
	r.Protocols = []string{"https"}
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	front := httptest.NewTLSServer(e.proxy)
	t.Cleanup(front.Close)
	res, err := front.Client().Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d; want 200 over TLS", res.StatusCode)
	}
	if got := decodeEcho(t, string(b)).Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto %q; want https", got)
	}
	// The same route over plain HTTP is refused.
	if res, _ := e.do(t, "GET", "/x", nil, nil); res.StatusCode != 426 {
		t.Errorf("plain HTTP status %d; want 426", res.StatusCode)
	}
}

// TestGRPCUpstreamDown checks Kong's gRPC form of an upstream failure: the
// HTTP status stays 502 and the message travels in grpc-status and
// grpc-message, with no body.
func TestGRPCUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := svcTo(t, "http://"+addr)
	s.Protocol, s.Retries = "grpc", 0
	r := routeTo(s, "/")
	r.Protocols = []string{"grpc"}
	e := newEnv(t, &model.Config{Services: []*model.Service{s}, Routes: []*model.Route{r}}, Options{})
	front := newH2CServer(t, e.proxy)
	req, _ := http.NewRequest("POST", front.URL+"/pkg.S/M", bytes.NewReader(nil))
	req.Header.Set("Content-Type", "application/grpc")
	res, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 502 || len(b) != 0 || res.Header.Get("Grpc-Status") != "13" ||
		res.Header.Get("Grpc-Message") != "An invalid response was received from the upstream server" {
		t.Errorf("got %d %q %v; want 502, grpc-status 13 and Kong's message, no body", res.StatusCode, b, res.Header)
	}
}
