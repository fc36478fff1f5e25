package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"

	"sluice/internal/upstream"
)

// Messages Kong uses for responses it produces itself.
const (
	msgNoRoute       = "no Route matched with those values"
	msgNoService     = "no Service found with those values"
	msgNoPeer        = "failure to get a peer from the ring-balancer"
	msgDNS           = "name resolution failed"
	msgUseHTTPS      = "Please use HTTPS protocol"
	msgUseHTTP2      = "Please use HTTP2 protocol"
	msgNonGRPC       = "Non-gRPC request matched gRPC route"
	msgGRPCMatchedS  = "gRPC request matched gRPCs route"
	msgBadGateway    = "An invalid response was received from the upstream server"
	msgGatewayTimout = "The upstream server is timing out"
	msgUnexpected    = "An unexpected error occurred"
	msgBadRequest    = "Bad request"
	msgTooLarge      = "Payload too large"
)

// bodyTooLarge reports whether err comes from reading a body that passed
// nginx_http_client_max_body_size (http.MaxBytesReader).
func bodyTooLarge(err error) bool {
	var e *http.MaxBytesError
	return errors.As(err, &e)
}

// statusClientClosed is nginx's 499: the client closed the connection before
// the response was sent. It is logged, never written.
const statusClientClosed = 499

// errDNS marks a failure to resolve the service host.
type errDNS struct{ err error }

func (e *errDNS) Error() string { return "name resolution failed: " + e.err.Error() }
func (e *errDNS) Unwrap() error { return e.err }

// errorStatus maps an error from forwarding (or picking a peer) to the
// status and message Kong answers with. It is the one place where proxy
// errors become statuses: client gone -> 499, no healthy peer -> 503,
// DNS failure -> 503, timeouts -> 504, anything else (refused, reset, EOF,
// malformed response) -> 502. inCtx is the inbound request's context.
func errorStatus(inCtx context.Context, err error) (int, string) {
	if inCtx.Err() != nil || errors.Is(err, context.Canceled) {
		return statusClientClosed, ""
	}
	if bodyTooLarge(err) {
		return http.StatusRequestEntityTooLarge, msgTooLarge
	}
	if errors.Is(err, upstream.ErrNoPeer) {
		return http.StatusServiceUnavailable, msgNoPeer
	}
	var dnsErr *net.DNSError
	var ourDNS *errDNS
	if errors.As(err, &ourDNS) || errors.As(err, &dnsErr) {
		return http.StatusServiceUnavailable, msgDNS
	}
	if isTimeout(err) {
		return http.StatusGatewayTimeout, msgGatewayTimout
	}
	return http.StatusBadGateway, msgBadGateway
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isConnectError reports whether err happened while establishing the
// connection, before any byte of the request was sent.
func isConnectError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// Kong's error templates (kong/tools/http.lua, 3.5+ with request_id).
const (
	tmplJSONa = "{\n  \"message\":\""
	tmplJSONb = "\",\n  \"request_id\":\""
	tmplJSONc = "\"\n}"

	tmplHTMLa = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>"
	tmplHTMLb = ".</p>\n    <p>request_id: "
	tmplHTMLc = "</p>\n  </body>\n</html>\n"

	tmplXMLa = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>"
	tmplXMLb = "</message>\n  <requestid>"
	tmplXMLc = "</requestid>\n</error>\n"
)

// MIME types Kong answers errors with.
const (
	mimeJSON  = "application/json; charset=utf-8"
	mimeHTML  = "text/html; charset=utf-8"
	mimeXML   = "application/xml; charset=utf-8"
	mimePlain = "text/plain; charset=utf-8"
	mimeGRPC  = "application/grpc"
)

// errorBody renders Kong's error template for mime (one of the mime*
// constants) into a new byte slice.
func errorBody(mime, msg, rid string) []byte {
	var a, b, c string
	switch mime {
	case mimeHTML:
		a, b, c = tmplHTMLa, tmplHTMLb, tmplHTMLc
	case mimeXML:
		a, b, c = tmplXMLa, tmplXMLb, tmplXMLc
	case mimePlain:
		a, b, c = "", "\nrequest_id: ", "\n"
	case mimeGRPC:
		return nil
	default:
		a, b, c = tmplJSONa, tmplJSONb, tmplJSONc
	}
	out := make([]byte, 0, len(a)+len(msg)+len(b)+len(rid)+len(c))
	out = append(out, a...)
	out = append(out, msg...)
	out = append(out, b...)
	out = append(out, rid...)
	return append(out, c...)
}

// mimeForType is Kong's get_mime_type: the MIME type of one media range
// ("type/subtype", parameters already removed), JSON when unknown.
func mimeForType(t string) string {
	t = strings.TrimSpace(t)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	slash := strings.IndexByte(t, '/')
	if slash < 0 {
		return mimeJSON
	}
	typ, sub := t[:slash], t[slash+1:]
	if sub == "*" {
		switch typ {
		case "text":
			return mimePlain
		default: // "*", "application" and unknown types
			return mimeJSON
		}
	}
	switch t {
	case "application/json":
		return mimeJSON
	case "text/html":
		return mimeHTML
	case "application/xml":
		return mimeXML
	case "text/plain":
		return mimePlain
	case "application/grpc":
		return mimeGRPC
	}
	return mimeJSON
}

// negotiate is Kong's get_response_type: the Accept-style list is split on
// commas and the media range with the highest q (first wins on ties)
// decides; JSON when nothing usable is found.
func negotiate(accept string) string {
	best := mimeJSON
	maxQ := 0.0
	for len(accept) > 0 {
		var v string
		if i := strings.IndexByte(accept, ','); i >= 0 {
			v, accept = accept[:i], accept[i+1:]
		} else {
			v, accept = accept, ""
		}
		media, q, ok := parseMediaRange(strings.TrimSpace(v))
		if ok && q > maxQ {
			maxQ = q
			best = mimeForType(media)
		}
	}
	return best
}

func isTokenChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case first:
		return false
	}
	return strings.IndexByte("-!#$&^_+.", c) >= 0
}

