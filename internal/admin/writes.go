package admin

import (
	"context"
	"errors"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"

	"sluice/internal/model"
	"sluice/internal/store"
)

// input decodes the request body for entity e: JSON as sent, form and
// multipart values typed through the schema (Kong's arguments.lua).
func (s *server) input(c *call, e *entityInfo) (map[string]any, error) {
	in, kind, err := decodeBody(c.r, c.body)
	if err != nil {
		return nil, err
	}
	if kind == bodyNone && isJSONType(c.r.Header.Get("Content-Type")) {
		// Kong's json_params finds no JSON in an empty application/json
		// body: 400 "Cannot parse JSON body" (03-consumers_routes_spec.lua
		// "returns 400 on missing body with application/json").
		return nil, errParseJSON
	}
	if kind == bodyForm {
		c.form = true
		in = e.schema.Infer(in, s.procOpts())
		// The ttl option is not a field: Kong's arguments.lua types it
		// on its own (tonumber).
		if t, ok := in["ttl"].(string); ok && e.schema.TTL {
			if n, err := luaNumber(t); err == nil {
				in["ttl"] = n
			}
		}
	}
	return in, nil
}

// takeTTL removes the ttl write option from the input of an expiring
// entity (Kong's ttl = true) and checks it as Kong's DAO does: whole
// seconds from 0 to 100000000, 0 meaning no expiry. given is false when
// the input has none. Other entities keep "ttl" in the input, where it is
// an unknown field.
func takeTTL(e *entityInfo, in map[string]any) (ttl float64, given bool, err error) {
	if !e.schema.TTL {
		return 0, false, nil
	}
	v, ok := in["ttl"]
	if !ok {
		return 0, false, nil
	}
	delete(in, "ttl")
	n, isNum := v.(float64)
	if !isNum || n != math.Floor(n) || n < 0 || n > model.MaxTTL {
		return 0, true, errInvalidOptions(map[string]string{"ttl": "must be an integer between 0 and 100000000"})
	}
	return n, true, nil
}

// expiry is the stored ttl (Unix seconds) of a ttl counted from base
// (Unix seconds); a ttl of 0 is no expiry.
func expiry(base any, ttl float64) any {
	if ttl == 0 {
		return nil
	}
	b, _ := model.Number(base)
	return b + ttl
}

// isJSONType reports whether a Content-Type header names JSON.
func isJSONType(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return strings.HasPrefix(strings.ToLower(mt), "application/json")
}

// inferPatch types a form-encoded PATCH of a plugin's config, which needs
// the plugin's name from the stored entity.
func (s *server) inferPatch(c *call, e *entityInfo, in map[string]any, prev store.Record) map[string]any {
	if !c.form || e.name != "plugins" || in["name"] != nil {
		return in
	}
	tmp := make(map[string]any, len(in)+1)
	for k, v := range in {
		tmp[k] = v
	}
	tmp["name"] = prev["name"]
	out := e.schema.Infer(tmp, s.procOpts())
	delete(out, "name")
	return out
}

func (s *server) procOpts() *model.ProcessOptions {
	return &model.ProcessOptions{Plugins: s.plugins}
}

// process validates a full record; the error is a schema violation.
func (s *server) process(e *entityInfo, in map[string]any) (store.Record, error) {
	rec, serr := e.schema.Process(in, s.procOpts())
	if serr != nil {
		return nil, errSchema(serr)
	}
	return rec, nil
}

// resolveForeign replaces, in an input about to be validated, foreign keys
// given by the parent's endpoint key or another unique field ({"name":
// "svc"}, {"custom_id": "x"}) with {"id": ...}, as Kong's DAO does before
// validation; names that match nothing fail with Kong's code 13.
func (s *server) resolveForeign(ctx context.Context, rd store.Reader, e *entityInfo, in map[string]any) error {
	var bad []unresolved
	for _, f := range e.foreign {
		m, ok := in[f.Name].(map[string]any)
		if !ok {
			continue
		}
		if id, ok := m["id"].(string); ok && isUUID(id) {
			continue
		}
		p := s.entities[f.Reference]
		if p == nil {
			continue
		}
		var miss []unresolved
		resolved := false
		for _, pf := range p.schema.Fields {
			if !pf.Unique && pf.Name != p.schema.EndpointKey {
				continue
			}
			val, ok := m[pf.Name].(string)
			if !ok || val == "" {
				continue
			}
			prec, err := rd.GetByKey(ctx, p.name, pf.Name, val)
			if errors.Is(err, store.ErrNotFound) {
				miss = append(miss, unresolved{field: f.Name, key: pf.Name, value: val, parent: p.name})
				continue
			}
			if err != nil {
				return err
			}
			in[f.Name] = map[string]any{"id": idOf(prec)}
			resolved = true
			break
		}
		if !resolved {
			bad = append(bad, miss...)
		}
	}
	if len(bad) > 0 {
		return errUnresolved(bad)
	}
	return nil
}

