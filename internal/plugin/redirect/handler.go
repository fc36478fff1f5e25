package redirect

import (
	"net/http"
	"net/url"
	"strings"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Redirect is one configured instance.
type Redirect struct {
	status   int
	location string
	base     *url.URL // parsed location, for keep_incoming_path
	keep     bool
}

// New builds an instance from a validated config.
func New(cfg map[string]any, _ plugin.Deps) (any, error) {
	var c Config
	if err := model.Decode(cfg, &c); err != nil {
		return nil, err
	}
	r := &Redirect{status: c.StatusCode, location: c.Location, keep: c.KeepIncomingPath}
	if r.keep {
		u, err := url.Parse(r.location)
		if err != nil {
			return nil, err
		}
		r.base = u
	}
	return r, nil
}

var body = []byte("redirecting")

// Access answers with the status, Location and Kong's body "redirecting".
func (r *Redirect) Access(c *plugin.Ctx) {
	loc := r.location
	if r.keep {
		u := *r.base
		path, query, _ := strings.Cut(requestURI(c.Request), "?")
		u.RawPath, u.Path = "", path
		if p, err := url.PathUnescape(path); err == nil {
			u.Path, u.RawPath = p, path
		}
		u.RawQuery, u.ForceQuery = query, false
		loc = u.String()
	}
	c.Terminate(&plugin.Exit{Status: r.status, Body: body, Header: http.Header{"Location": {loc}}})
}

// requestURI is the path and query as the client sent them.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" && !strings.Contains(r.RequestURI, "://") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

var _ plugin.Accessor = (*Redirect)(nil)
