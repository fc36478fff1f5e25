package plugin

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"sluice/internal/model"
)

// Upstream headers set by auth plugins (Kong's set_consumer).
const (
	HeaderConsumerID           = "X-Consumer-Id"
	HeaderConsumerCustomID     = "X-Consumer-Custom-Id"
	HeaderConsumerUsername     = "X-Consumer-Username"
	HeaderCredentialIdentifier = "X-Credential-Identifier"
	HeaderAnonymousConsumer    = "X-Anonymous-Consumer"
)

type headerPair struct{ name, value string }

// RequestHeader returns the first value of a request header (as it will be
// sent upstream, including changes made by earlier plugins); see
// GetHeader.
func (c *Ctx) RequestHeader(name string) string {
	v, _ := GetHeader(c.Request, name)
	return v
}

// GetHeader is kong.request.get_header: the first value of a request
// header, by a name whose underscores stand for dashes; ok is false when
// the request has none. Go's server keeps Host and Transfer-Encoding out
// of the header map; they are read where it keeps them.
func GetHeader(r *http.Request, name string) (v string, ok bool) {
	name = strings.ReplaceAll(name, "_", "-")
	switch {
	case strings.EqualFold(name, "host"):
		if r.Host != "" {
			return r.Host, true
		}
	case strings.EqualFold(name, "transfer-encoding"):
		if len(r.TransferEncoding) > 0 {
			return strings.Join(r.TransferEncoding, ", "), true
		}
	}
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// SetRequestHeader sets a header of the request sent upstream.
func (c *Ctx) SetRequestHeader(name, value string) { c.Request.Header.Set(name, value) }

// AddRequestHeader adds a value to a header of the request sent upstream.
func (c *Ctx) AddRequestHeader(name, value string) { c.Request.Header.Add(name, value) }

// ClearRequestHeader removes a header from the request sent upstream.
func (c *Ctx) ClearRequestHeader(name string) { c.Request.Header.Del(name) }

// SetUpstreamHost sets the Host header sent upstream (Kong's
// kong.service.request.set_header("host", v), which sets nginx's
// $upstream_host): it wins over the service's host, the upstream's
// host_header and preserve_host. The client's Host (Request.Host, what
// kong.request.get_host and log entries show) is not changed. "" undoes it.
func (c *Ctx) SetUpstreamHost(host string) { c.upstreamHost = host }

// UpstreamHost returns the Host a plugin set for the upstream request, ""
// when none did. The proxy reads it after the access phase.
func (c *Ctx) UpstreamHost() string { return c.upstreamHost }

// Query returns the request's query arguments, parsed once per request.
// The map is shared: modify it only through SetQuery/ClearQueryArg.
func (c *Ctx) Query() url.Values {
	if c.query == nil {
		c.query, _ = url.ParseQuery(c.Request.URL.RawQuery)
		if c.query == nil {
			c.query = url.Values{}
		}
	}
	return c.query
}

// QueryArg returns the first value of a query argument.
func (c *Ctx) QueryArg(name string) string {
	if c.Request.URL.RawQuery == "" {
		return ""
	}
	return c.Query().Get(name)
}

// SetQuery replaces the query string sent upstream.
func (c *Ctx) SetQuery(v url.Values) {
	c.query = v
	c.Request.URL.RawQuery = v.Encode()
}

// ClearQueryArg removes a query argument from the request sent upstream.
func (c *Ctx) ClearQueryArg(name string) {
	q := c.Query()
	if _, ok := q[name]; !ok {
		return
	}
	delete(q, name)
	c.SetQuery(q)
}

// SetResponseHeader sets a header of the response to the client. Before the
// response exists (rewrite/access) the header is kept and applied to
// whichever response is sent, proxied or produced by Kong (Kong's
// kong.response.set_header); in header_filter it changes Header directly.
func (c *Ctx) SetResponseHeader(name, value string) {
	if c.Header != nil {
		c.Header.Set(name, value)
		return
	}
	name = http.CanonicalHeaderKey(name)
	for i := range c.pending {
		if c.pending[i].name == name {
			c.pending[i].value = value
			return
		}
	}
	if c.pending == nil {
		c.pending = c.pendArr[:0]
	}
	c.pending = append(c.pending, headerPair{name, value})
}

// ResponseHeader returns a response header (header_filter on).
func (c *Ctx) ResponseHeader(name string) string {
	if c.Header == nil {
		return ""
	}
	return c.Header.Get(name)
}

// ResponseTrailers returns the trailer fields of the proxied response
// (gRPC's Grpc-Status and Grpc-Message), with canonical keys; nil when it
// has none. They are known once the upstream body was read to its end,
// i.e. in body_filter's last call. Only responses read through net/http's
// transport (https, grpc and grpcs services, HTTP/2 clients) have them;
// the map is the proxy's: do not modify it.
func (c *Ctx) ResponseTrailers() http.Header {
	if c.trailer == nil {
		return nil
	}
	return *c.trailer
}

// SetResponseTrailers is for the proxy: t is where the upstream response's
// trailers are stored as its body reaches EOF (http.Response.Trailer).
func (c *Ctx) SetResponseTrailers(t *http.Header) { c.trailer = t }

// Error stops the chain with Kong's kong.response.error(status, msg): a
// {"message": msg} body (or the Accept-negotiated form). hdr may be nil.
func (c *Ctx) Error(status int, msg string, hdr http.Header) {
	c.Terminate(&Exit{Status: status, Message: msg, Header: hdr})
}

// JSONMessage renders {"message":"<msg>"} with JSON escaping.
func JSONMessage(msg string) []byte {
	b := make([]byte, 0, len(msg)+14)
	b = append(b, `{"message":"`...)
	for i := 0; i < len(msg); i++ {
		ch := msg[i]
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch == '\n':
			b = append(b, `\n`...)
		case ch == '\r':
			b = append(b, `\r`...)
		case ch == '\t':
			b = append(b, `\t`...)
		case ch < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[ch>>4], "0123456789abcdef"[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return append(b, `"}`...)
}

// Authenticate records the consumer and credential an auth plugin accepted
// and sets Kong's upstream headers (X-Consumer-ID, X-Consumer-Custom-ID,
// X-Consumer-Username, X-Credential-Identifier; X-Anonymous-Consumer is
// cleared). credentialID may be "" when the plugin has no credential
// entity.
func (c *Ctx) Authenticate(consumer *model.Consumer, credentialID string) {
	c.Consumer, c.Credential, c.anonymous = consumer, credentialID, false
	c.consumerHeaders(consumer)
	if credentialID != "" {
		c.SetRequestHeader(HeaderCredentialIdentifier, credentialID)
	} else {
		c.ClearRequestHeader(HeaderCredentialIdentifier)
	}
	c.ClearRequestHeader(HeaderAnonymousConsumer)
}

// AuthenticateAnonymous continues the request as the configured anonymous
// consumer: consumer headers plus X-Anonymous-Consumer: true, no credential.
func (c *Ctx) AuthenticateAnonymous(consumer *model.Consumer) {
	c.Consumer, c.Credential, c.anonymous = consumer, "", true
	c.consumerHeaders(consumer)
	c.ClearRequestHeader(HeaderCredentialIdentifier)
	c.SetRequestHeader(HeaderAnonymousConsumer, "true")
}

func (c *Ctx) consumerHeaders(consumer *model.Consumer) {
	if consumer != nil && consumer.ID != "" {
		c.SetRequestHeader(HeaderConsumerID, consumer.ID)
	} else {
		c.ClearRequestHeader(HeaderConsumerID)
	}
	if consumer != nil && consumer.CustomID != nil {
		c.SetRequestHeader(HeaderConsumerCustomID, *consumer.CustomID)
	} else {
		c.ClearRequestHeader(HeaderConsumerCustomID)
	}
	if consumer != nil && consumer.Username != nil {
		c.SetRequestHeader(HeaderConsumerUsername, *consumer.Username)
	} else {
		c.ClearRequestHeader(HeaderConsumerUsername)
	}
}

// Authenticated reports whether an auth plugin accepted a credential
// (anonymous fallbacks do not count), like Kong's
// kong.client.get_credential() ~= nil.
func (c *Ctx) Authenticated() bool { return c.Credential != "" && !c.anonymous }

// FallBackToAnonymous continues the request as the anonymous consumer an
// auth plugin is configured with (its anonymous setting, name), after the
// plugin found no valid credential. consumer is the one name resolved to;
// when there is none the request ends with a 500 naming it (logged).
func (c *Ctx) FallBackToAnonymous(name string, consumer *model.Consumer, log *slog.Logger) {
	if consumer == nil {
		m := "anonymous consumer " + name + " is configured but doesn't exist"
		if log != nil {
			log.Error(m)
		}
		c.Error(http.StatusInternalServerError, m, nil)
		return
	}
	c.AuthenticateAnonymous(consumer)
}

// Anonymous reports whether the request continues as the anonymous consumer.
func (c *Ctx) Anonymous() bool { return c.anonymous }

// Set stores a per-request value shared between plugins (Kong's
// kong.ctx.shared).
func (c *Ctx) Set(key string, v any) {
	if c.shared == nil {
		c.shared = make(map[string]any, 4)
	}
	c.shared[key] = v
}

// Get returns a per-request shared value.
func (c *Ctx) Get(key string) (any, bool) {
	v, ok := c.shared[key]
	return v, ok
}
