package declarative

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"testing"
	"time"

	"sluice/internal/model"
)

// The differential test of the memo: a chain of configurations, each a
// random edit of the previous one, is parsed the way POST /config does
// (Options.Previous = the last accepted configuration, with the memo that
// parse left) and also without the memo. The two must give the same
// configuration (deep-equal, and the previous entity itself at the same
// places) or the same error, and a rejected configuration must leave the
// memo usable for the next one.

type diffService struct {
	name, host, id string
	port           int
	tags           bool
	stamps         int // 1 created_at written, 2 updated_at, 3 both
}

type diffRoute struct {
	name   string
	svc    int // index into services, -1 for none
	paths  []string
	nested bool
	id     string
	byID   bool // a flat route names its service by {id: ...}
}

type diffConsumer struct {
	username, customID string
}

type diffCred struct {
	kind     string
	consumer int
	nested   bool
	n        int
}

type diffPlugin struct {
	scope  string // "", "service", "route", "consumer"
	target int
	nested bool
	minute int
}

type diffTarget struct {
	upstream int
	target   string
	nested   bool
}

type diffCert struct {
	id     string // "" for a derived id
	snis   []string
	nested bool
}

type diffConfig struct {
	version   string
	transform int // 0 absent, 1 true, 2 false
	yaml      bool
	services  []diffService
	routes    []diffRoute
	consumers []diffConsumer
	creds     []diffCred
	plugins   []diffPlugin
	upstreams []string
	targets   []diffTarget
	certs     []diffCert
	caCerts   int  // how many CA certificates (the same PEM: more than one is a cert_digest duplicate)
	comments  bool // _comment at the top and on the first service
	disabled  int  // index+1 of a plugin with enabled: false
	dup       int  // one-step injection: 1 duplicate service name, 2 duplicate route id, 3 dangling reference
}

var diffIDs = []string{
	"6c3b5d0e-1111-4a55-9a3a-2b8f5a7f8d01",
	"6c3b5d0e-2222-4a55-9a3a-2b8f5a7f8d02",
	"6c3b5d0e-3333-4a55-9a3a-2b8f5a7f8d03",
}

var diffPaths = []string{"/a", "~/b$", `/c/\d+`, "/d.*", "/e"}

// clone copies c deeply.
func (c *diffConfig) clone() *diffConfig {
	d := *c
	d.services = append([]diffService(nil), c.services...)
	d.routes = append([]diffRoute(nil), c.routes...)
	for i := range d.routes {
		d.routes[i].paths = append([]string(nil), d.routes[i].paths...)
	}
	d.consumers = append([]diffConsumer(nil), c.consumers...)
	d.creds = append([]diffCred(nil), c.creds...)
	d.plugins = append([]diffPlugin(nil), c.plugins...)
	d.upstreams = append([]string(nil), c.upstreams...)
	d.targets = append([]diffTarget(nil), c.targets...)
	d.certs = append([]diffCert(nil), c.certs...)
	for i := range d.certs {
		d.certs[i].snis = append([]string(nil), d.certs[i].snis...)
	}
	return &d
}

