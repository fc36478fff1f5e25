package requesttermination

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// defaultMessages are Kong's messages for statuses configured without one;
// other statuses get an empty body.
var defaultMessages = map[int]string{
	401: "Unauthorized",
	404: "Not found",
	405: "Method not allowed",
	500: "An unexpected error occurred",
	502: "Bad Gateway",
	503: "Service unavailable",
}

// defaultContentType is sent with a body configured without content_type
// (the default Kong documents).
const defaultContentType = "application/json; charset=utf-8"

// maxEchoBody is the most of a request body an echo includes; a larger
// body is left out, as Kong leaves out a body nginx buffered to a file.
const maxEchoBody = 1 << 20

// Terminator is one configured instance.
type Terminator struct {
	status  int
	message string // "" when none applies
	body    []byte // nil when not configured
	header  http.Header
	echo    bool
	trigger string
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	t := &Terminator{status: c.StatusCode, echo: c.Echo, trigger: c.Trigger}
	if c.Body != nil && !t.echo {
		t.body = []byte(*c.Body)
		ct := c.ContentType
		if ct == "" {
			ct = defaultContentType
		}
		t.header = http.Header{"Content-Type": {ct}}
		return t, nil
	}
	t.message = c.Message
	if t.message == "" {
		t.message = defaultMessages[t.status]
	}
	return t, nil
}

// Access answers the request, unless a trigger is configured and the
// request has neither a header nor a query argument of that name.
func (t *Terminator) Access(c *plugin.Ctx) {
	if t.trigger != "" && c.Request.Header.Values(t.trigger) == nil && !c.Query().Has(t.trigger) {
		return
	}
	switch {
	case t.echo:
		c.Terminate(&plugin.Exit{Status: t.status, Body: t.echoBody(c),
			Header: http.Header{"Content-Type": {"application/json"}}})
	case t.body != nil:
		c.Terminate(&plugin.Exit{Status: t.status, Body: t.body, Header: t.header.Clone()})
	case t.message != "":
		c.Terminate(&plugin.Exit{Status: t.status, Body: plugin.JSONMessage(t.message),
			Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}})
	default:
		c.Terminate(&plugin.Exit{Status: t.status, Body: []byte{}})
	}
}

// echo is the body of an echo answer: Kong's message, request, and the
// matched route and service as the Admin API shows them.
type echo struct {
	Message        string      `json:"message,omitempty"`
	Request        echoRequest `json:"request"`
	MatchedRoute   any         `json:"matched_route,omitempty"`
	MatchedService any         `json:"matched_service,omitempty"`
}

type echoRequest struct {
	Scheme  string         `json:"scheme"`
	Host    string         `json:"host"`
	Port    int            `json:"port,omitempty"`
	Headers map[string]any `json:"headers"`
	Query   map[string]any `json:"query"`
	Body    any            `json:"body,omitempty"`
	RawBody *string        `json:"raw_body,omitempty"`
	Method  string         `json:"method"`
	Path    string         `json:"path"`
}

func (t *Terminator) echoBody(c *plugin.Ctx) []byte {
	r := c.Request
	e := echo{Message: t.message, Request: echoRequest{
		Scheme:  "http",
		Host:    hostOnly(r.Host),
		Port:    localPort(r),
		Headers: plugin.HeaderTable(r.Header),
		Query:   plugin.QueryTable(r.URL.RawQuery),
		Method:  r.Method,
		Path:    rawPath(r),
	}}
	if r.TLS != nil {
		e.Request.Scheme = "https"
	}
	if c.Route != nil {
		e.MatchedRoute = c.Route
	}
	if c.Service != nil {
		e.MatchedService = c.Service
	}
	if r.Body != nil && r.Body != http.NoBody {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxEchoBody+1))
		if err == nil && len(raw) <= maxEchoBody {
			s := string(raw)
			e.Request.RawBody = &s
			e.Request.Body, _ = plugin.BodyArgs(r.Header.Get("Content-Type"), raw)
		}
	} else {
		empty := ""
		e.Request.RawBody = &empty
	}
	b, err := json.Marshal(e)
	if err != nil {
		return plugin.JSONMessage("[Request termination plugin] failed to encode content: " + err.Error())
	}
	return b
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(host)
}

// localPort is the port the request arrived on (kong.request.get_port).
func localPort(r *http.Request) int {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return 0
	}
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// rawPath is the request's path as sent, without the query.
func rawPath(r *http.Request) string {
	if r.RequestURI != "" && !strings.Contains(r.RequestURI, "://") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}