// finalize fills what the caller generates: id, timestamps, credential
// keys, the basic-auth password hash. prev is the record being replaced.
func (s *server) finalize(e *entityInfo, rec, prev store.Record, hashPassword bool) store.Record {
	now := s.now()
	if rec["id"] == nil {
		if prev != nil {
			rec["id"] = prev["id"]
		} else {
			rec["id"] = newUUID()
		}
	}
	stamp := func(name string) any {
		if f, ok := e.schema.Field(name); ok && f.Type == model.TypeNumber {
			return float64(now.UnixMilli()) / 1000
		}
		return now.Unix()
	}
	if _, ok := e.schema.Field("created_at"); ok {
		if prev != nil && prev["created_at"] != nil {
			rec["created_at"] = prev["created_at"]
		} else {
			rec["created_at"] = stamp("created_at")
		}
	}
	if _, ok := e.schema.Field("updated_at"); ok {
		rec["updated_at"] = stamp("updated_at")
	}
	if e.schema.Generate != nil {
		rec = e.schema.Generated(rec)
	}
	if e.name == "oauth2_credentials" && hashPassword && rec["hash_secret"] == true {
		if sec, ok := rec["client_secret"].(string); ok && !model.IsOAuth2SecretHash(sec) {
			rec["client_secret"] = model.HashOAuth2Secret(sec)
		}
	}
	if e.name == "basicauth_credentials" && hashPassword {
		if pw, ok := rec["password"].(string); ok {
			rec["password"] = model.HashBasicAuthPassword(pw, fkID(rec, "consumer"))
		}
	}
	return rec
}

// byField names the endpoint key used in a URL key, for Kong's DB-less
// error messages ("... by 'name' ...").
func byField(e *entityInfo, key string) string {
	if key == "" || isUUID(key) {
		return ""
	}
	return e.schema.EndpointKey
}

// store writes rec (insert or replace) and, for certificates, their snis.
func (s *server) save(ctx context.Context, tx store.Tx, e *entityInfo, rec, prev store.Record, snis []any, setSnis bool) error {
	if e.name == "certificates" {
		rec["snis"] = nil
	}
	var err error
	if prev == nil {
		err = tx.Insert(ctx, e.name, rec)
		if ue := (*store.UniqueError)(nil); errors.As(err, &ue) && ue.Field == "id" && ue.Values == nil {
			return errPrimaryKey(e.name, rec)
		}
	} else {
		err = tx.Replace(ctx, e.name, rec)
	}
	if err != nil {
		return err
	}
	if e.name == "certificates" && setSnis {
		return s.saveCertSnis(ctx, tx, rec, snis)
	}
	return nil
}

// dupSnis refuses a certificate input naming an SNI twice, as Kong's
// certificates DAO does before anything else (kong/db/dao/certificates.lua
// parse_name_list); a plain set would drop the repeat silently.
func dupSnis(e *entityInfo, in map[string]any) error {
	if e.name != "certificates" {
		return nil
	}
	list, _ := in["snis"].([]any)
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		name, ok := v.(string)
		if !ok {
			continue
		}
		if seen[name] {
			return errSchemaFields(map[string]any{"snis": name + " is duplicated"})
		}
		seen[name] = true
	}
	return nil
}