func newDiffConfig(r *rand.Rand) *diffConfig {
	c := &diffConfig{version: "3.0"}
	for i := range 3 {
		c.services = append(c.services, diffService{name: "s" + strconv.Itoa(i), host: "h" + strconv.Itoa(i), port: 80})
	}
	for i := range 5 {
		c.routes = append(c.routes, diffRoute{name: "r" + strconv.Itoa(i), svc: i % 3, paths: []string{diffPaths[i%len(diffPaths)]}, nested: i%2 == 0})
	}
	for i := range 3 {
		c.consumers = append(c.consumers, diffConsumer{username: "c" + strconv.Itoa(i)})
	}
	kinds := []string{"basicauth_credentials", "acls", "keyauth_credentials", "jwt_secrets"}
	for i := range 6 {
		c.creds = append(c.creds, diffCred{kind: kinds[i%len(kinds)], consumer: i % 3, nested: i%2 == 1, n: i})
	}
	c.plugins = []diffPlugin{{minute: 10}, {scope: "service", target: 0, minute: 20, nested: true}, {scope: "route", target: 1, minute: 30},
		{scope: "consumer", target: 2, minute: 40, nested: true}}
	c.upstreams = []string{"u0", "u1"}
	c.targets = []diffTarget{{0, "10.0.0.1:80", true}, {0, "10.0.0.2:80", false}, {1, "10.0.0.3:80", false}}
	c.certs = []diffCert{{snis: []string{"a.example.com"}, nested: true}, {id: diffIDs[1], snis: []string{"b.example.com"}}}
	for range 3 {
		c.mutate(r, r.Intn(32))
	}
	c.dup = 0
	return c
}

