package session

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// GroupsKey is the per-request value (plugin.Ctx Get/Set) holding the
// authenticated groups, a []string (Kong's ngx.ctx.authenticated_groups):
// a session stores the groups an auth plugin left there, and puts them
// back, with X-Authenticated-Groups, when it authenticates a request.
const GroupsKey = "authenticated_groups"

// HeaderAuthenticatedGroups carries the session's groups upstream.
const HeaderAuthenticatedGroups = "X-Authenticated-Groups"

// ctxKey holds the request's *reqState between access and header_filter.
const ctxKey = "session.state"

// Session is one configured instance.
type Session struct {
	sealer       *sealer
	cookieName   string
	rememberName string
	audience     string
	attrs        string // cookie attributes, "; Path=/; SameSite=..."
	session      timeouts
	remember     bool
	persistent   timeouts // of the remember cookie
	rememberTTL  int64    // its Max-Age

	requestHeaders, responseHeaders []string

	logoutMethods     []string
	logoutQueryArg    string
	logoutPostArg     string
	readBodyForLogout bool

	ents plugin.Entities
	log  *slog.Logger
	now  func() time.Time
}

// reqState is what access leaves for header_filter.
type reqState struct {
	d       *data    // the session that authenticated the request, if any
	cookies []string // Set-Cookie values for the response
	names   []string // their cookie names
}

// Access authenticates the request with its session, if it has a valid
// one, or ends it with 200 when it is a logout request.
func (s *Session) Access(c *plugin.Ctx) {
	now := s.now().Unix()
	d, remembered := s.open(c.Request.Header, now)
	if d == nil {
		return
	}
	rs := &reqState{}
	if remembered {
		// Back from a persistent cookie: it is renewed, and a new session
		// starts with its data.
		r := *d
		resave(&r, now)
		s.issue(rs, kindRemember, &r, true)
		d.created, d.rolling, d.idling = now, 0, 0
		s.issue(rs, kindSession, d, true)
	}
	if s.isLogout(c) {
		h := http.Header{}
		for _, name := range s.cookieNames() {
			h.Add("Set-Cookie", name+"="+s.attrs+expireFlags)
		}
		c.Terminate(&plugin.Exit{Status: http.StatusOK, Header: h})
		return
	}
	var consumer *model.Consumer
	if s.ents != nil {
		consumer = s.ents.Consumer(d.consumerID)
	}
	if consumer == nil || consumer.ID != d.consumerID {
		// The consumer is gone: so is the session.
		rs.cookies, rs.names = rs.cookies[:0], rs.names[:0]
		for _, name := range s.cookieNames() {
			rs.add(name, name+"="+s.attrs+expireFlags)
		}
		c.Set(ctxKey, rs)
		return
	}
	switch s.session.refresh(d, now) {
	case save:
		resave(d, now)
		s.issue(rs, kindSession, d, true)
	case touch:
		retouch(d, now)
		s.issue(rs, kindSession, d, false)
	}
	for _, p := range s.requestHeaders {
		if v, ok := s.session.property(p, d, now); ok {
			c.SetRequestHeader(headerName[p], v)
		}
	}
	for _, p := range s.responseHeaders {
		if v, ok := s.session.property(p, d, now); ok {
			c.SetResponseHeader(headerName[p], v)
		}
	}
	rs.d = d
	c.Set(ctxKey, rs)
	if d.groups != nil {
		c.SetRequestHeader(HeaderAuthenticatedGroups, strings.Join(d.groups, ", "))
		c.Set(GroupsKey, d.groups)
	} else {
		c.ClearRequestHeader(HeaderAuthenticatedGroups)
	}
	c.Authenticate(consumer, d.credentialID)
}

// HeaderFilter sends the cookies access decided on and, when an auth
// plugin (not the session) authenticated the request, starts a session.
func (s *Session) HeaderFilter(c *plugin.Ctx) {
	var rs *reqState
	if v, ok := c.Get(ctxKey); ok {
		rs, _ = v.(*reqState)
	}
	if rs != nil {
		for i, cookie := range rs.cookies {
			mergeSetCookie(c.Header, rs.names[i], cookie)
		}
	}
	if !c.Authenticated() || c.Consumer == nil {
		return // no sessions for anonymous users
	}
	if rs != nil && rs.d != nil && rs.d.consumerID == c.Consumer.ID && rs.d.credentialID == c.Credential {
		return // the session authenticated the request
	}
	now := s.now().Unix()
	d := &data{audience: s.audience, subject: subject(c.Consumer), consumerID: c.Consumer.ID, credentialID: c.Credential}
	if v, ok := c.Get(GroupsKey); ok {
		d.groups, _ = v.([]string)
	}
	if rs != nil && rs.d != nil {
		// The session is kept, with new data.
		d.created = rs.d.created
		resave(d, now)
	} else {
		d.created = now
	}
	out := &reqState{}
	s.issue(out, kindSession, d, true)
	if s.remember {
		r := *d
		r.created = now
		if raw, ok := cookieValue(c.Request.Header, s.rememberName); ok {
			// the same consumer's persistent session goes on; another's
			// does not lend its clock
			if old, ok := s.sealer.open(kindRemember, raw); ok && s.persistent.valid(old, kindRemember, now) &&
				old.consumerID == d.consumerID && old.audience == d.audience {
				r.created = old.created
			}
		}
		resave(&r, now)
		s.issue(out, kindRemember, &r, true)
	}
	for i, cookie := range out.cookies {
		mergeSetCookie(c.Header, out.names[i], cookie)
	}
	for _, p := range s.responseHeaders {
		if v, ok := s.session.property(p, d, now); ok {
			c.Header.Set(headerName[p], v)
		}
	}
}

// subject is the session's subject: the consumer's username, else its
// custom_id, else its id.
func subject(c *model.Consumer) string {
	switch {
	case c.Username != nil:
		return *c.Username
	case c.CustomID != nil:
		return *c.CustomID
	}
	return c.ID
}
