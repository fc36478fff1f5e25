package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"sluice/internal/declarative"
	"sluice/internal/model"
	"sluice/internal/plugin"
	"sluice/internal/store"
)

type handlers = map[string]func(*call) error

func (s *server) addNodeRoutes() {
	s.add("/", handlers{http.MethodGet: s.root})
	s.add("/status", handlers{http.MethodGet: s.status})
	s.add("/endpoints", handlers{http.MethodGet: s.endpoints})
	s.add("/timers", handlers{http.MethodGet: s.timers})
	// Kong's /cache (kong/api/routes/cache.lua) reads and purges the node's
	// entity cache. sluice has none: a node serves an immutable snapshot
	// rebuilt on every change, so there is never a stale entry to purge.
	// A key is never found, and purging succeeds without work.
	noContent := func(c *call) error { return s.reply(c, http.StatusNoContent, nil) }
	s.add("/cache", handlers{http.MethodDelete: noContent})
	s.add("/cache/{key}", handlers{http.MethodGet: func(*call) error { return errNotFound() }, http.MethodDelete: noContent})
	if s.opts.LogLevel != nil {
		s.logLevel = newDynLevel(s.opts.LogLevel, s.opts.LogLevelName)
		s.add("/debug/node/log-level", handlers{http.MethodGet: s.getLogLevel})
		s.add("/debug/node/log-level/{log_level}", handlers{http.MethodPut: s.putLogLevel})
	}
	s.add("/plugins/enabled", handlers{http.MethodGet: s.pluginsEnabled})
	s.add("/schemas/{name}", handlers{http.MethodGet: s.entitySchema})
	s.add("/schemas/{name}/validate", handlers{http.MethodPost: s.validateEntity})
	s.add("/schemas/plugins/{name}", handlers{http.MethodGet: s.pluginSchema})
	s.add("/schemas/plugins/validate", handlers{http.MethodPost: s.validatePlugin})
	s.add("/tags", handlers{http.MethodGet: s.tags})
	s.add("/tags/{tags}", handlers{http.MethodGet: s.tags})
	s.add("/config", handlers{http.MethodGet: s.getConfig, http.MethodPost: s.postConfig})
	s.add("/upstreams/{upstreams}/health", handlers{http.MethodGet: s.upstreamHealth})
	if s.opts.SetTargetHealth != nil {
		for _, state := range []string{"healthy", "unhealthy"} {
			h := s.setHealth(state == "healthy")
			s.add("/upstreams/{upstreams}/targets/{targets}/"+state, handlers{http.MethodPut: h, http.MethodPost: h})
			s.add("/upstreams/{upstreams}/targets/{targets}/{address}/"+state, handlers{http.MethodPut: h, http.MethodPost: h})
		}
	}
	s.add("/upstreams/{upstreams}/targets/all", handlers{http.MethodGet: func(c *call) error {
		e := s.entities["targets"]
		return s.listHandler(e, &nest{parent: s.entities["upstreams"], field: "upstream"})(c)
	}})
}

func (s *server) database() string {
	if s.opts.Database != "" {
		return s.opts.Database
	}
	if s.dbless {
		return "off"
	}
	return "embedded"
}