// saveCertSnis makes the certificate's SNIs exactly names.
func (s *server) saveCertSnis(ctx context.Context, tx store.Tx, cert store.Record, names []any) error {
	certID := idOf(cert)
	want := map[string]bool{}
	for _, n := range names {
		if str, ok := n.(string); ok {
			want[str] = true
		}
	}
	opts := store.ListOptions{Size: 1000, Foreign: &store.Foreign{Field: "certificate", ID: certID}}
	have := map[string]bool{}
	var drop []string
	for {
		page, err := tx.List(ctx, "snis", opts)
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			n, _ := r["name"].(string)
			have[n] = true
			if !want[n] {
				drop = append(drop, idOf(r))
			}
		}
		if page.Offset == "" {
			break
		}
		opts.Offset = page.Offset
	}
	for _, id := range drop {
		if err := tx.Delete(ctx, "snis", id); err != nil {
			return err
		}
	}
	sniInfo := s.entities["snis"]
	for _, n := range names {
		name, _ := n.(string)
		if have[name] {
			continue
		}
		other, err := s.lookup(ctx, tx, sniInfo, name, nil, nil)
		if err != nil {
			return err
		}
		if other != nil {
			return errSchemaFields(map[string]any{"snis": name + " already associated with existing certificate '" + fkID(other, "certificate") + "'"})
		}
		rec := store.Record{"name": name, "certificate": map[string]any{"id": certID}}
		rec, err = s.process(sniInfo, rec)
		if err != nil {
			return err
		}
		rec = s.finalize(sniInfo, rec, nil, false)
		if err := tx.Insert(ctx, "snis", rec); err != nil {
			return err
		}
		have[name] = true
	}
	return nil
}

// writeHandler serves a write to entity e: it decodes the body, runs write
// in one transaction and replies with status and the record write returns.
func (s *server) writeHandler(e *entityInfo, status int, write func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error)) func(*call) error {
	return func(c *call) error {
		in, err := s.input(c, e)
		if err != nil {
			return err
		}
		ctx := c.r.Context()
		var out store.Record
		err = s.txn(ctx, func(rd store.Reader, tx store.Tx) error {
			var err error
			out, err = write(ctx, rd, tx, c, in)
			return err
		})
		if err != nil {
			return err
		}
		return s.reply(c, status, out)
	}
}

func (s *server) createHandler(e *entityInfo, n *nest) func(*call) error {
	return s.writeHandler(e, http.StatusCreated, func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error) {
		p, err := s.parentOf(ctx, rd, c, n)
		if err != nil {
			return nil, err
		}
		if p != nil {
			in[n.field] = map[string]any{"id": idOf(p)}
		}
		return s.storeInput(ctx, rd, tx, e, in, nil, "create", "")
	})
}

// createTargetHandler serves POST /upstreams/{u}/targets as Kong's
// upstreams routes do (kong/api/routes/upstreams.lua): a body naming a
// target the upstream already has (as stored) updates it, answering 200
// with "Deprecation: true"; any other creates it.
func (s *server) createTargetHandler(e *entityInfo, n *nest) func(*call) error {
	return func(c *call) error {
		in, err := s.input(c, e)
		if err != nil {
			return err
		}
		ctx := c.r.Context()
		status := http.StatusCreated
		var out store.Record
		err = s.txn(ctx, func(rd store.Reader, tx store.Tx) error {
			p, err := s.parentOf(ctx, rd, c, n)
			if err != nil {
				return err
			}
			if t, ok := in["target"].(string); ok {
				prev, err := s.findChild(ctx, rd, e, n.field, idOf(p), t)
				if err != nil {
					return err
				}
				if prev != nil {
					status = http.StatusOK
					out, err = s.patch(ctx, rd, tx, e, idOf(prev), prev, in)
					return err
				}
			}
			in[n.field] = map[string]any{"id": idOf(p)}
			out, err = s.storeInput(ctx, rd, tx, e, in, nil, "create", "")
			return err
		})
		if err != nil {
			return err
		}
		if status == http.StatusOK {
			c.w.Header().Set("Deprecation", "true")
		}
		return s.reply(c, status, out)
	}
}

