package azurefunctions

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// MaxBody bounds the request body sent to the function and its answer.
const MaxBody = 8 << 20

// dialAddr maps the function's address to the one dialled (tests point it
// at a local server).
var dialAddr = func(addr string) string { return addr }

// Azure is one plugin instance.
type Azure struct {
	conf   Config
	base   string // scheme://appname.hostdomain
	path   string // /<routeprefix>/<functionname>
	client *http.Client
	log    *slog.Logger
	close  sync.Once
}

// New builds an instance from a validated config.
func New(cfg map[string]any, deps plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	a := &Azure{conf: c, log: deps.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	scheme := "http"
	if c.HTTPS {
		scheme = "https"
	}
	a.base = scheme + "://" + c.AppName + "." + c.HostDomain
	prefix := strings.Trim(c.RoutePrefix, "/")
	if prefix != "" {
		prefix = "/" + prefix
	}
	a.path = prefix + "/" + strings.Trim(c.FunctionName, "/")
	var d net.Dialer
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: !c.HTTPSVerify}, //nolint:gosec // Kong's https_verify
		IdleConnTimeout: time.Duration(c.Keepalive * float64(time.Millisecond)),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, dialAddr(addr))
		},
	}
	a.client = &http.Client{Transport: tr, Timeout: time.Duration(c.Timeout * float64(time.Millisecond)),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return a, nil
}

// Close drops the idle connections.
func (a *Azure) Close() { a.close.Do(a.client.CloseIdleConnections) }

// Access calls the function and answers with its status, headers and
// body.
func (a *Azure) Access(c *plugin.Ctx) {
	r := c.Request
	body, _ := plugin.ReadBody(r, MaxBody)
	// the upstream path joined to the function's path with one slash
	path := a.path
	up := c.UpstreamPath
	switch {
	case strings.HasSuffix(path, "/") && strings.HasPrefix(up, "/"):
		path += up[1:]
	case strings.HasSuffix(path, "/") || strings.HasPrefix(up, "/"):
		path += up
	case up != "":
		path += "/" + up
	}
	target := a.base + path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, bytes.NewReader(body))
	if err != nil {
		a.fail(c, err)
		return
	}
	for k, vs := range r.Header {
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Te", "Trailer", "Transfer-Encoding", "Proxy-Authorization":
			continue // hop-by-hop: this connection's, not the function's
		}
		req.Header[k] = append([]string(nil), vs...)
	}
	if a.conf.APIKey != nil {
		req.Header.Set("X-Functions-Key", *a.conf.APIKey)
	}
	if a.conf.ClientID != nil {
		req.Header.Set("X-Functions-Clientid", *a.conf.ClientID)
	}
	start := time.Now()
	res, err := a.client.Do(req)
	c.Timing.Upstream = time.Since(start)
	if err != nil {
		a.fail(c, err)
		return
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, MaxBody))
	if err != nil {
		a.fail(c, err)
		return
	}
	h := plugin.AnswerHeaders(res.Header)
	h.Set("Via", "kong/"+model.KongVersion)
	c.Terminate(&plugin.Exit{Status: res.StatusCode, Body: out, Header: h})
}

func (a *Azure) fail(c *plugin.Ctx, err error) {
	a.log.Error("azure-functions: calling the function failed", "error", err)
	c.Error(http.StatusInternalServerError, "An unexpected error occurred", nil)
}

var _ plugin.Accessor = (*Azure)(nil)