// mutate applies edit op (any int) to c.
func (c *diffConfig) mutate(r *rand.Rand, op int) {
	c.dup = 0
	pick := func(n int) int { return r.Intn(n) }
	switch op % 28 {
	case 0: // rename a service: nested children's ids and references change
		s := &c.services[pick(len(c.services))]
		s.name = "s" + strconv.Itoa(r.Intn(6))
	case 1: // move a route to another service, or to none
		c.routes[pick(len(c.routes))].svc = r.Intn(len(c.services)+1) - 1
	case 2: // nested <-> flat route
		rt := &c.routes[pick(len(c.routes))]
		rt.nested = !rt.nested
	case 3:
		c.version = []string{"3.0", "2.1", "1.1"}[r.Intn(3)]
	case 4:
		c.transform = r.Intn(3)
	case 5: // move a plugin to another scope
		p := &c.plugins[pick(len(c.plugins))]
		p.scope = []string{"", "service", "route", "consumer"}[r.Intn(4)]
		p.target = r.Intn(3)
	case 6:
		p := &c.plugins[pick(len(c.plugins))]
		p.nested = !p.nested
	case 7: // rename a consumer: its credentials' ids and hashes depend on it
		c.consumers[pick(len(c.consumers))].username = "c" + strconv.Itoa(r.Intn(6))
	case 8:
		c.dup = 1 + r.Intn(3)
	case 9: // reorder
		switch r.Intn(4) {
		case 0:
			i, j := pick(len(c.services)), pick(len(c.services))
			c.services[i], c.services[j] = c.services[j], c.services[i]
			for k := range c.routes {
				switch c.routes[k].svc {
				case i:
					c.routes[k].svc = j
				case j:
					c.routes[k].svc = i
				}
			}
			for k := range c.plugins {
				if c.plugins[k].scope == "service" {
					switch c.plugins[k].target {
					case i:
						c.plugins[k].target = j
					case j:
						c.plugins[k].target = i
					}
				}
			}
		case 1:
			i, j := pick(len(c.routes)), pick(len(c.routes))
			c.routes[i], c.routes[j] = c.routes[j], c.routes[i]
		case 2:
			i, j := pick(len(c.creds)), pick(len(c.creds))
			c.creds[i], c.creds[j] = c.creds[j], c.creds[i]
		case 3:
			i, j := pick(len(c.plugins)), pick(len(c.plugins))
			c.plugins[i], c.plugins[j] = c.plugins[j], c.plugins[i]
		}
	case 10:
		c.yaml = !c.yaml
	case 11: // a service gets, changes or loses an explicit id
		s := &c.services[pick(len(c.services))]
		if r.Intn(3) == 0 {
			s.id = ""
		} else {
			s.id = diffIDs[r.Intn(len(diffIDs))]
		}
	case 12:
		c.plugins[pick(len(c.plugins))].minute = 1 + r.Intn(50)
	case 13:
		if len(c.routes) < 9 {
			n := len(c.routes)
			c.routes = append(c.routes, diffRoute{name: "r" + strconv.Itoa(n+r.Intn(3)), svc: r.Intn(len(c.services)), paths: []string{diffPaths[r.Intn(len(diffPaths))]}, nested: r.Intn(2) == 0})
		} else {
			i := pick(len(c.routes))
			c.routes = append(c.routes[:i], c.routes[i+1:]...)
		}
	case 14: // custom_id, sometimes a duplicate
		c.consumers[pick(len(c.consumers))].customID = []string{"", "x", "y"}[r.Intn(3)]
	case 15:
		cr := &c.creds[pick(len(c.creds))]
		cr.nested = !cr.nested
	case 16: // move a credential to another consumer
		c.creds[pick(len(c.creds))].consumer = r.Intn(len(c.consumers))
	case 17:
		s := &c.services[pick(len(c.services))]
		switch r.Intn(3) {
		case 0:
			s.host = "h" + strconv.Itoa(r.Intn(4))
		case 1:
			s.port = 80 + r.Intn(3)
		case 2:
			s.tags = !s.tags
		}
		if r.Intn(3) == 0 {
			s.stamps = r.Intn(4)
		}
	case 18:
		rt := &c.routes[pick(len(c.routes))]
		rt.paths = []string{diffPaths[r.Intn(len(diffPaths))]}
		if r.Intn(3) == 0 {
			rt.id = diffIDs[r.Intn(len(diffIDs))]
		}
	case 27: // a flat route names its service by id (the derived one when none is written)
		rt := &c.routes[pick(len(c.routes))]
		rt.byID = !rt.byID
	case 19: // a route's name changes: its nested plugins' ids follow
		c.routes[pick(len(c.routes))].name = "r" + strconv.Itoa(r.Intn(12))
	case 20: // rename an upstream: its targets' ids follow
		c.upstreams[pick(len(c.upstreams))] = "u" + strconv.Itoa(r.Intn(4))
	case 21:
		tg := &c.targets[pick(len(c.targets))]
		switch r.Intn(3) {
		case 0:
			tg.nested = !tg.nested
		case 1:
			tg.upstream = r.Intn(len(c.upstreams))
		case 2:
			tg.target = "10.0.0." + strconv.Itoa(1+r.Intn(4)) + ":80"
		}
	case 22:
		ce := &c.certs[pick(len(c.certs))]
		switch r.Intn(3) {
		case 0:
			ce.nested = !ce.nested
		case 1:
			if r.Intn(2) == 0 {
				ce.id = ""
			} else {
				ce.id = diffIDs[r.Intn(len(diffIDs))]
			}
		case 2:
			ce.snis = []string{[]string{"a", "b", "c"}[r.Intn(3)] + ".example.com"}
		}
	case 23:
		c.caCerts = r.Intn(3)
	case 24:
		c.comments = !c.comments
	case 25:
		c.disabled = r.Intn(len(c.plugins) + 1)
	case 26: // swap upstreams
		c.upstreams[0], c.upstreams[len(c.upstreams)-1] = c.upstreams[len(c.upstreams)-1], c.upstreams[0]
	}
}

// serviceRef is a reference to service i: its name, or {id: ...} with
// the id written or the one derived from the name (which a rename leaves
// dangling).
func (c *diffConfig) serviceRef(i int, byID bool) any {
	s := c.services[i]
	if !byID {
		return s.name
	}
	if s.id != "" {
		return map[string]any{"id": s.id}
	}
	return map[string]any{"id": DeterministicID("services", s.name)}
}