// token returns the length of the media-type token at the start of s (at
// least two characters, or a single "*"), 0 if there is none.
func token(s string) int {
	if len(s) > 0 && s[0] == '*' {
		return 1
	}
	if len(s) < 2 || !isTokenChar(s[0], true) {
		return 0
	}
	n := 1
	for n < len(s) && isTokenChar(s[n], false) {
		n++
	}
	if n < 2 {
		return 0
	}
	return n
}

// parseMediaRange reads "type/subtype" with optional parameters; q is 1
// unless a valid q parameter (0 to 1, up to three decimals) says otherwise.
func parseMediaRange(s string) (media string, q float64, ok bool) {
	n := token(s)
	if n == 0 || n >= len(s) || s[n] != '/' {
		return "", 0, false
	}
	m := token(s[n+1:])
	if m == 0 {
		return "", 0, false
	}
	media = s[:n+1+m]
	q = 1
	rest := s[n+1+m:]
	for {
		r := strings.TrimLeft(rest, " \t")
		if len(r) == 0 || r[0] != ';' {
			return media, q, true
		}
		r = strings.TrimLeft(r[1:], " \t")
		if len(r) >= 2 && (r[0] == 'q' || r[0] == 'Q') && r[1] == '=' {
			end := 2
			for end < len(r) && (r[end] == '.' || (r[end] >= '0' && r[end] <= '9')) {
				end++
			}
			if v, ok := parseQ(r[2:end]); ok {
				q = v
				rest = r[end:]
				continue
			}
			return media, q, true
		}
		k := token(r)
		if k < 2 {
			return media, q, true
		}
		r = r[k:]
		if len(r) > 0 && r[0] == '=' {
			end := strings.IndexByte(r, ';')
			if end < 0 {
				end = len(r)
			}
			r = r[end:]
		}
		rest = r
	}
}

func parseQ(s string) (float64, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	if s[0] != '0' && s[0] != '1' {
		return 0, false
	}
	if len(s) > 1 {
		if s[1] != '.' {
			return 0, false
		}
		for i := 2; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' || (s[0] == '1' && s[i] != '0') {
				return 0, false
			}
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// httpToGRPC is Kong's HTTP_TO_GRPC_STATUS table.
func httpToGRPC(status int) int {
	switch status {
	case 200:
		return 0
	case 400:
		return 3
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 5
	case 409:
		return 6
	case 429:
		return 8
	case 499:
		return 1
	case 500:
		return 13
	case 501:
		return 12
	case 503:
		return 14
	case 504:
		return 4
	}
	switch {
	case status >= 500 && status <= 599:
		return 13
	case status >= 400 && status <= 499:
		return 3
	case status >= 200 && status <= 299:
		return 0
	}
	return 2
}

var grpcMessages = [...]string{"OK", "Canceled", "Unknown", "InvalidArgument",
	"DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
	"ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

// isGRPCRequest is Kong's is_grpc_request: a gRPC content type over HTTP/2.
func isGRPCRequest(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), mimeGRPC)
}
