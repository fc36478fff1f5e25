package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sluice/internal/model"
	"sluice/internal/store"
)

// entityInfo is one entity as the Admin API exposes it.
type entityInfo struct {
	name     string // DAO name
	admin    string // top-level collection name ("key-auths")
	nested   string // collection name under a parent ("key-auth")
	schema   *model.Schema
	topLevel bool
	foreign  []*model.Field
}

func buildEntities() map[string]*entityInfo {
	out := map[string]*entityInfo{}
	for _, name := range model.Entities() {
		sc, ok := model.Lookup(name)
		if !ok {
			continue
		}
		e := &entityInfo{name: name, admin: name, nested: name, schema: sc, topLevel: name != "targets"}
		if sc.AdminName != "" {
			e.admin, e.nested = sc.AdminName, sc.AdminName
		}
		if sc.AdminNestedName != "" {
			e.nested = sc.AdminNestedName
		}
		for _, f := range sc.Fields {
			if f.Type == model.TypeForeign {
				e.foreign = append(e.foreign, f)
			}
		}
		out[name] = e
	}
	return out
}

// nest is a parent in a nested path: the parent entity and the child's
// foreign field that points to it.
type nest struct {
	parent *entityInfo
	field  string
}

func (s *server) buildRoutes() []*route {
	s.addNodeRoutes()
	for _, name := range model.Entities() {
		e := s.entities[name]
		if e == nil {
			continue
		}
		if e.topLevel {
			coll := "/" + e.admin
			item := coll + "/{" + e.name + "}"
			s.add(coll, map[string]func(*call) error{
				http.MethodGet:  s.listHandler(e, nil),
				http.MethodPost: s.createHandler(e, nil),
			})
			s.add(item, s.itemHandlers(e, nil))
			for _, f := range e.foreign {
				p := s.entities[f.Reference]
				if p == nil {
					continue
				}
				s.add(item+"/"+f.Name, s.parentHandlers(e, f.Name, p))
			}
		}
		for _, f := range e.foreign {
			p := s.entities[f.Reference]
			if p == nil || !p.topLevel {
				continue
			}
			n := &nest{parent: p, field: f.Name}
			coll := "/" + p.admin + "/{" + p.name + "}/" + e.nested
			list, create, item := s.listHandler(e, n), s.createHandler(e, n), s.itemHandlers(e, n)
			if e.name == "targets" && p.name == "upstreams" {
				list, create = s.upstreamTargetsHandler(e, n), s.createTargetHandler(e, n)
				s.targetItemHandlers(item, e, n)
			}
			s.add(coll, map[string]func(*call) error{
				http.MethodGet:  list,
				http.MethodPost: create,
			})
			s.add(coll+"/{"+e.name+"}", item)
		}
	}
	s.addPluginRoutes()
	return s.routes
}

func (s *server) itemHandlers(e *entityInfo, n *nest) map[string]func(*call) error {
	return map[string]func(*call) error{
		http.MethodGet:    s.getHandler(e, n),
		http.MethodPut:    s.putHandler(e, n),
		http.MethodPatch:  s.patchHandler(e, n),
		http.MethodDelete: s.deleteHandler(e, n),
	}
}

// isUUID reports whether s is a UUID in its canonical text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("admin: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func unescape(seg string) (string, error) { return url.PathUnescape(seg) }