func (c *diffConfig) render() []byte {
	top := map[string]any{"_format_version": c.version}
	switch c.transform {
	case 1:
		top["_transform"] = true
	case 2:
		top["_transform"] = false
	}
	plugin := func(p diffPlugin) map[string]any {
		return map[string]any{"name": "rate-limiting", "config": map[string]any{"minute": p.minute}}
	}
	var services, routes, consumers, creds, plugins []any
	svcMaps := make([]map[string]any, len(c.services))
	for i, s := range c.services {
		m := map[string]any{"name": s.name, "host": s.host, "port": s.port}
		if s.id != "" {
			m["id"] = s.id
		}
		if s.tags {
			m["tags"] = []any{"t1", "t2"}
		}
		if s.stamps&1 != 0 {
			m["created_at"] = 1600000000
		}
		if s.stamps&2 != 0 {
			m["updated_at"] = 1600000001
		}
		svcMaps[i] = m
		services = append(services, m)
	}
	routeMaps := make([]map[string]any, len(c.routes))
	for i, rt := range c.routes {
		paths := make([]any, len(rt.paths))
		for j, p := range rt.paths {
			paths[j] = p
		}
		m := map[string]any{"name": rt.name, "paths": paths}
		if rt.id != "" {
			m["id"] = rt.id
		}
		routeMaps[i] = m
		if rt.nested && rt.svc >= 0 {
			sm := svcMaps[rt.svc]
			list, _ := sm["routes"].([]any)
			sm["routes"] = append(list, m)
			continue
		}
		if rt.svc >= 0 {
			m["service"] = c.serviceRef(rt.svc, rt.byID)
		}
		routes = append(routes, m)
	}
	consMaps := make([]map[string]any, len(c.consumers))
	for i, co := range c.consumers {
		m := map[string]any{"username": co.username}
		if co.customID != "" {
			m["custom_id"] = co.customID
		}
		consMaps[i] = m
		consumers = append(consumers, m)
	}
	for _, cr := range c.creds {
		n := strconv.Itoa(cr.n)
		var m map[string]any
		switch cr.kind {
		case "basicauth_credentials":
			m = map[string]any{"username": "u" + n, "password": "p" + n}
		case "acls":
			m = map[string]any{"group": "g" + n}
		case "keyauth_credentials":
			m = map[string]any{"key": "k" + n}
		case "jwt_secrets":
			m = map[string]any{"key": "j" + n, "secret": "sec" + n}
		}
		if cr.nested {
			cm := consMaps[cr.consumer]
			list, _ := cm[cr.kind].([]any)
			cm[cr.kind] = append(list, m)
			continue
		}
		m["consumer"] = c.consumers[cr.consumer].username
		if cr.kind == "basicauth_credentials" {
			creds = append(creds, m)
		} else {
			top[cr.kind] = append(listOf(top[cr.kind]), m)
		}
	}
	for i, p := range c.plugins {
		m := plugin(p)
		if c.disabled == i+1 {
			m["enabled"] = false
		}
		var parent map[string]any
		field := ""
		switch p.scope {
		case "service":
			parent, field = svcMaps[p.target%len(svcMaps)], "service"
			if !p.nested {
				m[field] = c.serviceRef(p.target%len(svcMaps), p.minute%2 == 0)
			}
		case "route":
			parent, field = routeMaps[p.target%len(routeMaps)], "route"
			if !p.nested {
				m[field] = c.routes[p.target%len(routeMaps)].name
			}
		case "consumer":
			parent, field = consMaps[p.target%len(consMaps)], "consumer"
			if !p.nested {
				m[field] = c.consumers[p.target%len(consMaps)].username
			}
		}
		if p.nested && parent != nil {
			list, _ := parent["plugins"].([]any)
			parent["plugins"] = append(list, m)
			continue
		}
		plugins = append(plugins, m)
	}
	var upstreams, targets, certs, snis, caCerts []any
	upMaps := make([]map[string]any, len(c.upstreams))
	for i, u := range c.upstreams {
		upMaps[i] = map[string]any{"name": u}
		upstreams = append(upstreams, upMaps[i])
	}
	for _, tg := range c.targets {
		m := map[string]any{"target": tg.target}
		if tg.nested {
			um := upMaps[tg.upstream]
			um["targets"] = append(listOf(um["targets"]), m)
			continue
		}
		m["upstream"] = c.upstreams[tg.upstream]
		targets = append(targets, m)
	}
	pem, _ := strconv.Unquote(testCert)
	key, _ := strconv.Unquote(testKey)
	for _, ce := range c.certs {
		m := map[string]any{"cert": pem, "key": key}
		if ce.id != "" {
			m["id"] = ce.id
		}
		certs = append(certs, m)
		for _, n := range ce.snis {
			sm := map[string]any{"name": n}
			if ce.nested || ce.id == "" {
				m["snis"] = append(listOf(m["snis"]), sm)
				continue
			}
			sm["certificate"] = map[string]any{"id": ce.id}
			snis = append(snis, sm)
		}
	}
	for range c.caCerts {
		caCerts = append(caCerts, map[string]any{"cert": pem})
	}
	if c.comments {
		top["_comment"] = "edited"
		svcMaps[0]["_comment"] = "first"
	}
	switch c.dup {
	case 1:
		services = append(services, map[string]any{"name": c.services[0].name, "host": "dup"})
	case 2:
		routes = append(routes, map[string]any{"id": diffIDs[0], "paths": []any{"/dup1"}}, map[string]any{"id": diffIDs[0], "paths": []any{"/dup2"}})
	case 3:
		routes = append(routes, map[string]any{"name": "dangling", "paths": []any{"/x"}, "service": "nowhere"})
	}
	set := func(k string, v []any) {
		if len(v) > 0 {
			top[k] = v
		}
	}
	set("services", services)
	set("routes", routes)
	set("consumers", consumers)
	set("basicauth_credentials", creds)
	set("plugins", plugins)
	set("upstreams", upstreams)
	set("targets", targets)
	set("certificates", certs)
	set("snis", snis)
	set("ca_certificates", caCerts)
	b, err := json.Marshal(top)
	if err != nil {
		panic(err)
	}
	if c.yaml {
		// JSON is YAML: not starting with '{' sends it down the YAML path
		return append([]byte("# yaml\n"), b...)
	}
	return b
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// diffParse parses data over prev the way POST /config does, at now.
func diffParse(data []byte, prev *model.Config, now time.Time) (*model.Config, error) {
	opts := &Options{Now: func() time.Time { return now }}
	opts.Plugins = lookupPlugins
	opts.Previous = prev
	return Parse(data, opts)
}

// errorText renders an error for comparison: message and both bodies.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var de *Error
	if errors.As(err, &de) {
		a, _ := json.Marshal(de.Body(false))
		b, _ := json.Marshal(de.Body(true))
		return de.Error() + "\n" + string(a) + "\n" + string(b)
	}
	return err.Error()
}