// targetItemHandlers adapts /upstreams/{u}/targets/{t} to Kong's target
// endpoints: GET hides a target of weight 0, PUT updates an existing
// target like PATCH (404 when there is none).
func (s *server) targetItemHandlers(h map[string]func(*call) error, e *entityInfo, n *nest) {
	get := h[http.MethodGet]
	h[http.MethodGet] = func(c *call) error {
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
		if w, ok := rec["weight"].(float64); rec != nil && ok && w == 0 {
			return errNotFound()
		}
		return get(c)
	}
	h[http.MethodPut] = h[http.MethodPatch]
}

// storeInput validates the full input in, then inserts it (prev nil) or
// replaces prev with it; op and by name the refused write in DB-less mode.
func (s *server) storeInput(ctx context.Context, rd store.Reader, tx store.Tx, e *entityInfo, in map[string]any, prev store.Record, op, by string) (store.Record, error) {
	if err := dupSnis(e, in); err != nil {
		return nil, err
	}
	ttl, _, err := takeTTL(e, in)
	if err != nil {
		return nil, err
	}
	if err := s.resolveForeign(ctx, rd, e, in); err != nil {
		return nil, err
	}
	rec, err := s.process(e, in)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, errUnsupported(op, e.name, by)
	}
	snis, setSnis := rec["snis"].([]any)
	rec = s.finalize(e, rec, prev, true)
	if e.schema.TTL {
		// Kong counts a created entity's ttl from its created_at, and a
		// replaced one's from now; a PUT without one makes it permanent.
		base := rec["created_at"]
		if prev != nil {
			base = float64(s.now().UnixMilli()) / 1000
		}
		rec["ttl"] = expiry(base, ttl)
	}
	if err := s.save(ctx, tx, e, rec, prev, snis, setSnis); err != nil {
		return nil, err
	}
	return s.output(ctx, tx, e, rec), nil
}

// upsert creates or replaces the entity named by key with the full input.
func (s *server) upsert(ctx context.Context, rd store.Reader, tx store.Tx, e *entityInfo, key string, in map[string]any, prev store.Record) (store.Record, error) {
	if isUUID(key) {
		in["id"] = key
	} else if e.schema.EndpointKey != "" {
		in[e.schema.EndpointKey] = key
		if prev != nil {
			in["id"] = prev["id"]
		}
	}
	return s.storeInput(ctx, rd, tx, e, in, prev, "create or update", byField(e, key))
}

func (s *server) putHandler(e *entityInfo, n *nest) func(*call) error {
	return s.writeHandler(e, http.StatusOK, func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error) {
		key := c.params[e.name]
		p, err := s.parentOf(ctx, rd, c, n)
		if err != nil {
			return nil, err
		}
		prev, err := s.lookup(ctx, rd, e, key, p, n)
		switch {
		case errors.Is(err, errSNINotFound):
			// PUT /certificates/{new sni}: a new certificate with
			// that SNI, added as a set union with the body's snis
			// (kong/api/routes/certificates.lua).
			snis, _ := in["snis"].([]any)
			if !slices.Contains(snis, any(key)) {
				snis = append(snis, key)
			}
			in["snis"] = snis
			key = newUUID()
		case err != nil:
			return nil, err
		}
		if p != nil {
			in[n.field] = map[string]any{"id": idOf(p)}
		}
		return s.upsert(ctx, rd, tx, e, key, in, prev)
	})
}

// merge applies a PATCH body over a stored record: records (plugin config,
// healthchecks) merge field by field, everything else is replaced.
func merge(e *entityInfo, prev store.Record, in map[string]any) map[string]any {
	out := make(map[string]any, len(prev)+len(in))
	for k, v := range prev {
		out[k] = v
	}
	for k, v := range in {
		f, ok := e.schema.Field(k)
		pm, pok := prev[k].(map[string]any)
		im, iok := v.(map[string]any)
		if ok && pok && iok && (f.Type == model.TypeRecord) {
			out[k] = mergeRecord(pm, im)
			continue
		}
		out[k] = v
	}
	return out
}

func mergeRecord(prev, in map[string]any) map[string]any {
	out := make(map[string]any, len(prev)+len(in))
	for k, v := range prev {
		out[k] = v
	}
	for k, v := range in {
		pm, pok := prev[k].(map[string]any)
		im, iok := v.(map[string]any)
		if pok && iok {
			out[k] = mergeRecord(pm, im)
			continue
		}
		out[k] = v
	}
	return out
}