// lookup finds an entity by id or endpoint key; a target's key is looked
// up among the targets of its upstream. It returns nil when there is none.
func (s *server) lookup(ctx context.Context, rd store.Reader, e *entityInfo, key string, parent store.Record, n *nest) (store.Record, error) {
	if !isUUID(key) {
		if e.name == "targets" && parent != nil {
			return s.findTarget(ctx, rd, parent, key)
		}
		// Kong's select_by/update_by/upsert_by/delete_by_<endpoint key>
		// validate the key first (kong/db/dao/init.lua): invalid_unique.
		// A certificate is named by one of its SNIs (snis' name).
		sc, field := e.schema, e.schema.EndpointKey
		if e.name == "certificates" {
			sc, field = s.entities["snis"].schema, "name"
		}
		if field != "" {
			if msg := sc.ValidateValue(field, key); msg != "" {
				return nil, errInvalidUnique(field, msg)
			}
		}
	}
	var rec store.Record
	var err error
	switch {
	case isUUID(key):
		rec, err = rd.Get(ctx, e.name, strings.ToLower(key))
	case parent != nil && n != nil && e.schema.EndpointKey != "" && slices.Contains(e.schema.CacheKey, e.schema.EndpointKey):
		// An endpoint key unique only within its parent (an ACL's group
		// within its consumer) names the parent's child.
		return s.findChild(ctx, rd, e, n.field, idOf(parent), key)
	case e.name == "certificates":
		// Kong also finds a certificate by one of its SNI names.
		sni, serr := rd.GetByKey(ctx, "snis", "name", key)
		if errors.Is(serr, store.ErrNotFound) {
			return nil, errSNINotFound
		}
		if serr != nil {
			return nil, serr
		}
		rec, err = rd.Get(ctx, "certificates", fkID(sni, "certificate"))
	case e.schema.EndpointKey != "":
		rec, err = rd.GetByKey(ctx, e.name, e.schema.EndpointKey, key)
	default:
		return nil, errInvalidPrimaryKey(key)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err == nil && !s.live(e, rec) {
		return nil, nil // expired: Kong's queries no longer see it
	}
	return rec, err
}

// live reports whether rec is not an expired entity.
func (s *server) live(e *entityInfo, rec store.Record) bool {
	if !e.schema.TTL {
		return true
	}
	_, ok := model.TTLLeft(rec, s.now())
	return ok
}

func (s *server) findTarget(ctx context.Context, rd store.Reader, upstream store.Record, key string) (store.Record, error) {
	opts := store.ListOptions{Size: 1000, Foreign: &store.Foreign{Field: "upstream", ID: idOf(upstream)}}
	for {
		page, err := rd.List(ctx, "targets", opts)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if t, _ := r["target"].(string); t == key || t == key+":8000" {
				return r, nil
			}
		}
		if page.Offset == "" {
			return nil, nil
		}
		opts.Offset = page.Offset
	}
}

// findChild finds the child of parentID (by its foreign field) whose
// endpoint key is key; nil when there is none.
func (s *server) findChild(ctx context.Context, rd store.Reader, e *entityInfo, field, parentID, key string) (store.Record, error) {
	opts := store.ListOptions{Size: 1000, Foreign: &store.Foreign{Field: field, ID: parentID}}
	for {
		page, err := rd.List(ctx, e.name, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if v, _ := r[e.schema.EndpointKey].(string); v == key {
				return r, nil
			}
		}
		if page.Offset == "" {
			return nil, nil
		}
		opts.Offset = page.Offset
	}
}

// errSNINotFound is Kong's answer to a certificate named by an SNI that
// does not exist.
var errSNINotFound = message(http.StatusNotFound, "SNI not found")

// errInvalidPrimaryKey is Kong's code 1: a non-UUID key for an entity that
// has no endpoint key.
func errInvalidPrimaryKey(key string) *Error {
	return errDAO(http.StatusBadRequest, codeInvalidPrimaryKey,
		fmt.Sprintf("invalid primary key: '{id=%q}'", key), map[string]any{"id": "expected a valid UUID"})
}

func idOf(rec store.Record) string {
	id, _ := rec["id"].(string)
	return id
}

// fkID returns the id of a record's foreign field, "" when null.
func fkID(rec store.Record, field string) string {
	m, ok := rec[field].(map[string]any)
	if !ok {
		return ""
	}
	id, _ := m["id"].(string)
	return id
}

// parentOf looks up the parent named in a nested path; nil when absent.
func (s *server) parentOf(ctx context.Context, rd store.Reader, c *call, n *nest) (store.Record, error) {
	if n == nil {
		return nil, nil
	}
	p, err := s.lookup(ctx, rd, n.parent, c.params[n.parent.name], nil, nil)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errNotFound()
	}
	return p, nil
}

// txn runs fn with a reader and, with a database, a transaction (tx nil
// without one: writes answer 405).
func (s *server) txn(ctx context.Context, fn func(rd store.Reader, tx store.Tx) error) error {
	if s.dbless {
		return fn(s.reader(), nil)
	}
	return s.opts.Store.Update(ctx, func(tx store.Tx) error { return fn(tx, tx) })
}

// ---- reads ----

// parseTags reads Kong's tags query: "a,b" (all of them) or "a/b" (any of
// them), each tag of printable ASCII except "," and "/" or UTF-8 bytes; a
// trailing separator is tolerated. ok is false for anything else, mixed
// separators included.
func parseTags(t string) (tags []string, or, ok bool) {
	sep := ","
	if strings.Contains(t, "/") {
		if strings.Contains(t, ",") {
			return nil, false, false
		}
		sep, or = "/", true
	}
	parts := strings.Split(t, sep)
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	for _, p := range parts {
		if p == "" {
			return nil, false, false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if c < 0x20 || c == 0x7F || c > 0xF4 {
				return nil, false, false
			}
		}
	}
	return parts, or, true
}