// compareReuse reports where the memo parse took a previous entity and the
// full parse did not, or the other way round.
func compareReuse(withMemo, full, prev *model.Config) string {
	if prev == nil {
		return ""
	}
	cm, cf, cp := reflect.ValueOf(withMemo).Elem(), reflect.ValueOf(full).Elem(), reflect.ValueOf(prev).Elem()
	for f := range cf.NumField() {
		if cf.Field(f).Kind() != reflect.Slice {
			continue
		}
		prevPtrs := map[uintptr]bool{}
		for i := range cp.Field(f).Len() {
			prevPtrs[cp.Field(f).Index(i).Pointer()] = true
		}
		for i := range cf.Field(f).Len() {
			a, b := prevPtrs[cf.Field(f).Index(i).Pointer()], prevPtrs[cm.Field(f).Index(i).Pointer()]
			if a != b {
				return fmt.Sprintf("%s[%d]: previous entity taken by the full parse: %v, with the memo: %v", cf.Type().Field(f).Name, i, a, b)
			}
		}
	}
	return ""
}

// chainStats counts what a chain exercised.
type chainStats struct {
	accepted, rejected, reused int
}

// runMemoChain applies the edits ops to a configuration drawn from seed,
// parses each step both ways and fails at the first difference.
func runMemoChain(t testing.TB, seed int64, ops []byte) chainStats {
	var st chainStats
	r := rand.New(rand.NewSource(seed))
	forgetMemo()
	c := newDiffConfig(r)
	var prev *model.Config
	accepted := c.clone()
	for step := 0; step <= len(ops); step++ {
		if step > 0 {
			c.mutate(r, int(ops[step-1]))
		}
		data := c.render()
		now := fixedNow.Add(time.Duration(step) * 1500 * time.Millisecond) // a reload later
		withMemo, errMemo := diffParse(data, prev, now)
		restore := setAsideMemo()
		full, errFull := diffParse(data, prev, now)
		restore()

		if a, b := errorText(errMemo), errorText(errFull); a != b {
			t.Fatalf("seed %d step %d: errors differ\nwith the memo: %s\nfull parse:    %s\nconfig: %s", seed, step, a, b, data)
		}
		if errMemo != nil {
			st.rejected++
			// the memo must still describe prev; most of the time the
			// next edit starts again from the last accepted config (an
			// error an edit made stays until another edit undoes it)
			if r.Intn(4) != 0 {
				c = accepted.clone()
			}
			continue
		}
		st.accepted++
		st.reused += countReused(withMemo, prev)
		if !reflect.DeepEqual(withMemo, full) {
			t.Fatalf("seed %d step %d: the parse with the memo differs from the full parse\nconfig: %s\n%s", seed, step, data, diffConfigs(withMemo, full))
		}
		if d := compareReuse(withMemo, full, prev); d != "" {
			t.Fatalf("seed %d step %d: %s\nconfig: %s", seed, step, d, data)
		}
		prev = withMemo
		accepted = c.clone()
	}
	return st
}

