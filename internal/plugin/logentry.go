package plugin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
)

// LogEntry is Kong's log serializer record (kong.log.serialize in
// kong/pdk/log.lua, 3.x), built in the log phase from copies so that it can
// be encoded later on another goroutine. Latencies, sizes, the upstream URI
// and the tries come from Ctx.Timing, which the proxy fills in.
type LogEntry struct {
	Request             LogRequest      `json:"request"`
	UpstreamURI         string          `json:"upstream_uri"`
	UpstreamStatus      string          `json:"upstream_status"`
	Response            LogResponse     `json:"response"`
	Latencies           LogLatencies    `json:"latencies"`
	Tries               []LogTry        `json:"tries,omitempty"`
	AuthenticatedEntity *LogAuth        `json:"authenticated_entity,omitempty"`
	Route               *model.Route    `json:"route,omitempty"`
	Service             *model.Service  `json:"service,omitempty"`
	Consumer            *model.Consumer `json:"consumer,omitempty"`
	ClientIP            string          `json:"client_ip"`
	StartedAt           int64           `json:"started_at"`
	Source              string          `json:"source"`

	edits []serializeEdit // SetSerializeValue's, applied by MarshalJSON
}

// LogRequest is the request part; Size is the bytes read from the client
// (nginx's $request_length).
type LogRequest struct {
	ID          string         `json:"id"`
	URI         string         `json:"uri"`
	URL         string         `json:"url"`
	QueryString map[string]any `json:"querystring"`
	Method      string         `json:"method"`
	Headers     map[string]any `json:"headers"`
	Size        int64          `json:"size"`
}

// LogResponse is the response part; Size is the bytes sent to the client
// (nginx's $bytes_sent).
type LogResponse struct {
	Status  int            `json:"status"`
	Headers map[string]any `json:"headers"`
	Size    int64          `json:"size"`
}

// LogLatencies are whole milliseconds: kong is the time spent in the
// gateway, proxy the upstream's time to its response headers (-1 when no
// upstream answered), request the whole request, receive the time the
// response body took to go through after its headers.
type LogLatencies struct {
	Kong    int64 `json:"kong"`
	Proxy   int64 `json:"proxy"`
	Request int64 `json:"request"`
	Receive int64 `json:"receive"`
}

// LogTry is one balancer attempt (Kong's balancer_data.tries entry). State
// and Code are set on the attempts that were not the last: "failed" with no
// code when the peer could not be reached, "next" with the status that made
// the proxy try the next peer.
type LogTry struct {
	IP                string `json:"ip"`
	Port              int    `json:"port"`
	BalancerLatency   int64  `json:"balancer_latency"`
	BalancerLatencyNs int64  `json:"balancer_latency_ns"`
	State             string `json:"state,omitempty"`
	Code              int    `json:"code,omitempty"`
}

// LogAuth identifies the credential an auth plugin accepted.
type LogAuth struct {
	ID         string `json:"id"`
	ConsumerID string `json:"consumer_id"`
}

// NewLogEntry serializes the request like Kong's kong.log.serialize; now is
// used for started_at when the proxy did not fill c.Timing in. Log plugins
// (file-log, http-log) share it.
func NewLogEntry(c *Ctx, now time.Time) *LogEntry {
	r := c.Request
	t := &c.Timing
	e := &LogEntry{ClientIP: c.ClientIP, Route: c.Route, Service: c.Service, Consumer: c.Consumer,
		UpstreamURI: t.UpstreamURI}
	e.StartedAt = now.UnixMilli()
	e.Latencies.Proxy = -1
	if !t.Start.IsZero() {
		e.StartedAt = t.Start.UnixMilli()
		e.Latencies = LogLatencies{Kong: max(t.Kong.Milliseconds(), 0), Proxy: -1,
			Request: max(t.Request.Milliseconds(), 0)}
		if t.Upstream >= 0 {
			e.Latencies.Proxy = t.Upstream.Milliseconds()
			if t.Request >= 0 && t.Kong >= 0 {
				e.Latencies.Receive = max((t.Request - t.Kong - t.Upstream).Milliseconds(), 0)
			}
		}
	}
	if len(t.Tries) > 0 {
		e.Tries = make([]LogTry, len(t.Tries))
		for i, tr := range t.Tries {
			lt := LogTry{IP: tr.IP, Port: tr.Port, BalancerLatency: tr.Balancer.Milliseconds(),
				BalancerLatencyNs: tr.Balancer.Nanoseconds()}
			if i < len(t.Tries)-1 {
				if tr.Code == 0 {
					lt.State = "failed"
				} else {
					lt.State, lt.Code = "next", tr.Code
				}
			}
			e.Tries[i] = lt
		}
	}
	if r != nil {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		uri := RequestURI(r)
		e.Request = LogRequest{
			ID: r.Header.Get("X-Kong-Request-Id"), URI: uri, URL: scheme + "://" + r.Host + uri,
			QueryString: QueryTable(r.URL.RawQuery), Method: r.Method,
			Headers: logHeaderMap(r.Header, true), Size: t.RequestSize,
		}
	}
	e.Response = LogResponse{Status: c.Status, Headers: logHeaderMap(c.Header, false), Size: t.ResponseSize}
	e.Source = "service"
	if c.Exited() != nil {
		e.Source = "exit"
	} else if c.Status > 0 {
		e.UpstreamStatus = strconv.Itoa(c.Status)
	}
	if c.Consumer != nil && c.Authenticated() {
		e.AuthenticatedEntity = &LogAuth{ID: c.Credential, ConsumerID: c.Consumer.ID}
	}
	if v, ok := c.Get(ctxSerialize); ok {
		e.edits = v.([]serializeEdit)
	}
	return e
}

// HeaderTable is kong.request.get_headers(): lower-case names, one value
// as a string, several as a list.
func HeaderTable(h http.Header) map[string]any { return logHeaderMap(h, false) }

// RequestURI is the request target as the client sent it (nginx's
// $request_uri): path and query, not normalized.
func RequestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
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

// QueryTable is kong.request.get_query() of a raw query string: an
// argument without "=" is true, a repeated one a list of its values.
func QueryTable(raw string) map[string]any {
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