// enabledInCluster lists the distinct names of the plugin entities.
func (s *server) enabledInCluster(ctx context.Context) ([]string, error) {
	rd := s.reader()
	seen := map[string]bool{}
	opts := store.ListOptions{Size: 1000}
	for {
		page, err := rd.List(ctx, "plugins", opts)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if n, ok := r["name"].(string); ok {
				seen[n] = true
			}
		}
		if page.Offset == "" {
			break
		}
		opts.Offset = page.Offset
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (s *server) root(c *call) error {
	ctx := c.r.Context()
	avail := map[string]any{}
	for _, n := range s.enabled {
		info := map[string]any{"version": s.version, "priority": 0}
		if d, ok := plugin.Lookup(n); ok {
			if d.Version != "" {
				info["version"] = d.Version
			}
			info["priority"] = d.Priority
		}
		avail[n] = info
	}
	inCluster, err := s.enabledInCluster(ctx)
	if err != nil {
		return err
	}
	conf := map[string]any{}
	for k, v := range s.opts.Configuration {
		conf[k] = v
	}
	conf["database"] = s.database()
	if _, ok := conf["plugins"]; !ok {
		conf["plugins"] = s.enabled
	}
	host := s.opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	pid := os.Getpid()
	return s.reply(c, http.StatusOK, map[string]any{
		"tagline":       "Welcome to kong",
		"version":       s.version,
		"edition":       "community",
		"hostname":      host,
		"node_id":       s.opts.NodeID,
		"timers":        map[string]any{"running": 0, "pending": 0},
		"plugins":       map[string]any{"available_on_server": avail, "enabled_in_cluster": inCluster},
		"lua_version":   "LuaJIT 2.1.0-20231117",
		"configuration": conf,
		"pids":          map[string]any{"master": pid, "workers": []int{pid}},
	})
}

func (s *server) status(c *call) error {
	ctx := c.r.Context()
	if s.opts.StatusFunc != nil {
		v, err := s.opts.StatusFunc(ctx)
		if err != nil {
			return err
		}
		return s.reply(c, http.StatusOK, v)
	}
	q := c.r.URL.Query()
	unit := "m"
	if q.Has("unit") {
		unit = q.Get("unit")
	}
	scale := 2
	if q.Has("scale") {
		if f, err := strconv.ParseFloat(q.Get("scale"), 64); err == nil {
			scale = int(f)
		}
	}
	heap, err := memSize(ms0(), unit, scale)
	if err != nil {
		return message(http.StatusBadRequest, err.Error())
	}
	reachable := true
	if !s.dbless {
		_, err := s.opts.Store.Version(ctx)
		reachable = err == nil
	}
	body := map[string]any{
		"database": map[string]any{"reachable": reachable},
		"memory": map[string]any{
			"workers_lua_vms":  []any{map[string]any{"http_allocated_gc": heap, "pid": os.Getpid()}},
			"lua_shared_dicts": map[string]any{},
		},
		"server": map[string]any{"total_requests": 0, "connections_active": 0, "connections_accepted": 0,
			"connections_handled": 0, "connections_reading": 0, "connections_writing": 0, "connections_waiting": 0},
	}
	if s.dbless {
		hash := declarative.EmptyHash
		if s.opts.Current != nil {
			if cfg, h := s.opts.Current(); cfg != nil && h != "" {
				hash = h
			}
		}
		body["configuration_hash"] = hash
	}
	return s.reply(c, http.StatusOK, body)
}

// ms0 is the Go heap in use, reported where Kong reports a worker's Lua VM.
func ms0() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memSize formats bytes as Kong's utils.bytes_to_str does for GET /status
// ?unit=&scale= (kong/api/routes/health.lua): "b" gives a number, k/m/g a
// string with scale decimals ("0.86 MiB"); anything else is Kong's error.
func memSize(bytes uint64, unit string, scale int) (any, error) {
	if scale < 0 {
		return nil, errors.New("scale must be equal or greater than 0")
	}
	var div float64
	var suffix string
	switch strings.ToLower(unit) {
	case "b":
		return bytes, nil
	case "k":
		div, suffix = 1<<10, " KiB"
	case "m":
		div, suffix = 1<<20, " MiB"
	case "g":
		div, suffix = 1<<30, " GiB"
	default:
		return nil, fmt.Errorf("invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", unit)
	}
	return strconv.FormatFloat(float64(bytes)/div, 'f', scale, 64) + suffix, nil
}

// timers answers GET /timers in Kong's shape (20-timers_spec.lua). sluice
// runs no Lua timer wheel: one worker, and every counter is zero.
func (s *server) timers(c *call) error {
	return s.reply(c, http.StatusOK, map[string]any{
		"worker": map[string]any{"id": 0, "count": 1},
		"stats": map[string]any{
			"flamegraph": map[string]any{"running": "", "pending": "", "elapsed_time": ""},
			"sys":        map[string]any{"total": 0, "runs": 0, "running": 0, "pending": 0, "waiting": 0},
			"timers":     map[string]any{},
		},
	})
}

func (s *server) pluginsEnabled(c *call) error {
	return s.reply(c, http.StatusOK, map[string]any{"enabled_plugins": s.enabled})
}

// endpoints lists the paths of the API sorted segment-wise, "/" lowest.
func (s *server) endpoints(c *call) error {
	seen := map[string]bool{}
	list := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		if !seen[rt.pattern] {
			seen[rt.pattern] = true
			list = append(list, rt.pattern)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		return strings.ReplaceAll(list[i], "/", "\x00") < strings.ReplaceAll(list[j], "/", "\x00")
	})
	return s.reply(c, http.StatusOK, map[string]any{"data": list})
}