// countReused counts the entities of cfg taken from prev.
func countReused(cfg, prev *model.Config) int {
	if prev == nil {
		return 0
	}
	n := 0
	cv, pv := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(prev).Elem()
	for f := range cv.NumField() {
		if cv.Field(f).Kind() != reflect.Slice {
			continue
		}
		ptrs := map[uintptr]bool{}
		for i := range pv.Field(f).Len() {
			ptrs[pv.Field(f).Index(i).Pointer()] = true
		}
		for i := range cv.Field(f).Len() {
			if ptrs[cv.Field(f).Index(i).Pointer()] {
				n++
			}
		}
	}
	return n
}

// diffConfigs names the first entity that differs.
func diffConfigs(a, b *model.Config) string {
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for f := range av.NumField() {
		x, y := av.Field(f), bv.Field(f)
		if reflect.DeepEqual(x.Interface(), y.Interface()) {
			continue
		}
		if x.Kind() == reflect.Slice && x.Len() == y.Len() {
			for i := range x.Len() {
				if !reflect.DeepEqual(x.Index(i).Interface(), y.Index(i).Interface()) {
					ja, _ := json.Marshal(x.Index(i).Interface())
					jb, _ := json.Marshal(y.Index(i).Interface())
					return fmt.Sprintf("%s[%d]:\nwith the memo: %s\nfull parse:    %s", av.Type().Field(f).Name, i, ja, jb)
				}
			}
		}
		ja, _ := json.Marshal(x.Interface())
		jb, _ := json.Marshal(y.Interface())
		return fmt.Sprintf("%s:\nwith the memo: %s\nfull parse:    %s", av.Type().Field(f).Name, ja, jb)
	}
	return "(no field differs)"
}

