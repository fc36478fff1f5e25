package session

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

type ents struct{ consumers map[string]*model.Consumer }

func (e ents) Consumer(id string) *model.Consumer                  { return e.consumers[id] }
func (ents) KeyAuthCredential(string) *model.KeyAuthCredential     { return nil }
func (ents) BasicAuthCredential(string) *model.BasicAuthCredential { return nil }
func (ents) HMACAuthCredential(string) *model.HMACAuthCredential   { return nil }
func (ents) JWTSecret(string) *model.JWTSecret                     { return nil }
func (ents) OAuth2Credential(string) *model.OAuth2Credential       { return nil }
func (ents) OAuth2CredentialByID(string) *model.OAuth2Credential   { return nil }
func (ents) ConsumerGroups(string) []string                        { return nil }

var alice = func() *model.Consumer { u := "alice"; return &model.Consumer{ID: "c1", Username: &u} }()

// clock is a settable time for an instance.
type clock struct{ t int64 }

func (c *clock) now() time.Time { return time.Unix(c.t, 0) }

// newTest builds an instance of cfg (JSON) with alice as the only consumer
// and a clock starting at 1e9.
func newTest(t testing.TB, cfg string) (*Session, *clock) {
	t.Helper()
	rec, err := Schema.Process(decodeJSON(t, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	impl, nerr := New(rec, plugin.Deps{Entities: ents{map[string]*model.Consumer{"c1": alice}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if nerr != nil {
		t.Fatal(nerr)
	}
	s := impl.(*Session)
	clk := &clock{t: 1e9}
	s.now = clk.now
	return s, clk
}

// exchange runs access and header_filter for one request and returns the
// context and the response's headers. auth, when set, authenticates the
// request as an auth plugin would between the two phases.
func exchange(s *Session, method, target string, hdr http.Header, body string, auth *model.Consumer) (*plugin.Ctx, http.Header) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, _ := http.NewRequest(method, "http://gw"+target, rd)
	for k, v := range hdr {
		r.Header[k] = v
	}
	c := &plugin.Ctx{Request: r}
	s.Access(c)
	if c.Exited() == nil && auth != nil && !c.Authenticated() {
		c.Authenticate(auth, "k1")
	}
	h := http.Header{}
	status := 200
	if e := c.Exited(); e != nil {
		status = e.Status
		for k, v := range e.Header {
			h[k] = v
		}
	}
	c.BeginResponse(status, h)
	s.HeaderFilter(c)
	return c, h
}

// login authenticates a request (as key-auth would) and returns the
// session cookie it got, "name=value".
func login(t *testing.T, s *Session) string {
	t.Helper()
	_, h := exchange(s, "GET", "/", nil, "", alice)
	sc := h.Values("Set-Cookie")
	if len(sc) == 0 {
		t.Fatal("no Set-Cookie after an authenticated request")
	}
	v, _, _ := strings.Cut(sc[0], ";")
	return v
}

func withCookie(cookies ...string) http.Header {
	return http.Header{"Cookie": {strings.Join(cookies, "; ")}}
}

func TestLoginAndReuse(t *testing.T) {
	s, _ := newTest(t, `{"secret":"s3cret"}`)
	_, h := exchange(s, "GET", "/", nil, "", alice)
	sc := h.Values("Set-Cookie")
	if len(sc) != 1 || !strings.HasPrefix(sc[0], "session=") || !strings.HasSuffix(sc[0], "; Path=/; SameSite=Strict; Secure; HttpOnly") {
		t.Fatalf("Set-Cookie = %q", sc)
	}
	cookie, _, _ := strings.Cut(sc[0], ";")

	c, h := exchange(s, "GET", "/", withCookie("other=1", cookie), "", nil)
	if !c.Authenticated() || c.Consumer != alice || c.Credential != "k1" {
		t.Fatalf("not authenticated by the session: consumer %v credential %q", c.Consumer, c.Credential)
	}
	if got := c.Request.Header.Get("X-Consumer-Username"); got != "alice" {
		t.Errorf("X-Consumer-Username = %q", got)
	}
	if got := h.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("fresh session re-issued: %q", got)
	}
	// An anonymous request gets no session.
	if _, h := exchange(s, "GET", "/", nil, "", nil); len(h.Values("Set-Cookie")) != 0 {
		t.Error("Set-Cookie without authentication")
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, tt := range []struct{ cfg, want string }{
		{`{"cookie_name":"da_cookie","cookie_same_site":"Lax","cookie_http_only":false,"cookie_secure":false}`,
			"; Path=/; SameSite=Lax"},
		{`{"cookie_domain":"example.com","cookie_path":"/app","cookie_same_site":"None","cookie_secure":false}`,
			"; Domain=example.com; Path=/app; SameSite=None; Secure; HttpOnly"},
		{`{"cookie_domain":"localhost","cookie_same_site":"Default"}`, "; Path=/; SameSite=Default; Secure; HttpOnly"},
	} {
		s, _ := newTest(t, tt.cfg)
		_, h := exchange(s, "GET", "/", nil, "", alice)
		sc := h.Get("Set-Cookie")
		if _, attrs, _ := strings.Cut(sc, ";"); ";"+attrs != tt.want {
			t.Errorf("%s: Set-Cookie %q; want attributes %q", tt.cfg, sc, tt.want)
		}
	}
}

func TestRejectedSessions(t *testing.T) {
	s, clk := newTest(t, `{"idling_timeout":60,"rolling_timeout":300,"absolute_timeout":600}`)
	cookie := login(t, s)
	name, value, _ := strings.Cut(cookie, "=")
	tampered := name + "=" + value[:len(value)-2] + flip(value[len(value)-2]) + value[len(value)-1:]
	other, _ := newTest(t, `{"secret":"another"}`)
	otherCookie := login(t, other)
	aud, _ := newTest(t, `{"audience":"other"}`)
	aud.sealer = s.sealer
	audCookie := login(t, aud)

	for _, tt := range []struct {
		name, cookie string
		at           int64
	}{
		{"tampered", tampered, 0},
		{"other secret", otherCookie, 0},
		{"other audience", audCookie, 0},
		{"idle", cookie, 61},
		{"too large", name + "=" + strings.Repeat("A", maxCookieRead+1), 0},
		{"empty", name + "=", 0},
	} {
		clk.t = 1e9 + tt.at
		c, h := exchange(s, "GET", "/", withCookie(tt.cookie), "", nil)
		if c.Authenticated() || c.Consumer != nil {
			t.Errorf("%s: authenticated", tt.name)
		}
		if len(h.Values("Set-Cookie")) != 0 {
			t.Errorf("%s: Set-Cookie %q", tt.name, h.Values("Set-Cookie"))
		}
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestRenewal: used within the idling timeout, the session is touched
// (after a minute) or saved again (after 3/4 of the rolling timeout), and
// lives on until the absolute timeout.
func TestRenewal(t *testing.T) {
	s, clk := newTest(t, `{"idling_timeout":100,"rolling_timeout":200,"absolute_timeout":500,"response_headers":["id","timeout"]}`)
	cookie := login(t, s)
	sid := func(h http.Header) string { return h.Get("Session-Id") }
	// within a minute: nothing to renew
	clk.t += 30
	c, h := exchange(s, "GET", "/", withCookie(cookie), "", nil)
	if !c.Authenticated() || len(h.Values("Set-Cookie")) != 0 {
		t.Fatalf("+30s: authenticated %v, Set-Cookie %q", c.Authenticated(), h.Values("Set-Cookie"))
	}
	first := sid(h)
	if got := h.Get("Session-Timeout"); got != "70" {
		t.Errorf("+30s: Session-Timeout %q; want 70", got)
	}
	// past a minute: touched, same id
	clk.t += 40
	_, h = exchange(s, "GET", "/", withCookie(cookie), "", nil)
	if len(h.Values("Set-Cookie")) != 1 || sid(h) != first {
		t.Fatalf("+70s: Set-Cookie %q, id %q (was %q); want a touch", h.Values("Set-Cookie"), sid(h), first)
	}
	cookie, _, _ = strings.Cut(h.Get("Set-Cookie"), ";")
	// the touched cookie is idle from +70s; past 3/4 of rolling: saved
	for clk.t < 1e9+160 {
		clk.t += 50
		_, h = exchange(s, "GET", "/", withCookie(cookie), "", nil)
		if sc := h.Get("Set-Cookie"); sc != "" {
			cookie, _, _ = strings.Cut(sc, ";")
		}
	}
	if sid(h) == first {
		t.Errorf("+%ds: session id unchanged after 3/4 of the rolling timeout", clk.t-1e9)
	}
	// keep using it: it ends at the absolute timeout
	for clk.t+50 <= 1e9+500 {
		clk.t += 50
		c, h = exchange(s, "GET", "/", withCookie(cookie), "", nil)
		if !c.Authenticated() {
			t.Fatalf("+%ds: session refused before the absolute timeout", clk.t-1e9)
		}
		if sc := h.Get("Set-Cookie"); sc != "" {
			cookie, _, _ = strings.Cut(sc, ";")
		}
	}
	clk.t += 50
	if c, _ := exchange(s, "GET", "/", withCookie(cookie), "", nil); c.Authenticated() {
		t.Errorf("+%ds: session accepted after the absolute timeout", clk.t-1e9)
	}
}

func TestLogout(t *testing.T) {
	s, _ := newTest(t, `{"read_body_for_logout":true}`)
	cookie := login(t, s)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	for _, tt := range []struct {
		name, method, target, body string
		hdr                        http.Header
		logout                     bool
	}{
		{"DELETE with query arg", "DELETE", "/?session_logout", "", nil, true},
		{"POST with query arg and value", "POST", "/?session_logout=1", "", nil, true},
		{"GET not a logout method", "GET", "/?session_logout", "", nil, false},
		{"POST form", "POST", "/", "a=1&session_logout", form, true},
		{"POST json", "POST", "/", `{"session_logout":true}`, jsonH, true},
		{"POST json false", "POST", "/", `{"session_logout":false}`, jsonH, false},
		{"POST without arg", "POST", "/?x=1", "a=1", form, false},
	} {
		hdr := withCookie(cookie)
		for k, v := range tt.hdr {
			hdr[k] = v
		}
		c, h := exchange(s, tt.method, tt.target, hdr, tt.body, nil)
		e := c.Exited()
		if (e != nil) != tt.logout {
			t.Errorf("%s: exited %v; want logout %v", tt.name, e != nil, tt.logout)
			continue
		}
		if !tt.logout {
			if !c.Authenticated() {
				t.Errorf("%s: not authenticated", tt.name)
			}
			if tt.body != "" {
				if b, _ := io.ReadAll(c.Request.Body); string(b) != tt.body {
					t.Errorf("%s: body upstream %q; want %q", tt.name, b, tt.body)
				}
			}
			continue
		}
		if e.Status != 200 || e.Body != nil || e.Message != "" || c.Authenticated() {
			t.Errorf("%s: exit %+v, authenticated %v", tt.name, e, c.Authenticated())
		}
		want := "session=; Path=/; SameSite=Strict; Secure; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"
		if got := h.Values("Set-Cookie"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: Set-Cookie %q; want [%q]", tt.name, got, want)
		}
	}
	// No session, no logout: the request goes on.
	if c, _ := exchange(s, "DELETE", "/?session_logout", nil, "", nil); c.Exited() != nil {
		t.Error("logout without a session ended the request")
	}
	// Body not read unless read_body_for_logout.
	s2, _ := newTest(t, `{}`)
	c2 := login(t, s2)
	hdr := withCookie(c2)
	hdr["Content-Type"] = form["Content-Type"]
	if c, _ := exchange(s2, "POST", "/", hdr, "session_logout=1", nil); c.Exited() != nil {
		t.Error("body logout without read_body_for_logout")
	}
}

func TestConsumerGone(t *testing.T) {
	s, _ := newTest(t, `{}`)
	cookie := login(t, s)
	s.ents = ents{}
	c, h := exchange(s, "GET", "/", withCookie(cookie), "", nil)
	if c.Authenticated() {
		t.Fatal("authenticated as a deleted consumer")
	}
	if sc := h.Get("Set-Cookie"); !strings.HasPrefix(sc, "session=;") || !strings.HasSuffix(sc, "Max-Age=0") {
		t.Errorf("Set-Cookie %q; want the session removed", sc)
	}
}

// TestReplacedCredential: a session of another consumer or credential is
// replaced by the one an auth plugin accepted, keeping its creation time.
func TestReplacedCredential(t *testing.T) {
	s, clk := newTest(t, `{}`)
	cookie := login(t, s)
	clk.t += 10
	r, _ := http.NewRequest("GET", "http://gw/", nil)
	r.Header = withCookie(cookie)
	c := &plugin.Ctx{Request: r}
	s.Access(c)
	c.Authenticate(alice, "k2") // a lower-priority auth plugin disagrees
	h := http.Header{"Set-Cookie": {"app=1", "session=stale"}}
	c.BeginResponse(200, h)
	s.HeaderFilter(c)
	sc := h.Values("Set-Cookie")
	if len(sc) != 2 || sc[0] != "app=1" || !strings.HasPrefix(sc[1], "session=") || sc[1] == "session=stale" {
		t.Fatalf("Set-Cookie %q; want app's kept and session's replaced", sc)
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(sc[1], "session="), ";")
	d, ok := s.sealer.open(kindSession, v)
	if !ok || d.credentialID != "k2" || d.created != 1e9 || d.rolling != 10 || d.subject != "alice" {
		t.Errorf("new session %+v", d)
	}
}

func TestGroupsAndHeaders(t *testing.T) {
	s, _ := newTest(t, `{"request_headers":["id","audience","subject","absolute-timeout"],"response_headers":["subject"]}`)
	r, _ := http.NewRequest("GET", "http://gw/", nil)
	c := &plugin.Ctx{Request: r}
	s.Access(c)
	c.Authenticate(alice, "k1")
	c.Set(GroupsKey, []string{"agents", "doubleagents"})
	h := http.Header{}
	c.BeginResponse(200, h)
	s.HeaderFilter(c)
	if got := h.Get("Session-Subject"); got != "alice" {
		t.Errorf("response Session-Subject = %q", got)
	}
	cookie, _, _ := strings.Cut(h.Get("Set-Cookie"), ";")

	c, h = exchange(s, "GET", "/", withCookie(cookie), "", nil)
	rh := c.Request.Header
	if got := rh.Get(HeaderAuthenticatedGroups); got != "agents, doubleagents" {
		t.Errorf("X-Authenticated-Groups = %q", got)
	}
	if g, _ := c.Get(GroupsKey); len(g.([]string)) != 2 {
		t.Errorf("groups in context = %v", g)
	}
	if len(rh.Get("Session-Id")) != 43 || rh.Get("Session-Audience") != "default" || rh.Get("Session-Subject") != "alice" ||
		rh.Get("Session-Absolute-Timeout") != "86400" {
		t.Errorf("request headers %v", rh)
	}
	if h.Get("Session-Subject") != "alice" {
		t.Errorf("response headers %v", h)
	}
	// A session without groups clears a client's header.
	s2, _ := newTest(t, `{}`)
	cookie = login(t, s2)
	hdr := withCookie(cookie)
	hdr[HeaderAuthenticatedGroups] = []string{"spoofed"}
	c, _ = exchange(s2, "GET", "/", hdr, "", nil)
	if got := c.Request.Header.Values(HeaderAuthenticatedGroups); len(got) != 0 {
		t.Errorf("X-Authenticated-Groups = %q; want none", got)
	}
}

// TestRemember: with remember, a persistent cookie outlives the session
// and starts a new one when the session is gone.
func TestRemember(t *testing.T) {
	s, clk := newTest(t, `{"remember":true,"idling_timeout":60,"remember_rolling_timeout":3600}`)
	_, h := exchange(s, "GET", "/", nil, "", alice)
	sc := h.Values("Set-Cookie")
	if len(sc) != 2 || !strings.HasPrefix(sc[1], "remember=") {
		t.Fatalf("Set-Cookie %q; want session and remember", sc)
	}
	wantTail := "; Path=/; SameSite=Strict; Secure; HttpOnly; Expires=" +
		time.Unix(1e9+3600, 0).UTC().Format(http.TimeFormat) + "; Max-Age=3600"
	if !strings.HasSuffix(sc[1], wantTail) {
		t.Errorf("remember cookie %q; want it to end with %q", sc[1], wantTail)
	}
	session, _, _ := strings.Cut(sc[0], ";")
	remember, _, _ := strings.Cut(sc[1], ";")

	clk.t += 600 // the session is idle, the persistent cookie valid
	c, h := exchange(s, "GET", "/", withCookie(session, remember), "", nil)
	if !c.Authenticated() || c.Consumer != alice {
		t.Fatal("persistent cookie did not authenticate")
	}
	sc = h.Values("Set-Cookie")
	if len(sc) != 2 || !strings.HasPrefix(sc[0], "remember=") || !strings.HasPrefix(sc[1], "session=") {
		t.Fatalf("Set-Cookie %q; want a renewed remember and a new session", sc)
	}
	fresh, _, _ := strings.Cut(sc[1], ";")
	if c, _ := exchange(s, "GET", "/", withCookie(fresh), "", nil); !c.Authenticated() {
		t.Error("new session refused")
	}
	// Logout removes both.
	c, _ = exchange(s, "DELETE", "/?session_logout", withCookie(fresh), "", nil)
	if e := c.Exited(); e == nil || len(e.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("logout: %+v", e)
	}
	// Past the persistent rolling timeout: nothing.
	clk.t += 3600
	if c, _ := exchange(s, "GET", "/", withCookie(remember), "", nil); c.Authenticated() {
		t.Error("expired persistent cookie accepted")
	}
}

func TestNewWarnings(t *testing.T) {
	for _, tt := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{}, "secret is the default"},
		{map[string]any{"secret": nil}, "no secret configured"},
		{map[string]any{"secret": "x", "storage": "kong"}, "storage kong is not supported"},
	} {
		rec, err := Schema.Process(tt.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		impl, nerr := New(rec, plugin.Deps{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if nerr != nil || impl == nil {
			t.Fatalf("New: %v", nerr)
		}
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("%v: log %q; want %q", tt.cfg, buf.String(), tt.want)
		}
	}
}