func (s *server) entitySchema(c *call) error {
	name := c.params["name"]
	var schema *model.Schema
	if e, ok := s.entities[name]; ok {
		schema = e.schema
	} else if name == "tags" {
		schema = model.TagsSchema()
	} else {
		return message(http.StatusNotFound, "No entity named '"+name+"'")
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return s.reply(c, http.StatusOK, json.RawMessage(b))
}

func (s *server) pluginSchema(c *call) error {
	name := c.params["name"]
	ps, ok := s.plugins(name)
	if !ok {
		return message(http.StatusNotFound, "No plugin named '"+name+"'")
	}
	b, err := ps.PluginJSON()
	if err != nil {
		return err
	}
	return s.reply(c, http.StatusOK, json.RawMessage(b))
}

func (s *server) validateWith(c *call, e *entityInfo) error {
	in, err := s.input(c, e)
	if err != nil {
		return err
	}
	if _, err := s.process(e, in); err != nil {
		return err
	}
	return s.reply(c, http.StatusOK, map[string]any{"message": "schema validation successful"})
}

func (s *server) validateEntity(c *call) error {
	name := c.params["name"]
	e, ok := s.entities[name]
	if !ok {
		return message(http.StatusNotFound, "No entity named '"+name+"'")
	}
	return s.validateWith(c, e)
}

func (s *server) validatePlugin(c *call) error {
	return s.validateWith(c, s.entities["plugins"])
}

// tags serves GET /tags and /tags/{tag}: one row per tag of every entity.
func (s *server) tags(c *call) error {
	ctx := c.r.Context()
	rd := s.reader()
	only, filtered := c.params["tags"]
	if filtered {
		// kong/db/dao/tags.lua page_by_tag: the tag is validated first,
		// failing with invalid_unique('tag', err), code 10, HTTP 400.
		if msg := model.ValidateTag(only); msg != "" {
			return errInvalidUnique("tag", msg)
		}
	}
	q := c.r.URL.Query()
	sizeQ := url.Values{}
	if q.Has("size") {
		sizeQ.Set("size", q.Get("size"))
	}
	opts, err := pageOptions(sizeQ, false)
	if err != nil {
		return err
	}
	var rows []map[string]any
	for _, name := range allEntityNames(s) {
		lo := store.ListOptions{Size: 1000}
		if filtered {
			lo.Tags = []string{only}
		}
		for {
			page, err := rd.List(ctx, name, lo)
			if err != nil {
				return err
			}
			for _, r := range page.Records {
				list, _ := r["tags"].([]any)
				for _, t := range list {
					ts, _ := t.(string)
					if filtered && ts != only {
						continue
					}
					rows = append(rows, map[string]any{"entity_name": name, "entity_id": idOf(r), "tag": ts})
				}
			}
			if page.Offset == "" {
				break
			}
			lo.Offset = page.Offset
		}
	}
	start := 0
	if off := q.Get("offset"); off != "" {
		n, err := strconv.Atoi(off)
		if err != nil || n < 0 || n > len(rows) {
			return errDAO(http.StatusBadRequest, codeInvalidOffset, "'"+off+"' is not a valid offset: bad base64 encoding", nil)
		}
		start = n
	}
	end := min(start+opts.Size, len(rows))
	data := make([]any, 0, end-start)
	for _, r := range rows[start:end] {
		data = append(data, r)
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(rows) {
		off := strconv.Itoa(end)
		body["offset"] = off
		path := "/tags"
		if filtered {
			path += "/" + url.PathEscape(only)
		}
		body["next"] = path + "?offset=" + off
	}
	return s.reply(c, http.StatusOK, body)
}

func allEntityNames(s *server) []string {
	var out []string
	for _, n := range []string{"services", "routes", "consumers", "plugins", "upstreams", "targets",
		"certificates", "snis", "ca_certificates", "keyauth_credentials", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "acls",
		"oauth2_credentials", "vaults", "key_sets", "keys"} {
		if _, ok := s.entities[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

var errDBOnly = message(http.StatusBadRequest, "this endpoint is only available when Kong is configured to not use a database")

func (s *server) getConfig(c *call) error {
	if !s.dbless {
		return errDBOnly
	}
	var cfg = emptyConfig()
	if s.opts.Current != nil {
		if cur, _ := s.opts.Current(); cur != nil {
			cfg = cur
		}
	}
	b, err := declarative.Marshal(cfg)
	if err != nil {
		return err
	}
	return s.reply(c, http.StatusOK, map[string]any{"config": string(b)})
}

// configText finds the declarative text in a POST /config body: the
// "config" field of a JSON, form or multipart body, or a JSON body that is
// itself the configuration (it has _format_version).
//
// valid is set when the text is known to be valid JSON (the body, or its
// config object, checked by jsonConfigText), so that the parse does not
// check it again.
func configText(c *call) (text []byte, valid bool, err error) {
	// A JSON body (what go-kong and the ingress controller send) is looked
	// at for its two top-level keys only: decoding the whole config into
	// maps here, before declarative.Parse reads it again, doubled the
	// memory of every POST /config.
	if mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); strings.HasPrefix(strings.ToLower(mt), "application/json") &&
		len(bytes.TrimSpace(c.body)) > 0 {
		return jsonConfigText(c.body)
	}
	in, kind, err := decodeBody(c.r, c.body)
	if err != nil {
		return nil, false, err
	}
	if kind == bodyNone {
		return nil, false, nil
	}
	if v, ok := in["config"]; ok {
		if str, ok := v.(string); ok {
			return []byte(str), false, nil
		}
		if kind == bodyJSON {
			b, err := json.Marshal(v)
			return b, false, err
		}
	}
	if _, ok := in["_format_version"]; ok && kind == bodyJSON {
		return c.body, false, nil
	}
	return nil, false, nil
}

// jsonConfigText finds the declarative config in a JSON body: the "config"
// field (a string holding YAML or JSON, or the config object itself), or
// the whole body when it has "_format_version".
func jsonConfigText(body []byte) ([]byte, bool, error) {
	if jsonDepth(body) > maxJSONDepth || !json.Valid(body) {
		return nil, false, errParseJSON
	}
	members, ok := declarative.SplitObject(body)
	switch {
	case !ok && string(bytes.TrimSpace(body)) == "null":
		return nil, false, nil
	case !ok:
		return nil, false, errParseJSON // not an object (a struct does not decode from it)
	}
	// the last occurrence of a key wins, as when decoding into a struct
	var cfg, version []byte
	for _, m := range members {
		switch m.Key {
		case "config":
			cfg = m.Value
		case "_format_version":
			version = m.Value
		}
	}
	switch {
	case len(cfg) > 0 && cfg[0] == '"':
		var str string
		if err := json.Unmarshal(cfg, &str); err != nil {
			return nil, false, errParseJSON
		}
		return []byte(str), false, nil
	case len(cfg) > 0 && string(cfg) != "null":
		return cfg, true, nil
	case len(version) > 0:
		return body, true, nil
	}
	return nil, false, nil
}

func (s *server) postConfig(c *call) error {
	if !s.dbless {
		return errDBOnly
	}
	text, valid, err := configText(c)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(text))) == 0 {
		return message(http.StatusBadRequest, "expected a declarative configuration")
	}
	q := c.r.URL.Query()
	hash := declarative.Hash(text)
	opts := &declarative.Options{Plugins: s.plugins, ValidJSON: valid}
	if s.opts.Current != nil {
		curCfg, curHash := s.opts.Current()
		if truthy(q.Get("check_hash")) && curCfg != nil && curHash == hash {
			return s.reply(c, http.StatusNotModified, nil)
		}
		opts.Previous = curCfg
	}
	cfg, err := declarative.Parse(text, opts)
	if err != nil {
		var de *declarative.Error
		if errors.As(err, &de) {
			return &Error{Status: http.StatusBadRequest, Body: de.Body(truthy(q.Get("flatten_errors")))}
		}
		var se *declarative.SyntaxError
		if errors.As(err, &se) {
			return message(http.StatusBadRequest, "failed parsing declarative configuration: "+se.Msg)
		}
		return err
	}
	if s.opts.Apply == nil {
		return errors.New("admin: no Apply hook for POST /config")
	}
	if err := s.opts.Apply(cfg, hash); err != nil {
		var de *declarative.Error
		if errors.As(err, &de) {
			return &Error{Status: http.StatusBadRequest, Body: de.Body(truthy(q.Get("flatten_errors"))), Cause: err}
		}
		return err
	}
	return s.replyEntities(c, http.StatusCreated, cfg)
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// upstreamHealth serves GET /upstreams/{u}/health[?balancer_health=1].
func (s *server) upstreamHealth(c *call) error {
	ctx := c.r.Context()
	rd := s.reader()
	up, err := s.lookup(ctx, rd, s.entities["upstreams"], c.params["upstreams"], nil, nil)
	if err != nil {
		return err
	}
	if up == nil {
		return errNotFound()
	}
	var health map[string]string
	if s.opts.TargetHealth != nil {
		health = s.opts.TargetHealth(idOf(up))
	}
	// In the order of Kong's page_for_upstream_with_health: newest first.
	targets, err := s.upstreamTargets(ctx, rd, idOf(up))
	if err != nil {
		return err
	}
	data := []any{}
	anyHealthy := false
	for _, r := range targets {
		t := make(map[string]any, len(r)+1)
		for k, v := range r {
			t[k] = v
		}
		state := "HEALTHCHECKS_OFF"
		if health != nil {
			target, _ := r["target"].(string)
			state = health[target]
			if state == "" {
				state = "DNS_ERROR"
			}
		}
		anyHealthy = anyHealthy || state == "HEALTHY"
		t["health"] = state
		data = append(data, t)
	}
	if truthy(c.r.URL.Query().Get("balancer_health")) {
		state := "HEALTHCHECKS_OFF"
		if health != nil {
			state = "UNHEALTHY"
			if anyHealthy {
				state = "HEALTHY"
			}
		}
		return s.reply(c, http.StatusOK, map[string]any{"data": map[string]any{"id": idOf(up), "health": state},
			"next": nil, "node_id": s.opts.NodeID})
	}
	// Paged as Kong's page_for_upstream_with_health, without 2.x's total.
	start, end, err := numericPage(c.r.URL.Query(), len(data))
	if err != nil {
		return err
	}
	body := map[string]any{"node_id": s.opts.NodeID, "data": data[start:end], "next": nil}
	if end < len(data) {
		body["offset"] = strconv.Itoa(end)
		body["next"] = "/upstreams/" + url.PathEscape(c.params["upstreams"]) + "/health?offset=" + strconv.Itoa(end)
	}
	return s.reply(c, http.StatusOK, body)
}

// setHealth serves /upstreams/{u}/targets/{t}[/{address}]/healthy|unhealthy.
func (s *server) setHealth(healthy bool) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		rd := s.reader()
		up, err := s.lookup(ctx, rd, s.entities["upstreams"], c.params["upstreams"], nil, nil)
		if err != nil {
			return err
		}
		if up == nil {
			return errNotFound()
		}
		t, err := s.lookup(ctx, rd, s.entities["targets"], c.params["targets"], up, nil)
		if err != nil {
			return err
		}
		if t == nil || fkID(t, "upstream") != idOf(up) {
			return errNotFound()
		}
		target, _ := t["target"].(string)
		if err := s.opts.SetTargetHealth(idOf(up), target, c.params["address"], healthy); err != nil {
			return message(http.StatusBadRequest, err.Error())
		}
		return s.reply(c, http.StatusNoContent, nil)
	}
}
