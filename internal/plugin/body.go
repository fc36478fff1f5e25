package plugin

import (
	"bytes"
	"io"
	"net/http"
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