// foldStored folds the shorthand fields a stored plugin's config may hold
// (stored by an earlier sluice, where they were plain fields) into the
// fields they stand for, so that a PATCH of it is processed as Kong would
// process it.
func (s *server) foldStored(prev store.Record) store.Record {
	name, _ := prev["name"].(string)
	cfg, _ := prev["config"].(map[string]any)
	ps, ok := s.plugins(name)
	if !ok || cfg == nil || len(ps.Shorthands) == 0 {
		return prev
	}
	out := make(store.Record, len(prev))
	for k, v := range prev {
		out[k] = v
	}
	out["config"] = ps.FoldShorthands(cfg)
	return out
}

// patchShorthands lets a shorthand sent in a PATCH's config replace the
// stored value of the fields it stands for: Kong processes the PATCH body
// on its own and merges the result over the stored entity, so
// {"config":{"redis_host":"new"}} sets redis.host, and {"redis_host":null}
// clears it. Here the stored values are dropped from the merged config
// (unless the body sets them too), and processing the merge expands the
// shorthand into their place.
func (s *server) patchShorthands(prev store.Record, in, merged map[string]any) {
	inCfg, _ := in["config"].(map[string]any)
	cfg, _ := merged["config"].(map[string]any)
	name, _ := merged["name"].(string)
	if name == "" {
		name, _ = prev["name"].(string)
	}
	ps, ok := s.plugins(name)
	if inCfg == nil || cfg == nil || !ok {
		return
	}
	for i := range ps.Shorthands {
		sh := &ps.Shorthands[i]
		v, sent := inCfg[sh.Name]
		if !sent {
			continue
		}
		for _, path := range sh.ShorthandTargets(v) {
			if !model.HasPath(inCfg, path) {
				cfg = model.WithoutPath(cfg, path)
			}
		}
	}
	merged["config"] = cfg
}

// patch merges in over prev, validates the whole and replaces it.
func (s *server) patch(ctx context.Context, rd store.Reader, tx store.Tx, e *entityInfo, key string, prev store.Record, in map[string]any) (store.Record, error) {
	if err := dupSnis(e, in); err != nil {
		return nil, err
	}
	ttl, ttlGiven, err := takeTTL(e, in)
	if err != nil {
		return nil, err
	}
	if e.name == "plugins" {
		prev = s.foldStored(prev)
	}
	merged := merge(e, prev, in)
	delete(merged, "created_at")
	delete(merged, "updated_at")
	if e.name == "plugins" {
		s.patchShorthands(prev, in, merged)
	}
	if e.schema.TTL {
		delete(merged, "ttl")
	}
	if e.name == "certificates" {
		if _, ok := in["snis"]; !ok {
			delete(merged, "snis")
		}
	}
	if err := s.resolveForeign(ctx, rd, e, merged); err != nil {
		return nil, err
	}
	rec, err := s.process(e, merged)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, errUnsupported("update", e.name, byField(e, key))
	}
	rec["id"] = prev["id"]
	_, pwChanged := in["password"]
	if e.name == "oauth2_credentials" {
		_, secretIn := in["client_secret"]
		_, hashIn := in["hash_secret"]
		pwChanged = secretIn || hashIn
	}
	snis, setSnis := rec["snis"].([]any)
	if _, ok := in["snis"]; ok && !setSnis {
		setSnis, snis = true, nil
	}
	rec = s.finalize(e, rec, prev, pwChanged)
	if e.schema.TTL {
		// An update keeps the expiry unless it sets one, counted from now
		// (keyauth_credentials has no updated_at to count from).
		rec["ttl"] = prev["ttl"]
		if ttlGiven {
			rec["ttl"] = expiry(float64(s.now().UnixMilli())/1000, ttl)
		}
	}
	if err := s.save(ctx, tx, e, rec, prev, snis, setSnis); err != nil {
		return nil, err
	}
	return s.output(ctx, tx, e, rec), nil
}

