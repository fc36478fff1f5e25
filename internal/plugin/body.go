package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// ReadBody reads the request's body, up to limit bytes, and puts it back
// for the upstream (Kong's kong.request.get_raw_body on a buffered body).
// complete is false when the body is larger than limit or could not be
// read; body then holds what was read.
func ReadBody(r *http.Request, limit int64) (body []byte, complete bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	return b, err == nil && int64(len(b)) <= limit
}

// readCloser reads from the put-back body and closes the original.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

// Errors of BodyArgs, as Kong's kong.request.get_body words them.
var (
	ErrBodyContentType = errors.New("unsupported content type")
	ErrBodyMissingType = errors.New("missing content type")
	ErrBodyInvalidJSON = errors.New("invalid json body")
)

// BodyArgs is kong.request.get_body() for a body already read: a JSON
// document (any JSON value), a urlencoded form (QueryTable's shape) or
// the text fields of a multipart form; an error for another or a missing
// content type (both mention "content type", as Kong's do) and for JSON
// that does not parse.
func BodyArgs(contentType string, raw []byte) (any, error) {
	if strings.TrimSpace(contentType) == "" {
		return nil, ErrBodyMissingType
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, ErrBodyContentType
	}
	switch mt {
	case "application/json":
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, ErrBodyInvalidJSON
		}
		return v, nil
	case "application/x-www-form-urlencoded":
		return QueryTable(string(raw)), nil
	case "multipart/form-data":
		m := map[string]any{}
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			if part.FileName() != "" {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(part, 1<<20))
			m[part.FormName()] = string(b)
		}
		return m, nil
	}
	return nil, ErrBodyContentType
}

// bodyBuffer is nginx's client_body_buffer_size (Kong's default 8k):
// bodies larger than it are "buffered to disk", which some plugins skip.
var bodyBuffer atomic.Int64

func init() { bodyBuffer.Store(8 << 10) }

// SetClientBodyBufferSize sets the client_body_buffer_size setting for
// plugins (cmd/sluice calls it at start).
func SetClientBodyBufferSize(n int64) {
	if n > 0 {
		bodyBuffer.Store(n)
	}
}

// ClientBodyBufferSize is the client_body_buffer_size setting.
func ClientBodyBufferSize() int64 { return bodyBuffer.Load() }

// SetRequestBody replaces the body sent upstream (Kong's
// kong.service.request.set_raw_body): Content-Length follows it and a
// chunked request becomes a sized one.
func SetRequestBody(r *http.Request, b []byte) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	r.TransferEncoding = nil
}
