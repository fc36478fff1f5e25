package httplog

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Entry is Kong's log serializer record (kong.log.serialize), kept in step
// with file-log's copy (plugins cannot import each other), built in the
// log phase from copies so that it can be encoded later on another
// goroutine.
type Entry struct {
	Request             EntryRequest    `json:"request"`
	UpstreamURI         string          `json:"upstream_uri"`
	UpstreamStatus      string          `json:"upstream_status"`
	Response            EntryResponse   `json:"response"`
	Latencies           EntryLatencies  `json:"latencies"`
	Tries               []any           `json:"tries,omitempty"`
	AuthenticatedEntity *EntryAuth      `json:"authenticated_entity,omitempty"`
	Route               *model.Route    `json:"route,omitempty"`
	Service             *model.Service  `json:"service,omitempty"`
	Consumer            *model.Consumer `json:"consumer,omitempty"`
	ClientIP            string          `json:"client_ip"`
	StartedAt           int64           `json:"started_at"`
	Source              string          `json:"source"`
}

// EntryRequest is the request part.
type EntryRequest struct {
	ID          string         `json:"id"`
	URI         string         `json:"uri"`
	URL         string         `json:"url"`
	QueryString map[string]any `json:"querystring"`
	Method      string         `json:"method"`
	Headers     map[string]any `json:"headers"`
	Size        int64          `json:"size"`
}

// EntryResponse is the response part.
type EntryResponse struct {
	Status  int            `json:"status"`
	Headers map[string]any `json:"headers"`
	Size    int64          `json:"size"`
}

// EntryLatencies are in milliseconds; proxy is -1 when unknown.
type EntryLatencies struct {
	Kong    int64 `json:"kong"`
	Proxy   int64 `json:"proxy"`
	Request int64 `json:"request"`
	Receive int64 `json:"receive"`
}

// EntryAuth identifies the credential an auth plugin accepted.
type EntryAuth struct {
	ID         string `json:"id"`
	ConsumerID string `json:"consumer_id"`
}

// startKey is the per-request key of the time the plugin first saw the
// request (rewrite or access phase).
const startKey = "http-log.start"

// markStart records the start time once per request.
func markStart(c *plugin.Ctx, now time.Time) {
	if _, ok := c.Get(startKey); !ok {
		c.Set(startKey, now)
	}
}

// NewEntry serializes the request like Kong's kong.log.serialize.
func NewEntry(c *plugin.Ctx, now time.Time) *Entry {
	r := c.Request
	e := &Entry{ClientIP: c.ClientIP, Route: c.Route, Service: c.Service, Consumer: c.Consumer}
	start := now
	if v, ok := c.Get(startKey); ok {
		if t, ok := v.(time.Time); ok {
			start = t
		}
	}
	e.StartedAt = start.UnixMilli()
	e.Latencies = EntryLatencies{Proxy: -1, Request: now.Sub(start).Milliseconds()}
	if r != nil {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		uri := r.RequestURI
		if uri == "" {
			uri = r.URL.RequestURI()
		}
		e.Request = EntryRequest{
			ID: r.Header.Get("X-Kong-Request-Id"), URI: uri, URL: scheme + "://" + r.Host + uri,
			QueryString: queryMap(r.URL.RawQuery), Method: r.Method,
			Headers: headerMap(r.Header, true), Size: requestSize(r),
		}
		e.UpstreamURI = r.URL.RequestURI()
	}
	e.Response = EntryResponse{Status: c.Status, Headers: headerMap(c.Header, false), Size: responseSize(c.Header)}
	e.Source = "service"
	if c.Exited() != nil {
		e.Source = "exit"
	} else if c.Status > 0 {
		e.UpstreamStatus = strconv.Itoa(c.Status)
	}
	if c.Consumer != nil && c.Authenticated() {
		e.AuthenticatedEntity = &EntryAuth{ID: c.Credential, ConsumerID: c.Consumer.ID}
	}
	return e
}

// headerMap lower-cases names; one value is a string, several an array.
// Request Authorization headers are redacted as in Kong.
func headerMap(h http.Header, redact bool) map[string]any {
	m := make(map[string]any, len(h))
	for k, vs := range h {
		k = strings.ToLower(k)
		if redact && (k == "authorization" || k == "proxy-authorization") {
			m[k] = "REDACTED"
			continue
		}
		switch len(vs) {
		case 0:
		case 1:
			m[k] = vs[0]
		default:
			m[k] = append([]string(nil), vs...)
		}
	}
	return m
}

// queryMap is Kong's get_query: a value-less argument is true.
func queryMap(raw string) map[string]any {
	m := map[string]any{}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, hasV := strings.Cut(kv, "=")
		k = unescape(k)
		var val any = true
		if hasV {
			val = unescape(v)
		}
		switch old := m[k].(type) {
		case nil:
			m[k] = val
		case []any:
			m[k] = append(old, val)
		default:
			m[k] = []any{old, val}
		}
	}
	return m
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b.WriteByte(' ')
		case s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// requestSize estimates nginx's $request_length.
func requestSize(r *http.Request) int64 {
	n := int64(len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + 2)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	if r.ContentLength > 0 {
		n += r.ContentLength
	}
	return n
}

// responseSize estimates nginx's $bytes_sent.
func responseSize(h http.Header) int64 {
	if h == nil {
		return 0
	}
	n := int64(len("HTTP/1.1 200 OK\r\n") + 2)
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	if v, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && v > 0 {
		n += v
	}
	return n
}
