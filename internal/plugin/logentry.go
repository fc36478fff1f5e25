package plugin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
)

// LogEntry is Kong's log serializer record (kong.log.serialize), built in the
// log phase from copies so that it can be encoded later on another
// goroutine.
type LogEntry struct {
	Request             LogRequest      `json:"request"`
	UpstreamURI         string          `json:"upstream_uri"`
	UpstreamStatus      string          `json:"upstream_status"`
	Response            LogResponse     `json:"response"`
	Latencies           LogLatencies    `json:"latencies"`
	Tries               []any           `json:"tries,omitempty"`
	AuthenticatedEntity *LogAuth        `json:"authenticated_entity,omitempty"`
	Route               *model.Route    `json:"route,omitempty"`
	Service             *model.Service  `json:"service,omitempty"`
	Consumer            *model.Consumer `json:"consumer,omitempty"`
	ClientIP            string          `json:"client_ip"`
	StartedAt           int64           `json:"started_at"`
	Source              string          `json:"source"`
}

// LogRequest is the request part.
type LogRequest struct {
	ID          string         `json:"id"`
	URI         string         `json:"uri"`
	URL         string         `json:"url"`
	QueryString map[string]any `json:"querystring"`
	Method      string         `json:"method"`
	Headers     map[string]any `json:"headers"`
	Size        int64          `json:"size"`
}

// LogResponse is the response part.
type LogResponse struct {
	Status  int            `json:"status"`
	Headers map[string]any `json:"headers"`
	Size    int64          `json:"size"`
}

// LogLatencies are in milliseconds; proxy is -1 when unknown.
type LogLatencies struct {
	Kong    int64 `json:"kong"`
	Proxy   int64 `json:"proxy"`
	Request int64 `json:"request"`
	Receive int64 `json:"receive"`
}

// LogAuth identifies the credential an auth plugin accepted.
type LogAuth struct {
	ID         string `json:"id"`
	ConsumerID string `json:"consumer_id"`
}

// MarkLogStart records, once per request under key, the time a log plugin
// first saw the request (its rewrite or access phase); NewLogEntry reads it.
func MarkLogStart(c *Ctx, key string, now time.Time) {
	if _, ok := c.Get(key); !ok {
		c.Set(key, now)
	}
}

// NewLogEntry serializes the request like Kong's kong.log.serialize; key is
// the one given to MarkLogStart. Log plugins (file-log, http-log) share it.
func NewLogEntry(c *Ctx, key string, now time.Time) *LogEntry {
	r := c.Request
	e := &LogEntry{ClientIP: c.ClientIP, Route: c.Route, Service: c.Service, Consumer: c.Consumer}
	start := now
	if v, ok := c.Get(key); ok {
		if t, ok := v.(time.Time); ok {
			start = t
		}
	}
	e.StartedAt = start.UnixMilli()
	e.Latencies = LogLatencies{Proxy: -1, Request: now.Sub(start).Milliseconds()}
	if r != nil {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		uri := r.RequestURI
		if uri == "" {
			uri = r.URL.RequestURI()
		}
		e.Request = LogRequest{
			ID: r.Header.Get("X-Kong-Request-Id"), URI: uri, URL: scheme + "://" + r.Host + uri,
			QueryString: logQueryMap(r.URL.RawQuery), Method: r.Method,
			Headers: logHeaderMap(r.Header, true), Size: logRequestSize(r),
		}
		e.UpstreamURI = r.URL.RequestURI()
	}
	e.Response = LogResponse{Status: c.Status, Headers: logHeaderMap(c.Header, false), Size: logResponseSize(c.Header)}
	e.Source = "service"
	if c.Exited() != nil {
		e.Source = "exit"
	} else if c.Status > 0 {
		e.UpstreamStatus = strconv.Itoa(c.Status)
	}
	if c.Consumer != nil && c.Authenticated() {
		e.AuthenticatedEntity = &LogAuth{ID: c.Credential, ConsumerID: c.Consumer.ID}
	}
	return e
}

// logHeaderMap lower-cases names; one value is a string, several an array.
// Request Authorization headers are redacted as in Kong.
func logHeaderMap(h http.Header, redact bool) map[string]any {
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

// logQueryMap is Kong's get_query: a value-less argument is true.
func logQueryMap(raw string) map[string]any {
	m := map[string]any{}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, hasV := strings.Cut(kv, "=")
		k = logUnescape(k)
		var val any = true
		if hasV {
			val = logUnescape(v)
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

func logUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b.WriteByte(' ')
		case s[i] == '%' && i+2 < len(s) && logIshex(s[i+1]) && logIshex(s[i+2]):
			b.WriteByte(logUnhex(s[i+1])<<4 | logUnhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func logIshex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func logUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// logRequestSize estimates nginx's $request_length.
func logRequestSize(r *http.Request) int64 {
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

// logResponseSize estimates nginx's $bytes_sent.
func logResponseSize(h http.Header) int64 {
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