func (s *server) patchHandler(e *entityInfo, n *nest) func(*call) error {
	return s.writeHandler(e, http.StatusOK, func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error) {
		key := c.params[e.name]
		p, err := s.parentOf(ctx, rd, c, n)
		if err != nil {
			return nil, err
		}
		prev, err := s.lookup(ctx, rd, e, key, p, n)
		if err != nil {
			return nil, err
		}
		if prev == nil || (n != nil && fkID(prev, n.field) != idOf(p)) {
			return nil, errNotFound()
		}
		return s.patch(ctx, rd, tx, e, key, prev, s.inferPatch(c, e, in, prev))
	})
}

func (s *server) deleteHandler(e *entityInfo, n *nest) func(*call) error {
	return func(c *call) error {
		ctx := c.r.Context()
		key := c.params[e.name]
		err := s.txn(ctx, func(rd store.Reader, tx store.Tx) error {
			p, err := s.parentOf(ctx, rd, c, n)
			if err != nil {
				return err
			}
			prev, err := s.lookup(ctx, rd, e, key, p, n)
			if err != nil {
				return err
			}
			if prev == nil {
				if n != nil {
					return errNotFound()
				}
				return nil
			}
			if n != nil && fkID(prev, n.field) != idOf(p) {
				return errNotFound()
			}
			if tx == nil {
				return errUnsupported("remove", e.name, byField(e, key))
			}
			return tx.Delete(ctx, e.name, idOf(prev))
		})
		if err != nil {
			return err
		}
		return s.reply(c, http.StatusNoContent, nil)
	}
}

// parentHandlers serve /{child}/{c}/{field}: the parent the child points to.
func (s *server) parentHandlers(e *entityInfo, field string, p *entityInfo) map[string]func(*call) error {
	child := func(ctx context.Context, rd store.Reader, c *call) (store.Record, error) {
		rec, err := s.lookup(ctx, rd, e, c.params[e.name], nil, nil)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, errNotFound()
		}
		return rec, nil
	}
	// parent is the record the child points to and its id; 404 if none.
	parent := func(ctx context.Context, rd store.Reader, c *call) (string, store.Record, error) {
		ch, err := child(ctx, rd, c)
		if err != nil {
			return "", nil, err
		}
		id := fkID(ch, field)
		if id == "" {
			return "", nil, errNotFound()
		}
		prec, err := s.lookup(ctx, rd, p, id, nil, nil)
		if err != nil {
			return "", nil, err
		}
		if prec == nil {
			return "", nil, errNotFound()
		}
		return id, prec, nil
	}
	get := func(c *call) error {
		ctx := c.r.Context()
		rd := s.reader()
		_, prec, err := parent(ctx, rd, c)
		if err != nil {
			return err
		}
		return s.reply(c, http.StatusOK, s.output(ctx, rd, p, prec))
	}
	patch := s.writeHandler(p, http.StatusOK, func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error) {
		id, prev, err := parent(ctx, rd, c)
		if err != nil {
			return nil, err
		}
		return s.patch(ctx, rd, tx, p, id, prev, in)
	})
	put := s.writeHandler(p, http.StatusOK, func(ctx context.Context, rd store.Reader, tx store.Tx, c *call, in map[string]any) (store.Record, error) {
		ch, err := child(ctx, rd, c)
		if err != nil {
			return nil, err
		}
		id := fkID(ch, field)
		associate := id == ""
		var prev store.Record
		if associate {
			id = newUUID()
		} else if prev, err = s.lookup(ctx, rd, p, id, nil, nil); err != nil {
			return nil, err
		}
		out, err := s.upsert(ctx, rd, tx, p, id, in, prev)
		if err != nil || !associate {
			return out, err
		}
		upd := make(store.Record, len(ch))
		for k, v := range ch {
			upd[k] = v
		}
		upd[field] = map[string]any{"id": idOf(out)}
		upd["updated_at"] = s.finalize(e, store.Record{"id": idOf(ch)}, ch, false)["updated_at"]
		return out, tx.Replace(ctx, e.name, upd)
	})
	del := func(c *call) error {
		ctx := c.r.Context()
		ch, err := child(ctx, s.reader(), c)
		if err != nil {
			return err
		}
		if fkID(ch, field) == "" {
			return errNotFound()
		}
		return errMethodNotAllowed()
	}
	return map[string]func(*call) error{
		http.MethodGet: get, http.MethodPatch: patch, http.MethodPut: put, http.MethodDelete: del,
	}
}
