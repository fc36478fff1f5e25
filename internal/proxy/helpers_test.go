package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/snapshot"
	"sluice/internal/upstream"
)

// echoed is what the echo upstream saw.
type echoed struct {
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
	Name   string      `json:"name"`
}

// newEcho starts an upstream that answers with what it received as JSON.
func newEcho(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{URI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(b), Name: name})
	}))
	t.Cleanup(s.Close)
	return s
}

func hostPort(t testing.TB, rawURL string) (string, int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func ptr[T any](v T) *T { return &v }

var idSeq int

func newID() string {
	idSeq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", idSeq)
}

// svcTo returns a service pointing at the upstream server u.
func svcTo(t testing.TB, u string) *model.Service {
	h, p := hostPort(t, u)
	return &model.Service{ID: newID(), Name: ptr("svc-" + strconv.Itoa(idSeq)), Protocol: "http", Host: h, Port: p,
		Retries: 5, ConnectTimeout: 60000, WriteTimeout: 60000, ReadTimeout: 60000, Enabled: true}
}

func routeTo(s *model.Service, paths ...string) *model.Route {
	r := &model.Route{ID: newID(), Protocols: []string{"http", "https"}, Paths: paths,
		HTTPSRedirectStatusCode: 426, StripPath: true, PathHandling: "v0",
		RequestBuffering: true, ResponseBuffering: true, CreatedAt: 1, UpdatedAt: 1}
	if s != nil {
		r.Service = &model.ForeignKey{ID: s.ID}
	}
	return r
}

// env is one proxy under test.
type env struct {
	cur   *snapshot.Current
	pool  *upstream.Pool
	proxy *Proxy
	front *httptest.Server
}

func buildSnap(t testing.TB, prev *snapshot.Snapshot, pool *upstream.Pool, cfg *model.Config) *snapshot.Snapshot {
	t.Helper()
	s, err := snapshot.Build(prev, cfg, "0123456789abcdef0123456789abcdef", &snapshot.Env{Pool: pool})
	if err != nil {
		t.Fatalf("snapshot.Build: %v", err)
	}
	return s
}

func newEnv(t testing.TB, cfg *model.Config, opts Options) *env {
	t.Helper()
	e := &env{cur: &snapshot.Current{}, pool: upstream.NewPool()}
	e.cur.Store(buildSnap(t, nil, e.pool, cfg))
	e.proxy = New(e.cur, opts)
	e.front = httptest.NewServer(e.proxy)
	t.Cleanup(func() {
		e.front.Close()
		e.proxy.Close()
		e.pool.Close()
	})
	return e
}

var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
	Timeout: 20 * time.Second,
}

// do sends a request to the proxy; path may carry a query.
func (e *env) do(t testing.TB, method, path string, hdr map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.front.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent as-is
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return res, string(b)
}

func decodeEcho(t testing.TB, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("upstream echo: %v (body %q)", err, body)
	}
	return e
}