// luaNumber parses a number as Lua's tonumber does: decimal or
// exponent notation, or a hexadecimal integer ("0x10"), spaces around.
func luaNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.Trim(s, "0123456789.eE+-") == "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	}
	neg := strings.HasPrefix(s, "-")
	h := strings.TrimPrefix(s, "-")
	if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") && !strings.Contains(h, "_") {
		u, err := strconv.ParseUint(h[2:], 16, 64)
		if err == nil {
			if neg {
				return -float64(u), nil
			}
			return float64(u), nil
		}
	}
	return 0, strconv.ErrSyntax
}

// pageOptions reads size, offset and tags from the query as Kong does.
func pageOptions(q url.Values, tagsAllowed bool) (store.ListOptions, error) {
	opts := store.ListOptions{Size: 100, Offset: q.Get("offset")}
	if q.Has("size") {
		f, err := luaNumber(q.Get("size"))
		if err != nil {
			return opts, errDAO(http.StatusBadRequest, codeInvalidSize, "size must be a number", nil)
		}
		if f != math.Floor(f) || f < 1 || f > 1000 {
			return opts, errDAO(http.StatusBadRequest, codeInvalidSize, "size must be an integer between 1 and 1000", nil)
		}
		opts.Size = int(f)
	}
	if tagsAllowed && q.Has("tags") {
		tags, or, ok := parseTags(q.Get("tags"))
		if !ok {
			return opts, errInvalidOptions(map[string]string{"tags": "invalid filter syntax"})
		}
		opts.Tags, opts.TagsOr = tags, or
		if len(opts.Tags) > 5 {
			return opts, errInvalidOptions(map[string]string{"tags": "cannot query more than 5 tags"})
		}
	}
	return opts, nil
}

func (s *server) listHandler(e *entityInfo, n *nest) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		rd := s.reader()
		q := c.r.URL.Query()
		opts, err := pageOptions(q, n == nil)
		if err != nil {
			return err
		}
		prefix := "/" + e.admin
		if n != nil {
			p, err := s.parentOf(ctx, rd, c, n)
			if err != nil {
				return err
			}
			opts.Foreign = &store.Foreign{Field: n.field, ID: idOf(p)}
			opts.Tags, opts.TagsOr = nil, false
			// Kong's next names the parent as the request did
			// (kong/api/endpoints.lua, get_collection_endpoint).
			prefix = "/" + n.parent.admin + "/" + url.PathEscape(c.params[n.parent.name]) + "/" + e.nested
		}
		if e.name == "consumers" && n == nil && q.Has("custom_id") {
			rec, err := rd.GetByKey(ctx, e.name, "custom_id", q.Get("custom_id"))
			data := []any{}
			if err == nil {
				data = append(data, s.output(ctx, rd, e, rec))
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return s.reply(c, http.StatusOK, map[string]any{"data": data, "next": nil})
		}
		page, err := rd.List(ctx, e.name, opts)
		var oe *store.OffsetError
		if errors.Is(err, store.ErrInvalidOffset) && !errors.As(err, &oe) {
			return errDAO(http.StatusBadRequest, codeInvalidOffset,
				"'"+opts.Offset+"' is not a valid offset: bad base64 encoding", nil)
		}
		if err != nil {
			return err
		}
		data := make([]any, 0, len(page.Records))
		for _, r := range page.Records {
			if s.live(e, r) {
				data = append(data, s.output(ctx, rd, e, r))
			}
		}
		body := map[string]any{"data": data, "next": nil}
		if page.Offset != "" {
			body["offset"] = page.Offset
			next := prefix + "?offset=" + url.QueryEscape(page.Offset)
			if n == nil {
				if q.Has("tags") {
					next += "&tags=" + url.QueryEscape(q.Get("tags"))
				}
				if q.Has("size") {
					next += "&size=" + url.QueryEscape(q.Get("size"))
				}
			}
			body["next"] = next
		}
		return s.reply(c, http.StatusOK, body)
	}
}

// upstreamTargets lists an upstream's targets as Kong's targets DAO
// page_for_upstream does (kong/db/dao/targets.lua): newest first, by
// created_at then id.
func (s *server) upstreamTargets(ctx context.Context, rd store.Reader, upstreamID string) ([]store.Record, error) {
	var all []store.Record
	opts := store.ListOptions{Size: 1000, Foreign: &store.Foreign{Field: "upstream", ID: upstreamID}}
	for {
		page, err := rd.List(ctx, "targets", opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Records...)
		if page.Offset == "" {
			break
		}
		opts.Offset = page.Offset
	}
	num := func(v any) float64 {
		f, _ := v.(float64)
		if i, ok := v.(int64); ok {
			f = float64(i)
		}
		return f
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := num(all[i]["created_at"]), num(all[j]["created_at"])
		if a != b {
			return a > b
		}
		return idOf(all[i]) > idOf(all[j])
	})
	return all, nil
}

