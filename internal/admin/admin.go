package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/store"
)

// DefaultMaxBodyBytes caps request bodies when Options.MaxBodyBytes is 0:
// 10 MiB, nginx's client_max_body_size of Kong's Admin API listener.
const DefaultMaxBodyBytes = 10 << 20

// Options configures the Admin API handler.
type Options struct {
	// Store holds the entities (database = embedded or postgres); nil in
	// DB-less mode.
	Store store.Store
	// Database is "embedded", "postgres" or "off"; reported in GET / as
	// configuration.database (also when Configuration sets it).
	Database string

	// Apply replaces the served configuration (DB-less POST /config). hash
	// is the MD5 of the uploaded text (declarative.Hash).
	Apply func(cfg *model.Config, hash string) error
	// Current returns the configuration being served and its hash; GET
	// endpoints in DB-less mode read from it. nil or a nil config means
	// nothing is loaded.
	Current func() (*model.Config, string)

	// Plugins validates plugin names and configs; default: every registered
	// plugin enabled in EnabledPlugins (plugin.SchemaLookup).
	Plugins model.PluginSchemaLookup
	// EnabledPlugins are the names of the plugins setting (the bundled
	// list expanded); nil means every registered plugin.
	EnabledPlugins []string

	NodeID   string
	Hostname string
	// Version is the Kong version advertised (GET /, Server header);
	// default model.KongVersion.
	Version string
	// Configuration is kong.conf as GET / shows it, secrets removed.
	Configuration map[string]any

	// AdminToken, when set, is required in the Kong-Admin-Token header of
	// every request.
	AdminToken string

	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (413 past it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// StatusFunc answers GET /status; nil gives a body built from the
	// store's reachability and the Go runtime.
	StatusFunc func(ctx context.Context) (any, error)
	// TargetHealth answers GET /upstreams/{u}/health: the health of the
	// upstream's targets by target ("HEALTHY", "UNHEALTHY", "DNS_ERROR").
	// nil means there is no health checker: every target is
	// "HEALTHCHECKS_OFF".
	TargetHealth func(upstreamID string) map[string]string
	// SetTargetHealth serves PUT and POST
	// /upstreams/{u}/targets/{t}[/{address}]/healthy|unhealthy: the health
	// of every address of a target, or of one (address not empty). An
	// error is answered 400 with its text, as Kong does; nil leaves those
	// paths unserved (404).
	SetTargetHealth func(upstreamID, target, address string, healthy bool) error
	// Now gives the time for timestamps; default time.Now.
	Now func() time.Time

	// LogLevel is the level of the node's logger, which PUT
	// /debug/node/log-level/{level} changes for a while (Kong's dynamic
	// log level); LogLevelName is its Kong name (settings log_level, e.g.
	// "notice"). nil leaves the /debug/node/log-level endpoints unserved.
	LogLevel     *slog.LevelVar
	LogLevelName string
}

type server struct {
	opts     Options
	log      *slog.Logger
	reader   readerFunc
	plugins  model.PluginSchemaLookup
	enabled  []string
	dbless   bool
	routes   []*route
	version  string
	maxBody  int64
	now      func() time.Time
	entities map[string]*entityInfo // by DAO name
	logLevel *dynLevel              // nil without Options.LogLevel
}

// readerFunc returns the Reader to serve GETs from.
type readerFunc func() store.Reader

// New returns the Admin API handler.
func New(opts Options) http.Handler {
	s := &server{opts: opts, log: opts.Logger, version: opts.Version, maxBody: opts.MaxBodyBytes, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.version == "" {
		s.version = model.KongVersion
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.enabled = opts.EnabledPlugins
	if s.enabled == nil {
		s.enabled = plugin.Names()
	}
	s.enabled = append([]string(nil), s.enabled...)
	sort.Strings(s.enabled)
	s.plugins = opts.Plugins
	if s.plugins == nil {
		en := make(map[string]bool, len(s.enabled))
		for _, n := range s.enabled {
			en[n] = true
		}
		s.plugins = plugin.SchemaLookup(en)
	}
	s.dbless = opts.Store == nil || opts.Database == "off"
	if s.dbless {
		cache := &readerCache{}
		s.reader = func() store.Reader {
			var cfg *model.Config
			if opts.Current != nil {
				cfg, _ = opts.Current()
			}
			return cache.get(cfg)
		}
	} else {
		st := opts.Store
		s.reader = func() store.Reader { return st }
	}
	s.entities = buildEntities()
	s.routes = s.buildRoutes()
	return s
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	start  time.Time
	params map[string]string // path parameters by name
	route  *route
	body   []byte
	form   bool // the body was form-encoded or multipart
	status int  // the status written
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, start: time.Now()}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		defer func() {
			s.log.Debug("admin api request", "method", r.Method, "path", r.URL.Path,
				"status", c.status, "duration", time.Since(c.start))
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.fail(c, fmt.Errorf("admin: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack()))
		}
	}()
	h := w.Header()
	h.Set("Server", "kong/"+s.version)
	// Kong runs its cors plugin on the Admin API with origins "*" and
	// credentials (kong/admin_gui/api_helpers.lua): the request's Origin is
	// echoed when there is one (23-cors_spec.lua).
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Allow-Credentials", "true")
	if s.opts.AdminToken != "" {
		got := r.Header.Get("Kong-Admin-Token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.AdminToken)) != 1 {
			s.fail(c, message(http.StatusUnauthorized, "Invalid credentials. Token or User credentials required"))
			return
		}
	}
	rt, params := s.match(r.URL.EscapedPath())
	if rt == nil {
		s.fail(c, errNotFound())
		return
	}
	c.route, c.params = rt, params
	if countArgs(r.URL.RawQuery) > maxArgs {
		s.fail(c, errTooManyArgs)
		return
	}
	method := r.Method
	if method == http.MethodOptions {
		allow := rt.allowed()
		h.Set("Allow", allow)
		h.Set("Access-Control-Allow-Methods", allow)
		acah := r.Header.Get("Access-Control-Request-Headers")
		if acah == "" {
			acah = "Content-Type"
		}
		h.Set("Access-Control-Allow-Headers", acah)
		s.writeLatency(c)
		c.status = http.StatusNoContent
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	fn := rt.methods[method]
	if fn == nil {
		s.fail(c, errMethodNotAllowed())
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		data, err := readBody(r, s.maxBody)
		if err != nil {
			if ae := toError(err); ae.Status == http.StatusRequestEntityTooLarge && rt.pattern == "/config" {
				s.fail(c, message(http.StatusRequestEntityTooLarge, "Configuration does not fit in Kong cache"))
				return
			}
			s.fail(c, err)
			return
		}
		c.body = data
	}
	if err := fn(c); err != nil {
		s.fail(c, err)
	}
}

func (s *server) writeLatency(c *call) {
	c.w.Header().Set("X-Kong-Admin-Latency", strconv.FormatInt(time.Since(c.start).Milliseconds(), 10))
}

// reply writes a JSON body with status.
func (s *server) reply(c *call, status int, v any) error {
	h := c.w.Header()
	s.writeLatency(c)
	c.status = status
	if status == http.StatusNoContent || status == http.StatusNotModified {
		c.w.WriteHeader(status)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
	return nil
}

// fail writes err as Kong's error response and logs it.
func (s *server) fail(c *call, err error) {
	e := toError(err)
	lvl := slog.LevelDebug
	if e.Status >= 500 {
		lvl = slog.LevelError
	}
	s.log.Log(c.r.Context(), lvl, "admin api error", "method", c.r.Method, "path", c.r.URL.Path,
		"status", e.Status, "error", err)
	if e.Body == nil {
		e.Body = map[string]string{"message": http.StatusText(e.Status)}
	}
	_ = s.reply(c, e.Status, e.Body)
}

// route is one path pattern and its handlers.
type route struct {
	pattern string   // Kong's form, e.g. "/services/{services}/routes"
	segs    []string // "" marks a parameter
	names   []string // parameter names by position
	methods map[string]func(*call) error
}

func (rt *route) allowed() string {
	ms := make([]string, 0, len(rt.methods)+2)
	for m := range rt.methods {
		ms = append(ms, m)
	}
	if rt.methods[http.MethodGet] != nil {
		ms = append(ms, http.MethodHead)
	}
	ms = append(ms, http.MethodOptions)
	sort.Strings(ms)
	return strings.Join(ms, ", ")
}

func (s *server) add(pattern string, methods map[string]func(*call) error) {
	rt := &route{pattern: pattern, methods: methods}
	for _, seg := range strings.Split(strings.Trim(pattern, "/"), "/") {
		if strings.HasPrefix(seg, "{") {
			rt.segs = append(rt.segs, "")
			rt.names = append(rt.names, strings.Trim(seg, "{}"))
		} else {
			rt.segs = append(rt.segs, seg)
			rt.names = append(rt.names, "")
		}
	}
	if pattern == "/" {
		rt.segs, rt.names = nil, nil
	}
	s.routes = append(s.routes, rt)
}

// match finds the route for an escaped path; literal segments win over
// parameters, position by position (/plugins/enabled before
// /plugins/{plugins}).
func (s *server) match(escaped string) (*route, map[string]string) {
	p := strings.Trim(escaped, "/")
	var segs []string
	if p != "" {
		segs = strings.Split(p, "/")
	}
	var best *route
	var bestScore []bool
	for _, rt := range s.routes {
		if len(rt.segs) != len(segs) {
			continue
		}
		score := make([]bool, len(segs))
		ok := true
		for i, seg := range rt.segs {
			if seg == "" {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if seg != segs[i] {
				ok = false
				break
			}
			score[i] = true
		}
		if !ok {
			continue
		}
		if best == nil || better(score, bestScore) {
			best, bestScore = rt, score
		}
	}
	if best == nil {
		return nil, nil
	}
	params := map[string]string{}
	for i, n := range best.names {
		if n != "" {
			v, err := unescape(segs[i])
			if err != nil {
				return nil, nil
			}
			params[n] = v
		}
	}
	return best, params
}

// maxArgs is how many query or form arguments Kong reads
// (21-truncated_arguments_spec.lua); past it the request fails.
const maxArgs = 1000

var errTooManyArgs = message(http.StatusBadRequest, "Too many arguments")

// countArgs counts the key=value pairs of a query or form body.
func countArgs(q string) int {
	n := 0
	for q != "" {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		if seg != "" {
			n++
		}
	}
	return n
}

func better(a, b []bool) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i]
		}
	}
	return false
}
