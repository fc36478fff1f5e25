package snapshot

import (
	"errors"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// Entities indexes the consumers and key-auth credentials of one
// configuration for auth plugins (it implements plugin.Entities). Each index
// is reused by pointer from the previous snapshot when its entities are the
// same pointers.
type Entities struct {
	consumers *consumerIndex
	keys      *credIndex[model.KeyAuthCredential]
	basic     *credIndex[model.BasicAuthCredential]
	hmacs     *credIndex[model.HMACAuthCredential]
	jwts      *credIndex[model.JWTSecret]
	oauth2    *credIndex[model.OAuth2Credential]
	oauth2IDs *credIndex[model.OAuth2Credential]
	acls      *aclIndex
}

// credIndex finds the credentials of one kind by their lookup key (a
// key-auth key, a basic-auth or hmac-auth username, a jwt key).
type credIndex[T any] struct {
	src []*T
	by  map[string]*T
}

// indexCreds returns prev when the kind's credentials are the same
// pointers as those it indexed, else a new index of src by key.
func indexCreds[T any](prev *credIndex[T], src []*T, key func(*T) string) *credIndex[T] {
	if prev != nil && samePointers(prev.src, src) {
		return prev
	}
	ix := &credIndex[T]{src: src, by: make(map[string]*T, len(src))}
	for _, c := range src {
		ix.by[key(c)] = c
	}
	return ix
}

type aclIndex struct {
	src        []*model.ACL
	byConsumer map[string][]string
}

type consumerIndex struct {
	src        []*model.Consumer
	byID       map[string]*model.Consumer
	byUsername map[string]*model.Consumer
}

// Consumer finds a consumer by id, then by username.
func (e *Entities) Consumer(idOrUsername string) *model.Consumer {
	if c := e.consumers.byID[idOrUsername]; c != nil {
		return c
	}
	return e.consumers.byUsername[idOrUsername]
}

// KeyAuthCredential finds a key-auth credential by key.
func (e *Entities) KeyAuthCredential(key string) *model.KeyAuthCredential {
	return e.keys.by[key]
}

// BasicAuthCredential finds a basic-auth credential by username.
func (e *Entities) BasicAuthCredential(username string) *model.BasicAuthCredential {
	return e.basic.by[username]
}

// JWTSecret finds a jwt secret by key.
func (e *Entities) JWTSecret(key string) *model.JWTSecret { return e.jwts.by[key] }

// HMACAuthCredential finds an hmac-auth credential by username.
func (e *Entities) HMACAuthCredential(username string) *model.HMACAuthCredential {
	return e.hmacs.by[username]
}

// OAuth2Credential finds an oauth2 credential by client_id.
func (e *Entities) OAuth2Credential(clientID string) *model.OAuth2Credential {
	return e.oauth2.by[clientID]
}

// OAuth2CredentialByID finds an oauth2 credential by id.
func (e *Entities) OAuth2CredentialByID(id string) *model.OAuth2Credential {
	return e.oauth2IDs.by[id]
}

// ConsumerGroups returns a consumer's acl groups in configuration order.
func (e *Entities) ConsumerGroups(consumerID string) []string { return e.acls.byConsumer[consumerID] }

// KeyAuthIndexLen is the number of indexed key-auth credentials.
func (e *Entities) KeyAuthIndexLen() int { return len(e.keys.by) }

func samePointers[T any](a, b []*T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func buildEntities(prev *Entities, cfg *model.Config) *Entities {
	e := &Entities{}
	if prev != nil && samePointers(prev.consumers.src, cfg.Consumers) {
		e.consumers = prev.consumers
	} else {
		ci := &consumerIndex{src: cfg.Consumers, byID: make(map[string]*model.Consumer, len(cfg.Consumers)),
			byUsername: make(map[string]*model.Consumer, len(cfg.Consumers))}
		for _, c := range cfg.Consumers {
			ci.byID[c.ID] = c
			if c.Username != nil {
				ci.byUsername[*c.Username] = c
			}
		}
		e.consumers = ci
	}
	var pk *credIndex[model.KeyAuthCredential]
	var pb *credIndex[model.BasicAuthCredential]
	var ph *credIndex[model.HMACAuthCredential]
	var pj *credIndex[model.JWTSecret]
	var po, poi *credIndex[model.OAuth2Credential]
	if prev != nil {
		pk, pb, ph, pj, po, poi = prev.keys, prev.basic, prev.hmacs, prev.jwts, prev.oauth2, prev.oauth2IDs
	}
	e.keys = indexCreds(pk, cfg.KeyAuthCredentials, func(k *model.KeyAuthCredential) string { return k.Key })
	e.basic = indexCreds(pb, cfg.BasicAuthCredentials, func(b *model.BasicAuthCredential) string { return b.Username })
	e.hmacs = indexCreds(ph, cfg.HMACAuthCredentials, func(h *model.HMACAuthCredential) string { return h.Username })
	e.jwts = indexCreds(pj, cfg.JWTSecrets, func(j *model.JWTSecret) string { return j.Key })
	e.oauth2 = indexCreds(po, cfg.OAuth2Credentials, func(o *model.OAuth2Credential) string { return o.ClientID })
	e.oauth2IDs = indexCreds(poi, cfg.OAuth2Credentials, func(o *model.OAuth2Credential) string { return o.ID })
	if prev != nil && samePointers(prev.acls.src, cfg.ACLs) {
		e.acls = prev.acls
	} else {
		ai := &aclIndex{src: cfg.ACLs, byConsumer: map[string][]string{}}
		for _, a := range cfg.ACLs {
			if a.Consumer == nil {
				continue
			}
			ai.byConsumer[a.Consumer.ID] = append(ai.byConsumer[a.Consumer.ID], a.Group)
		}
		e.acls = ai
	}
	return e
}

type scopeKey struct{ route, service string }

// buildChains builds every enabled plugin entity once and compiles the
// chain of each route (by route id; routes without plugins are absent).
//
// A plugin whose New fails, or whose name is not available, is logged: a
// global one is skipped, a scoped one makes the requests it applies to
// answer 500 (Kong's "An unexpected error occurred").
func buildChains(cfg *model.Config, env *Env, ents *Entities) (map[string]*plugin.Chain, []*plugin.Instance) {
	if len(cfg.Plugins) == 0 {
		return nil, nil
	}
	lookup := env.Plugins
	if lookup == nil {
		lookup = plugin.Lookup
	}
	log := env.logger()
	groups := map[scopeKey][]*plugin.Instance{}
	var all []*plugin.Instance
	for _, p := range cfg.Plugins {
		if !p.Enabled {
			continue
		}
		var in *plugin.Instance
		def, ok := lookup(p.Name)
		if !ok {
			in = &plugin.Instance{Entity: p, Scope: plugin.ScopeOf(p), Err: errors.New("plugin not available"),
				Def: &plugin.Definition{Name: p.Name}}
		} else if built, err := withSecrets(p, def, env.secrets(cfg)); err != nil {
			in = &plugin.Instance{Entity: p, Scope: plugin.ScopeOf(p), Err: err, Def: def}
		} else {
			in = plugin.NewInstance(built, def, plugin.Deps{PluginID: p.ID, Plugin: p, Logger: log.With("plugin", p.Name, "plugin_id", p.ID),
				Entities: ents, State: env.State, Redis: env.Redis, Cluster: env.Cluster})
			in.Entity = p
		}
		all = append(all, in)
		if in.Err != nil {
			if in.Scope == 0 {
				log.Error("global plugin disabled: its configuration cannot be used", "plugin", p.Name, "plugin_id", p.ID, "error", in.Err)
				continue
			}
			log.Error("plugin cannot be built: the entities it is attached to answer 500", "plugin", p.Name, "plugin_id", p.ID, "error", in.Err)
		}
		var k scopeKey
		if p.Route != nil {
			k.route = p.Route.ID
		}
		if p.Service != nil {
			k.service = p.Service.ID
		}
		groups[k] = append(groups[k], in)
	}
	chains := make(map[string]*plugin.Chain, len(cfg.Routes))
	byService := map[string]*plugin.Chain{} // routes without route-level plugins share
	for _, r := range cfg.Routes {
		sid := ""
		if r.Service != nil {
			sid = r.Service.ID
		}
		rs, ro := groups[scopeKey{r.ID, sid}], groups[scopeKey{r.ID, ""}]
		if sid == "" {
			rs = nil
		}
		shared := len(rs) == 0 && len(ro) == 0
		if shared {
			if ch, ok := byService[sid]; ok {
				if ch != nil {
					chains[r.ID] = ch
				}
				continue
			}
		}
		var svc []*plugin.Instance
		if sid != "" {
			svc = groups[scopeKey{"", sid}]
		}
		ch := compose(rs, ro, svc, groups[scopeKey{}])
		if shared {
			byService[sid] = ch
		}
		if ch != nil {
			chains[r.ID] = ch
		}
	}
	return chains, all
}

// Plugin instances are closed (plugin.Closer) once no snapshot holds them
// and no request can still run them:
//
//   - every snapshot holds a reference on each of its instances (a map of
//     counts, so that an instance shared by two snapshots is closed with the
//     last one);
//   - a snapshot gives its references back when the garbage collector finds
//     it unreachable (runtime.AddCleanup). The proxy keeps the snapshot it
//     loaded for the whole request, log phase included, so an unreachable
//     snapshot has no request in flight: nothing can call a closed instance.
//     A Chain must not be used without its Snapshot being reachable.
//   - ClosePlugins gives them back at once (shutdown, tests).
//
// Instances sharing a resource keyed by configuration (file-log writers,
// http-log queues) count their own references, so closing a replaced
// instance does not stop the resource that an identical instance of the new
// snapshot uses. Close runs on the runtime's cleanup goroutine: it must not
// block (the log plugins signal their worker and return).
var (
	heldMu sync.Mutex
	held   = map[*plugin.Instance]int{}
)

// pluginHold is a snapshot's references on its instances.
type pluginHold struct {
	instances []*plugin.Instance
	released  atomic.Bool
}

// holdPlugins takes the snapshot's references and arranges for them to be
// given back when s is collected.
func holdPlugins(s *Snapshot, instances []*plugin.Instance) {
	if len(instances) == 0 {
		return
	}
	h := &pluginHold{instances: instances}
	heldMu.Lock()
	for _, in := range instances {
		held[in]++
	}
	heldMu.Unlock()
	s.plugins = h
	runtime.AddCleanup(s, (*pluginHold).release, h)
}

// release gives the references back once and closes the instances no
// other snapshot holds.
func (h *pluginHold) release() {
	if h.released.Swap(true) {
		return
	}
	var closing []*plugin.Instance
	heldMu.Lock()
	for _, in := range h.instances {
		n, ok := held[in]
		if !ok {
			continue // closed by CloseAllPlugins
		}
		if n <= 1 {
			delete(held, in)
			closing = append(closing, in)
		} else {
			held[in] = n - 1
		}
	}
	heldMu.Unlock()
	for _, in := range closing {
		in.Close()
	}
}

// CloseAllPlugins closes every plugin instance some snapshot still holds,
// without waiting for the snapshots to be collected: for a graceful stop,
// once no request runs any more, so that the log plugins write and send
// what they have queued. Snapshots collected afterwards close nothing.
func CloseAllPlugins() {
	heldMu.Lock()
	all := make([]*plugin.Instance, 0, len(held))
	for in := range held {
		all = append(all, in)
	}
	clear(held)
	heldMu.Unlock()
	for _, in := range all {
		in.Close()
	}
}

// HeldInstances is the number of plugin instances that some snapshot still
// holds (for tests and diagnostics).
func HeldInstances() int {
	heldMu.Lock()
	defer heldMu.Unlock()
	return len(held)
}

// ClosePlugins gives back the snapshot's references on its plugin
// instances now, closing those no other snapshot holds (process shutdown).
// Call it only when no request uses the snapshot any more; calling it
// again, or the collection of the snapshot afterwards, does nothing.
// Counters kept in Env.State are not affected.
func (s *Snapshot) ClosePlugins() {
	if s.plugins != nil {
		s.plugins.release()
	}
}

// EachTargetHealth calls yield for every address of every target of the
// snapshot's upstreams, sorted by upstream name, with Kong's health states
// in lower case (healthchecks_off, healthy, unhealthy; dns_error with an
// empty address for a target that resolved to none), as Kong's prometheus
// exporter reports kong_upstream_target_health.
func (s *Snapshot) EachTargetHealth(yield func(upstream, target, address, state string)) {
	names := make([]string, 0, len(s.Balancers))
	for n := range s.Balancers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, th := range s.Balancers[n].Health() {
			if len(th.Addresses) == 0 {
				yield(n, th.Target, "", "dns_error")
				continue
			}
			for _, a := range th.Addresses {
				yield(n, th.Target, a.IP+":"+strconv.Itoa(a.Port), strings.ToLower(a.Health))
			}
		}
	}
}

// compose applies Kong's precedence to the instances that can apply to one
// route: per plugin name, the most specific scope wins; consumer-scoped
// instances win for their consumer only when more specific than the base.
func compose(lists ...[]*plugin.Instance) *plugin.Chain {
	type cand struct {
		e     plugin.Entry
		cRank map[string]int
	}
	byName := map[string]*cand{}
	for _, l := range lists {
		for _, in := range l {
			c := byName[in.Entity.Name]
			if c == nil {
				c = &cand{e: plugin.Entry{Name: in.Entity.Name, Priority: in.Def.Priority}}
				byName[in.Entity.Name] = c
			}
			r := in.Scope.Rank()
			if in.Scope&plugin.ScopeConsumer == 0 {
				if c.e.Base == nil || r < c.e.Base.Scope.Rank() {
					c.e.Base = in
				}
				continue
			}
			cid := in.Entity.Consumer.ID
			if c.e.Consumer == nil {
				c.e.Consumer = map[string]*plugin.Instance{}
				c.cRank = map[string]int{}
			}
			if old, ok := c.cRank[cid]; !ok || r < old {
				c.e.Consumer[cid], c.cRank[cid] = in, r
			}
		}
	}
	if len(byName) == 0 {
		return nil
	}
	entries := make([]plugin.Entry, 0, len(byName))
	for _, c := range byName {
		if c.e.Base != nil {
			br := c.e.Base.Scope.Rank()
			for cid, r := range c.cRank {
				if br < r {
					delete(c.e.Consumer, cid)
				}
			}
			if len(c.e.Consumer) == 0 {
				c.e.Consumer = nil
			}
		}
		entries = append(entries, c.e)
	}
	return plugin.NewChain(entries)
}

// retainState drops the pooled state of plugin entities that left the
// configuration. Pool keys are "<plugin id>" or "<plugin id>/<suffix>".
func retainState(pool *plugin.StatePool, cfg *model.Config) {
	if pool == nil {
		return
	}
	alive := make(map[string]bool, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		alive[p.ID] = true
	}
	pool.Retain(func(k string) bool {
		if i := strings.IndexByte(k, '/'); i >= 0 {
			k = k[:i]
		}
		return alive[k]
	})
}

// withSecrets returns the plugin with the vault references of its config's
// referenceable fields resolved (a copy; p itself keeps the references the
// Admin API shows), or p when there are none.
func withSecrets(p *model.Plugin, def *plugin.Definition, secrets func(string) (string, error)) (*model.Plugin, error) {
	if secrets == nil || def.Schema == nil || p.Config == nil {
		return p, nil
	}
	cfg, changed, err := model.ResolveReferences(def.Schema.Fields, p.Config, secrets)
	if err != nil || !changed {
		return p, err
	}
	cp := *p
	cp.Config = cfg
	return &cp, nil
}