// numericPage reads size and a numeric offset (Kong's targets pages) for
// a list of n entries: the slice [start:end] to answer.
func numericPage(q url.Values, n int) (start, end int, err error) {
	sizeQ := url.Values{}
	if q.Has("size") {
		sizeQ.Set("size", q.Get("size"))
	}
	opts, err := pageOptions(sizeQ, false)
	if err != nil {
		return 0, 0, err
	}
	if off := q.Get("offset"); off != "" {
		start, err = strconv.Atoi(off)
		if err != nil || start < 0 {
			return 0, 0, errDAO(http.StatusBadRequest, codeInvalidOffset, "'"+off+"' is not a valid offset: bad base64 encoding", nil)
		}
	}
	start = min(start, n)
	return start, min(start+opts.Size, n), nil
}

// upstreamTargetsHandler serves GET /upstreams/{u}/targets: Kong's
// page_for_upstream, newest first, paged with a numeric offset
// ("/upstreams/{u}/targets/all" pages the stored order).
func (s *server) upstreamTargetsHandler(e *entityInfo, n *nest) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		rd := s.reader()
		q := c.r.URL.Query()
		p, err := s.parentOf(ctx, rd, c, n)
		if err != nil {
			return err
		}
		all, err := s.upstreamTargets(ctx, rd, idOf(p))
		if err != nil {
			return err
		}
		start, end, err := numericPage(q, len(all))
		if err != nil {
			return err
		}
		data := make([]any, 0, end-start)
		for _, r := range all[start:end] {
			data = append(data, r)
		}
		body := map[string]any{"data": data, "next": nil}
		if end < len(all) {
			off := strconv.Itoa(end)
			body["offset"] = off
			body["next"] = "/" + n.parent.admin + "/" + url.PathEscape(c.params[n.parent.name]) + "/" + e.nested + "?offset=" + off
		}
		return s.reply(c, http.StatusOK, body)
	}
}

func (s *server) getHandler(e *entityInfo, n *nest) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		rd := s.reader()
		p, err := s.parentOf(ctx, rd, c, n)
		if err != nil {
			return err
		}
		rec, err := s.lookup(ctx, rd, e, c.params[e.name], p, n)
		if err != nil {
			return err
		}
		if rec == nil || (n != nil && fkID(rec, n.field) != idOf(p)) {
			return errNotFound()
		}
		return s.reply(c, http.StatusOK, s.output(ctx, rd, e, rec))
	}
}

// output prepares a stored record for a response: a certificate lists the
// names of its SNIs.
func (s *server) output(ctx context.Context, rd store.Reader, e *entityInfo, rec store.Record) store.Record {
	if e.schema.TTL {
		// An expiring entity shows the seconds it has left.
		out := make(store.Record, len(rec)+1)
		for k, v := range rec {
			out[k] = v
		}
		out["ttl"], _ = model.TTLLeft(rec, s.now())
		return out
	}
	if e.name == "plugins" {
		return s.pluginOutput(rec)
	}
	if e.name != "certificates" {
		return rec
	}
	out := make(store.Record, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	names := []any{}
	opts := store.ListOptions{Size: 1000, Foreign: &store.Foreign{Field: "certificate", ID: idOf(rec)}}
	var list []string
	for {
		page, err := rd.List(ctx, "snis", opts)
		if err != nil {
			break
		}
		for _, r := range page.Records {
			if nm, ok := r["name"].(string); ok {
				list = append(list, nm)
			}
		}
		if page.Offset == "" {
			break
		}
		opts.Offset = page.Offset
	}
	sort.Strings(list)
	for _, nm := range list {
		names = append(names, nm)
	}
	out["snis"] = names
	return out
}

// pluginOutput shows, in a plugin's config, its deprecated shorthand
// fields with the values of the fields replacing them, as Kong 3.9 does.
func (s *server) pluginOutput(rec store.Record) store.Record {
	name, _ := rec["name"].(string)
	cfg, _ := rec["config"].(map[string]any)
	ps, ok := s.plugins(name)
	if !ok || cfg == nil || len(ps.Shorthands) == 0 {
		return rec
	}
	out := make(store.Record, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	out["config"] = ps.Backwards(cfg)
	return out
}