func TestMemoDifferentialChains(t *testing.T) {
	if !modelValidates() {
		t.Skip("model validation not available")
	}
	steps := 40
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	var total chainStats
	for seed := range int64(seeds) {
		r := rand.New(rand.NewSource(seed + 1000))
		ops := make([]byte, steps)
		for i := range ops {
			ops[i] = byte(r.Intn(256))
		}
		st := runMemoChain(t, seed, ops)
		total.accepted += st.accepted
		total.rejected += st.rejected
		total.reused += st.reused
	}
	t.Logf("%d configs accepted, %d rejected, %d entities taken from the previous config", total.accepted, total.rejected, total.reused)
	// the chains must exercise both outcomes and the reuse
	if total.accepted < total.rejected || total.rejected == 0 || total.reused < 10*total.accepted {
		t.Errorf("the chains do not exercise the memo enough: %+v", total)
	}
}

// TestMemoRejectedDoesNotPoison: a rejected config between two valid ones
// leaves the memo of the last accepted one, and the next parse is the full
// parse's.
func TestMemoRejectedDoesNotPoison(t *testing.T) {
	if !modelValidates() {
		t.Skip("model validation not available")
	}
	// op 8 injects a duplicate or dangling reference (rejected), the
	// following edits are valid
	for seed := range int64(20) {
		st := runMemoChain(t, seed, []byte{8, 0, 8, 7, 8, 2, 35, 5, 8, 3})
		if st.rejected < 4 {
			t.Fatalf("seed %d: %d configs rejected; want the 4 injected", seed, st.rejected)
		}
	}
}

func FuzzMemoDifferential(f *testing.F) {
	f.Add(int64(1), []byte{0, 1, 2, 3})
	f.Add(int64(2), []byte{8, 7, 8, 19, 6, 5})
	f.Add(int64(3), []byte{3, 10, 4, 9, 11, 14, 15, 16})
	f.Fuzz(func(t *testing.T, seed int64, ops []byte) {
		if len(ops) > 30 {
			ops = ops[:30]
		}
		runMemoChain(t, seed, ops)
	})
}

// TestMemoPluginSetChange: the memo of a parse made with one plugin set is
// not used by a parse with another (a plugin's config defaults and
// validation come from the set).
func TestMemoPluginSetChange(t *testing.T) {
	if !modelValidates() {
		t.Skip("model validation not available")
	}
	src := []byte(`{"_format_version":"3.0","services":[{"name":"s","host":"h","plugins":[{"name":"rate-limiting","config":{"minute":5}}]}]}`)
	forgetMemo()
	prev, err := Parse(src, testOpts()) // no plugin schemas: config as written
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts()
	opts.Plugins = lookupPlugins
	opts.Previous = prev
	withMemo, errMemo := Parse(src, opts)
	forgetMemo()
	full, errFull := Parse(src, opts)
	if errorText(errMemo) != errorText(errFull) {
		t.Fatalf("errors differ: with the memo %v, full %v", errMemo, errFull)
	}
	if !reflect.DeepEqual(withMemo, full) {
		t.Fatalf("the parse with the memo differs from the full parse\n%s", diffConfigs(withMemo, full))
	}
}

// TestMemoOneTimestampWritten: a service with updated_at written and no
// created_at gets the load time as created_at on every parse without the
// memo (reusePrevious keeps a stamped entity as parsed); with the memo too.
func TestMemoOneTimestampWritten(t *testing.T) {
	if !modelValidates() {
		t.Skip("model validation not available")
	}
	src := []byte(`{"_format_version":"3.0","services":[{"name":"s","host":"h","updated_at":1600000001},{"name":"t","host":"h"}]}`)
	forgetMemo()
	prev, err := diffParse(src, nil, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	later := fixedNow.Add(time.Minute)
	withMemo, err := diffParse(src, prev, later)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := withMemo.Services[0].CreatedAt, later.Unix(); got != want {
		t.Errorf("created_at %d; want the load time %d, as without the memo", got, want)
	}
	if withMemo.Services[1] != prev.Services[1] {
		t.Error("the unstamped unchanged service was not taken from the previous config")
	}
}
