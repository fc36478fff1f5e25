package requestsizelimiting

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/plugin"
)

// MaxBuffered is the largest limit up to which a body without
// Content-Length is read ahead (at most limit+1 bytes) so that an oversized
// body gets Kong's 413 before anything is sent upstream. Above it the body
// streams through a counting reader that fails the upstream request once the
// limit is passed (the client then gets the proxy's upstream error).
const MaxBuffered = 1 << 20

// ErrTooLarge is returned by a streamed body that passed the limit.
var ErrTooLarge = errors.New("request size limit exceeded")

// Limiter is one configured instance.
type Limiter struct {
	limit      int64
	requireLen bool
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	size := int64(128)
	switch n := cfg["allowed_payload_size"].(type) {
	case float64:
		size = int64(n)
	case int:
		size = int64(n)
	case int64:
		size = n
	case nil:
	}
	unit, _ := cfg["size_unit"].(string)
	f, ok := unitFactor[unit]
	if !ok {
		f = unitFactor["megabytes"]
	}
	req, _ := cfg["require_content_length"].(bool)
	return &Limiter{limit: size * f, requireLen: req}, nil
}

// Access checks Content-Length, or counts a body that has none.
func (l *Limiter) Access(c *plugin.Ctx) {
	r := c.Request
	if cl := r.Header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseFloat(strings.TrimSpace(cl), 64); err == nil {
			if n > float64(l.limit) {
				l.exceeded(c)
			}
			return
		}
	}
	if l.requireLen && !chunked(r) {
		c.Error(411, "A valid Content-Length header is required", nil)
		return
	}
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	if l.limit <= MaxBuffered {
		buf, err := io.ReadAll(io.LimitReader(r.Body, l.limit+1))
		if err != nil {
			// The client went away or sent a broken body: let the proxy
			// meet the same error when it forwards the body.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(buf), errReader{err}))
			return
		}
		if int64(len(buf)) > l.limit {
			r.Body.Close()
			l.exceeded(c)
			return
		}
		r.Body = &replayBody{Reader: bytes.NewReader(buf), orig: r.Body}
		return
	}
	r.Body = &countingBody{rc: r.Body, left: l.limit}
}

func (l *Limiter) exceeded(c *plugin.Ctx) {
	if strings.EqualFold(strings.TrimSpace(c.Request.Header.Get("Expect")), "100-continue") {
		c.Error(417, "Request size limit exceeded", nil)
		return
	}
	c.Error(413, "Request size limit exceeded", nil)
}

func chunked(r *http.Request) bool {
	for _, te := range r.TransferEncoding {
		if te == "chunked" {
			return true
		}
	}
	return r.Header.Get("Transfer-Encoding") == "chunked"
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// replayBody serves the read-ahead bytes and closes the original body.
type replayBody struct {
	*bytes.Reader
	orig io.Closer
}

func (b *replayBody) Close() error { return b.orig.Close() }

// countingBody fails with ErrTooLarge once more than left bytes were read.
type countingBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		slog.Debug("request-size-limiting: streamed body over the limit")
		return 0, ErrTooLarge
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

var _ plugin.Accessor = (*Limiter)(nil)
